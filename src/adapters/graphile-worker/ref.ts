import { expected } from '../../core/errors.js';
import type { JobRef } from '../../core/job-ref.js';

/** The `queue` of every graphile-worker job reference. */
export const GRAPHILE_WORKER_QUEUE = 'graphile-worker';

/** graphile-worker's job ids are `bigint` identity values; pg hands them over as strings. */
const JOB_ID = /^[1-9][0-9]{0,18}$/;
const MAX_BIGINT = 9_223_372_036_854_775_807n;

/**
 * The reference of a graphile-worker job, from the job itself (what
 * `addJob()` returns, `helpers.job`) or its id. Pass it to
 * `terminator.terminate()`.
 */
export function jobRef(job: { readonly id: string | number | bigint } | string | number | bigint): JobRef {
  const id = typeof job === 'object' && job !== null ? job.id : job;
  return { queue: GRAPHILE_WORKER_QUEUE, id: checkJobId(typeof id === 'string' ? id : String(id), 'job.id') };
}

/** The id of a graphile-worker job reference, checked before it reaches SQL. */
export function checkJobId(id: unknown, what = 'job.id'): string {
  if (typeof id !== 'string' || !JOB_ID.test(id) || BigInt(id) > MAX_BIGINT) {
    throw expected(what, 'a graphile-worker job id (a positive integer, as a string)', id);
  }
  return id;
}

/** graphile-worker's own limit on `job_key` (a check constraint on `_private_jobs.key`). */
const MAX_JOB_KEY_LENGTH = 512;

export function checkJobKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_JOB_KEY_LENGTH) {
    throw expected('jobKey', `a non-empty string of at most ${MAX_JOB_KEY_LENGTH} characters`, key);
  }
  return key;
}
