// Prints the demo's timeline: one row per event, `+12.345s  [gw-1]    text`,
// with the time since the demo started, which process it came from, and what
// happened. Colours only on a terminal, and never with NO_COLOR set.
const COLOURS: Record<string, number> = {
  demo: 1,
  pg: 90,
  'gw-1': 36,
  'gw-2': 32,
  'boss-1': 35,
  api: 33,
  cli: 34,
};

export type Tone = 'plain' | 'good' | 'bad' | 'dim' | 'strong';

const TONES: Record<Tone, number | undefined> = { plain: undefined, good: 32, bad: 31, dim: 2, strong: 1 };

export class Timeline {
  private readonly colour: boolean;
  private muted = false;

  constructor(
    readonly startedAt: number,
    private readonly out: NodeJS.WriteStream = process.stdout,
  ) {
    this.colour = Boolean(out.isTTY) && !process.env.NO_COLOR;
  }

  /** One row; `at` is when it happened (default now). */
  row(label: string, text: string, options: { at?: number; tone?: Tone } = {}): void {
    if (this.muted) return;
    const time = this.clock(options.at ?? Date.now()).padStart(9);
    const who = this.paint(`[${label}]`.padEnd(8), COLOURS[label] ?? 0);
    const body = options.tone ? this.paint(text, TONES[options.tone]) : text;
    this.write(`${this.paint(time, 2)}  ${who} ${body}`);
  }

  /** A moment as the timeline shows it: `+12.345s`. */
  clock(at: number): string {
    return `+${((at - this.startedAt) / 1000).toFixed(3)}s`;
  }

  /** A heading between the demo's steps. */
  section(title: string): void {
    if (this.muted) return;
    this.write('');
    this.write(this.paint(`── ${title} ${'─'.repeat(Math.max(0, 76 - title.length))}`, 1));
  }

  /** Text printed as it is (the summary table). */
  text(...lines: string[]): void {
    for (const line of lines) this.write(line);
  }

  paint(text: string, code: number | undefined): string {
    return this.colour && code ? `\x1b[${code}m${text}\x1b[0m` : text;
  }

  /** Stops printing rows (cleanup after Ctrl-C: what the dying processes say no longer matters). */
  mute(): void {
    this.muted = true;
  }

  unmute(): void {
    this.muted = false;
  }

  private write(line: string): void {
    this.out.write(`${line}\n`);
  }
}

/** A progress bar for the iterating job's live progress rows. */
export function bar(done: number, total: number, width = 24): string {
  const filled = Math.max(0, Math.min(width, Math.round((done / total) * width)));
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}
