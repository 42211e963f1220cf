import { expected, isStorableText } from './errors.js';

/**
 * Names one job. `queue` is the queue system (`'graphile-worker'`,
 * `'pg-boss'`, `'bullmq'`, or your own); `name` is the queue within it where
 * ids are only unique per queue (pg-boss, BullMQ).
 */
export interface JobRef {
  readonly queue: string;
  readonly id: string;
  readonly name?: string;
}

/** Longest queue, name or id jobterm accepts: far above any queue's own ids, small enough to index. */
export const MAX_REF_PART_LENGTH = 512;

/**
 * A reference an adapter built from a job the queue read out of PostgreSQL
 * (pg-boss's `job` row, graphile-worker's `jobs` row), or one whose text the
 * adapter checked as it built it (BullMQ's `bullmqRef`: Redis holds any
 * bytes). Text that came out of PostgreSQL is storable by construction (no
 * NUL, valid UTF-8), and the adapter made the object and never changes it,
 * so `validateJobRef()` takes it as it is: no scan, no copy. That was about
 * 900 instructions per job of a pg-boss batch (bench instructions), for a
 * check that cannot fail there. The class is not exported from the package:
 * a ref a user builds is always checked.
 */
export class StoredRef implements JobRef {
  // Declared, not a class field: a field would give every graphile-worker ref an own `name: undefined`.
  declare readonly name?: string;

  constructor(
    readonly queue: string,
    readonly id: string,
    name?: string,
  ) {
    if (name !== undefined) this.name = name;
  }
}

export function validateJobRef(ref: unknown, what = 'job'): JobRef {
  if (ref instanceof StoredRef) return ref;
  if (typeof ref !== 'object' || ref === null) throw expected(what, 'an object `{ queue, id, name? }`', ref);
  const { queue, id, name } = ref as Record<string, unknown>;
  // A queue and a queue name repeat on every job of a worker: the last good
  // one of each is remembered, so a job checks only its id (this runs for
  // every job: node --cpu-prof put 7% of a pg-boss batch handler's time in
  // the three scans; the instruction count moved by less than its noise).
  if (queue !== lastGoodQueue) lastGoodQueue = checkPart(what, 'queue', queue);
  checkPart(what, 'id', id);
  if (name !== undefined && name !== lastGoodName) lastGoodName = checkPart(what, 'name', name);
  return name === undefined
    ? { queue: queue as string, id: id as string }
    : { queue: queue as string, id: id as string, name: name as string };
}

let lastGoodQueue: string | undefined;
let lastGoodName: string | undefined;

/**
 * Whether `value` can be a queue, name or id of a reference: a non-empty
 * string of at most MAX_REF_PART_LENGTH characters that PostgreSQL stores as
 * given (no NUL, no unpaired surrogate). For adapters that build refs of
 * text they did not read from PostgreSQL (BullMQ's `bullmqRef`).
 */
export function isRefPart(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_REF_PART_LENGTH && isStorableText(value);
}

/** Returns `value` once it passes; the label (`job.id`) is built only for the error. */
function checkPart(what: string, part: string, value: unknown): string {
  if (isRefPart(value)) return value;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_REF_PART_LENGTH) {
    throw expected(`${what}.${part}`, `a non-empty string of at most ${MAX_REF_PART_LENGTH} characters`, value);
  }
  // Stored as text in kill_requests and progress: NUL would be refused there, a lone surrogate changed.
  throw expected(`${what}.${part}`, 'a string without NUL characters or unpaired surrogates', value);
}

/** Whether two references name the same job. */
export function sameRef(a: JobRef, b: JobRef): boolean {
  return a.id === b.id && a.queue === b.queue && a.name === b.name;
}

/** A stable map key for a reference. NUL cannot occur in a part, so keys never collide. */
export function refKey(ref: JobRef): string {
  return `${ref.queue}\0${ref.name ?? ''}\0${ref.id}`;
}

export function formatRef(ref: JobRef): string {
  return ref.name === undefined ? `${ref.queue}#${ref.id}` : `${ref.queue}/${ref.name}#${ref.id}`;
}
