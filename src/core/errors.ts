import { describeReason, type TerminationReason } from './reason.js';

/**
 * Thrown into (and by) a job that is being terminated. Check it with
 * {@link isJobTerminatedError}, which compares the `name`, so two copies of
 * jobterm in one process still agree.
 */
export class JobTerminatedError extends Error {
  override readonly name = 'JobTerminatedError' as const;
  readonly reason: TerminationReason;

  constructor(reason: TerminationReason, options?: ErrorOptions) {
    super(describeReason(reason), options);
    this.reason = reason;
  }
}

export function isJobTerminatedError(error: unknown): error is JobTerminatedError {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { name?: unknown }).name === 'JobTerminatedError' &&
    typeof (error as { reason?: unknown }).reason === 'object'
  );
}

/** A job reference, option or argument that is not what jobterm expects. Thrown before anything is written. */
export function expected(what: string, expectation: string, got: unknown): TypeError {
  return new TypeError(`Expected \`${what}\` to be ${expectation}, got ${show(got)}`);
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'an invalid Date' : `Date(${value.toISOString()})`;
  if (typeof value === 'object' && value !== null) {
    try {
      return JSON.stringify(value);
    } catch {
      return 'an object';
    }
  }
  return String(value);
}

/** Refuses options objects with keys jobterm does not know: a typo must not silently fall back to a default. */
export function checkKnownKeys(what: string, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new TypeError(`Unknown option \`${key}\` in \`${what}\`: expected one of ${known.join(', ')}`);
    }
  }
}

/**
 * Whether PostgreSQL stores `text` exactly as given: it refuses NUL
 * (`invalid byte sequence for encoding "UTF8": 0x00`), and a lone surrogate
 * would be turned into U+FFFD on the way (so a job id would no longer match).
 */
export function isStorableText(text: string): boolean {
  // Most text has neither NUL nor any surrogate: one plain scan answers. Only
  // text with a surrogate needs the Unicode-aware test (pairs are fine).
  return !MAYBE_UNSTORABLE.test(text) || !UNSTORABLE.test(text);
}

// Without `u`, a character class matches UTF-16 code units: any surrogate, paired or not.
const MAYBE_UNSTORABLE = /[\0\uD800-\uDFFF]/;
// In a `u` regex a surrogate pair is one code point, so \p{Cs} matches only unpaired halves.
const UNSTORABLE = /[\0\p{Cs}]/u;

/**
 * Checks a string that will be written to a database: a string of at most
 * `max` characters (non-empty unless `allowEmpty`), without NUL or lone
 * surrogates. Returns it unchanged.
 */
export function checkText(what: string, value: unknown, max: number, allowEmpty = false): string {
  if (typeof value !== 'string' || (!allowEmpty && value.length === 0) || value.length > max) {
    throw expected(what, `a ${allowEmpty ? '' : 'non-empty '}string of at most ${max} characters`, value);
  }
  if (!isStorableText(value)) {
    throw expected(
      what,
      'a string without NUL characters or unpaired surrogates (PostgreSQL cannot store them)',
      value,
    );
  }
  return value;
}
