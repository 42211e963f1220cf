import { expected, isStorableText } from '../../core/errors.js';
import { isRefPart, type JobRef, MAX_REF_PART_LENGTH, StoredRef } from '../../core/job-ref.js';

/** The `queue` of every BullMQ job reference: `{ queue: 'bullmq', name: <queue name>, id }`. */
export const BULLMQ_QUEUE = 'bullmq';

/**
 * BullMQ reuses custom `jobId`s: once a job is removed (`removeOnComplete`,
 * `removeOnFail`, `remove()`), `queue.add(name, data, { jobId })` makes a new
 * job under the same id. So jobterm names a BullMQ job by its id *and* its
 * creation `timestamp`: `<id>@<timestamp>`. A kill stored for one job can
 * then never land on a later job that reuses its id; the same holds for
 * iterate()'s cursors. `terminate()` accepts the bare id and completes it
 * (the adapter's `canonicalRef`), reading the job's timestamp from Redis.
 */
export function bullmqRef(job: {
  readonly id?: string | undefined;
  readonly queueName: string;
  readonly timestamp: number;
}): JobRef {
  const jobId = job.id;
  if (jobId === undefined) throw expected('job.id', 'the id of a BullMQ job', job.id);
  const name = job.queueName;
  const id = `${jobId}@${timestampText(job.timestamp)}`;
  // Checked here, once per job: the ref is then a StoredRef, which
  // validateJobRef() takes without a second scan and a copy (core/job-ref.ts).
  // Text that would not pass goes on as a plain object, for validateJobRef()
  // to refuse with its own error naming the part.
  if (
    typeof jobId === 'string' &&
    id.length <= MAX_REF_PART_LENGTH &&
    (name === lastGoodName || storableName(name)) &&
    isStorableText(jobId)
  ) {
    return new StoredRef(BULLMQ_QUEUE, id, name);
  }
  return { queue: BULLMQ_QUEUE, name, id };
}

/** A worker's queue name, the same for all its jobs: the last one that passed is remembered. */
let lastGoodName: string | undefined;

function storableName(name: unknown): boolean {
  if (!isRefPart(name)) return false;
  lastGoodName = name;
  return true;
}

/**
 * `String(timestamp)`, for BullMQ's creation time in ms. A ms timestamp is
 * above V8's small-integer range, so `String()` prints it as a double with
 * the shortest-round-trip algorithm (FastDtoa: ~900 instructions per job,
 * bench/workers/bullmq-processor-count.mjs); its two halves are small
 * integers, printed with plain integer code. Anything else (a fraction, out
 * of range) is printed by `String()`.
 */
export function timestampText(timestamp: number): string {
  if (timestamp >= 1e8 && timestamp <= Number.MAX_SAFE_INTEGER && Number.isInteger(timestamp)) {
    const high = Math.floor(timestamp / 1e8);
    // 1e8 + the low eight digits: nine digits whose first is 1, dropped to keep the leading zeros.
    return `${high}${String(timestamp - high * 1e8 + 1e8).slice(1)}`;
  }
  return String(timestamp);
}

/** Splits a reference's id into BullMQ's job id and, when the id carries one, the job's timestamp. */
export function splitId(id: string): { jobId: string; timestamp: number | undefined } {
  const at = id.lastIndexOf('@');
  if (at > 0 && /^\d{1,16}$/.test(id.slice(at + 1))) {
    return { jobId: id.slice(0, at), timestamp: Number(id.slice(at + 1)) };
  }
  return { jobId: id, timestamp: undefined };
}

/**
 * Checks a reference against BullMQ's own rules for ids (6.7's
 * `Job.validateOptions`): an integer from the queue's counter, or a custom id
 * that has no `:` (except BullMQ's own three-part repeat ids).
 */
export function checkBullmqRef(ref: JobRef): { name: string; jobId: string; timestamp: number | undefined } {
  if (ref.name === undefined) {
    throw expected('job.name', "the BullMQ queue name (`{ queue: 'bullmq', name, id }`)", ref.name);
  }
  if (ref.name.length > MAX_REF_PART_LENGTH || ref.name.includes(':')) {
    throw expected('job.name', 'a BullMQ queue name (no `:`)', ref.name);
  }
  const { jobId, timestamp } = splitId(ref.id);
  if (jobId.length === 0 || (jobId.includes(':') && jobId.split(':').length !== 3)) {
    throw expected('job.id', 'a BullMQ job id (a number, or a custom id without `:`)', ref.id);
  }
  return { name: ref.name, jobId, timestamp };
}
