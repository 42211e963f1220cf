// The hostile values every public entry point is swept with: wrong types,
// empty, huge (1 MB), NUL, unicode and SQL-fragment strings.
import fc from 'fast-check';

export const HUGE = 'x'.repeat(1 << 20);

export const SQL_FRAGMENTS = [
  "'; DROP TABLE jobterm.kill_requests; --",
  "' OR '1'='1",
  '"; DROP SCHEMA jobterm CASCADE; --',
  '$1',
  '\\',
  '1); DELETE FROM jobterm.kill_requests; --',
  "E'\\x00'",
] as const;

/** Strings a database or a shell may choke on. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constant(''),
  fc.constant(HUGE),
  fc.string().map((s) => `${s}\0${s}`),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(...SQL_FRAGMENTS),
  fc.string({ maxLength: 40 }),
);

/** Anything but a well-formed value: every JavaScript type, and the hostile strings. */
export const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, -0, 2 ** 53, 2 ** 31),
  fc.integer(),
  fc.double(),
  fc.bigInt(),
  fc.constant(Symbol('bad')),
  fc.constant(() => undefined),
  fc.constant(new Date(Number.NaN)),
  fc.array(fc.anything(), { maxLength: 3 }),
  fc.object({ maxDepth: 1 }),
  hostileString,
);

/**
 * Runs `fn`: it must either be accepted or throw a TypeError whose message
 * names `field` (in backquotes, as `expected()` and `checkKnownKeys()` write
 * it). Returns whether it was accepted.
 */
export function acceptedOrNamed(fn: () => unknown, field: string): boolean {
  try {
    fn();
    return true;
  } catch (error) {
    assertNamed(error, field);
    return false;
  }
}

export async function acceptedOrNamedAsync(fn: () => Promise<unknown>, field: string): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (error) {
    assertNamed(error, field);
    return false;
  }
}

export function assertNamed(error: unknown, field: string): void {
  const name = (error as Error)?.name;
  const message = String((error as Error)?.message ?? error);
  if (name !== 'TypeError')
    throw new Error(`expected a TypeError naming \`${field}\`, got ${name}: ${message.slice(0, 300)}`);
  // `tasks.0`, `cursor[0]` or `source item` name a part of `tasks`, `cursor` or `source`.
  if (!new RegExp(`\`${field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[\` .[]`).test(message))
    throw new Error(`expected the TypeError to name \`${field}\`, got: ${message.slice(0, 300)}`);
  // A 1 MB input must not come back whole in the message.
  if (message.length > 2_000) throw new Error(`an error message of ${message.length} characters`);
}
