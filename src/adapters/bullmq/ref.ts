import { expected } from '../../core/errors.js';
import { type JobRef, MAX_REF_PART_LENGTH } from '../../core/job-ref.js';

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
  if (job.id === undefined) throw expected('job.id', 'the id of a BullMQ job', job.id);
  return { queue: BULLMQ_QUEUE, name: job.queueName, id: `${job.id}@${job.timestamp}` };
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
