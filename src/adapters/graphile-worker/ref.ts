import { checkText, expected } from '../../core/errors.js';
import type { JobRef } from '../../core/job-ref.js';

/** The `queue` of every graphile-worker job reference. */
export const GRAPHILE_WORKER_QUEUE = 'graphile-worker';

/** graphile-worker's job ids are `bigint` identity values; pg hands them over as strings. */
const JOB_ID = /^[1-9][0-9]{0,18}$/;
/** What a user may write: leading zeros are dropped by {@link canonicalJobId}. */
const WRITTEN_JOB_ID = /^0*[1-9][0-9]{0,18}$/;
const MAX_BIGINT = 9_223_372_036_854_775_807n;
const EXPECTED_ID = 'a graphile-worker job id (a positive integer, as a string)';

/**
 * The reference of a graphile-worker job, from the job itself (what
 * `addJob()` returns, `helpers.job`) or its id. Pass it to
 * `terminator.terminate()`.
 */
export function jobRef(job: { readonly id: string | number | bigint } | string | number | bigint): JobRef {
  const id = typeof job === 'object' && job !== null ? job.id : job;
  return { queue: GRAPHILE_WORKER_QUEUE, id: canonicalJobId(typeof id === 'string' ? id : String(id), 'job.id') };
}

/** The id of a graphile-worker job reference, checked before it reaches SQL. */
export function checkJobId(id: unknown, what = 'job.id'): string {
  if (typeof id !== 'string' || !JOB_ID.test(id) || BigInt(id) > MAX_BIGINT) {
    throw expected(what, EXPECTED_ID, id);
  }
  return id;
}

/**
 * A job id as graphile-worker writes it (decimal, no leading zeros), from
 * however a user wrote it: `'007'` is job 7, whose token is keyed `'7'`.
 */
export function canonicalJobId(id: unknown, what = 'job.id'): string {
  if (typeof id !== 'string' || !WRITTEN_JOB_ID.test(id)) throw expected(what, EXPECTED_ID, id);
  return checkJobId(id.replace(/^0+/, ''), what);
}

/** graphile-worker's own limit on `job_key` (a check constraint on `_private_jobs.key`). */
const MAX_JOB_KEY_LENGTH = 512;

export function checkJobKey(key: unknown): string {
  return checkText('jobKey', key, MAX_JOB_KEY_LENGTH);
}
