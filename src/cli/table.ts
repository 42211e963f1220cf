/** Longest cell shown; the rest is cut with an ellipsis (`--json` has everything). */
const MAX_CELL = 48;

/**
 * A plain left-aligned text table; control characters in cells are shown as
 * spaces so one row stays one line. Columns in `whole` are never cut: a job
 * reference there must stay pasteable into `jobterm terminate`.
 */
export function table(
  headers: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  whole: ReadonlySet<number> = NONE,
): string {
  const cells = rows.map((row) => row.map((value, i) => cell(value, whole.has(i))));
  const widths = headers.map((header, i) => Math.max(header.length, ...cells.map((row) => row[i]?.length ?? 0)));
  const line = (row: readonly string[]) =>
    row
      .map((value, i) => (i === row.length - 1 ? value : value.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n');
}

const NONE: ReadonlySet<number> = new Set();

function cell(value: string, whole: boolean): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point
  const flat = value.replace(/[\u0000-\u001f\u007f]/g, ' ');
  return !whole && flat.length > MAX_CELL ? `${flat.slice(0, MAX_CELL - 1)}…` : flat;
}
