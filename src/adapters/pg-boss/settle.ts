import type { Logger } from '../../core/logger.js';
import type { JobOutcome } from '../../core/outcome.js';
import { retryWhileUnreachable } from '../../core/queue-write.js';
import type { TerminationReason } from '../../core/reason.js';
import type { PutBackBatch } from './put-back-batch.js';
import { notifyChannelSchema, putBackSql, recordTerminationSql, terminationOutput, UNIQUE_VIOLATION } from './sql.js';
import type { PgBossJob, PgBossLike } from './types.js';

/**
 * pg-boss settles a batch after the handler returns, fenced on the
 * `retryCount` of the job objects it handed out (`state = 'active' AND
 * id:retry_count` in pg-boss 12's attempt fence). A job jobterm put back keeps
 * its `retry_count`, so its next claim carries the same attempt number, and
 * pg-boss's settle of the old attempt would land on the new one if another
 * worker claimed it in between. Moving the old object's `retryCount` to a
 * value no row can hold (the largest int4, far past any `retryLimit`) makes
 * that settle, the heartbeat and `stop()`'s fail match nothing.
 */
export const FENCED_OFF = 2_147_483_647;

/**
 * Who fails a job that jobterm decided failed (or timed out) for pg-boss:
 * - `pg-boss`: the wrapper throws (one job) or returns a `failed` disposition
 *   (`perJobResults`), and pg-boss fails it with its own retry rules;
 * - `timeouts`: a batch handler's result settles the batch, so only a job
 *   whose own token timed out needs failing here;
 * - `jobterm`: per-job results without `perJobResults`: each failure here.
 */
export type FailureSettler = 'pg-boss' | 'timeouts' | 'jobterm';

export interface SettleContext {
  readonly boss: PgBossLike;
  readonly schema: string;
  readonly logger: Logger;
  /** Collects the put-backs of one turn (a shutdown's) into one statement; absent: one statement per job. */
  readonly putBacks?: PutBackBatch;
}

/**
 * Writes one job's jobterm ending into pg-boss; awaited by `terminator.run()`
 * before the job leaves `running()`. Each statement is retried while the
 * database cannot be reached (core/queue-write.ts): given up, a job jobterm
 * ended would stay `active` until pg-boss's expiry fails and retries it.
 * Returns undefined, not a promise, when jobterm writes nothing (a
 * completion, a failure pg-boss records): the run then needs no extra turn.
 */
export function settleJob(
  ctx: SettleContext,
  job: PgBossJob,
  outcome: JobOutcome,
  failures: FailureSettler,
): Promise<void> | undefined {
  switch (outcome.status) {
    case 'completed':
      // pg-boss completes it with the handler's result.
      return undefined;
    case 'terminated':
      return cancelJob(ctx, job, outcome.reason);
    case 'interrupted':
      if (outcome.resumable) return putBack(ctx, job, outcome.reason, outcome.retryDelay ?? 0);
      if (failures !== 'pg-boss') return failJob(ctx, job, terminationOutput(outcome.reason));
      return undefined;
    case 'failed':
      if (failures === 'jobterm') return failJob(ctx, job, errorOutput(outcome.error));
      return undefined;
  }
}

/**
 * Ends the job for good through pg-boss's own `cancel()`: its tools show it
 * cancelled, and pg-boss's settle of this attempt (and a late `complete` or
 * `fail` from the handler) only touches `active` jobs, so it changes nothing.
 * Not fenced to this attempt: a kill ends the job whatever attempt it is on.
 */
async function cancelJob(ctx: SettleContext, job: PgBossJob, reason: TerminationReason): Promise<void> {
  // Both are safe to run twice: the output is rewritten, and cancel() only touches unfinished jobs.
  await retryWhileUnreachable(() =>
    ctx.boss
      .getDb()
      .executeSql(recordTerminationSql(ctx.schema), [job.name, job.id, JSON.stringify(terminationOutput(reason))]),
  );
  await retryWhileUnreachable(() => ctx.boss.cancel(job.name, job.id));
}

/**
 * Back in the queue without spending an attempt (see `putBackSql`), runnable
 * after `delay` ms (a throttled iteration) or at once; pg-boss's own settle
 * is fenced off.
 */
async function putBack(ctx: SettleContext, job: PgBossJob, reason: TerminationReason, delay: number): Promise<void> {
  const output = terminationOutput(reason);
  const batched = await ctx.putBacks?.add({ name: job.name, id: job.id, retryCount: job.retryCount, output, delay });
  if (batched !== undefined) {
    if (batched) job.retryCount = FENCED_OFF;
    return;
  }
  try {
    // Fenced on this attempt, so a retry after a lost answer matches nothing
    // (and leaves retryCount unfenced: the one edge a lost answer leaves).
    const { rows } = await retryWhileUnreachable(() =>
      ctx.boss
        .getDb()
        .executeSql(putBackSql(ctx.schema), [
          job.name,
          job.id,
          job.retryCount,
          JSON.stringify(output),
          notifyChannelSchema(ctx.schema),
          Math.max(0, Math.round(delay)),
        ]),
    );
    // No row: the job left this attempt already (pg-boss expired or failed
    // it, someone cancelled it); whatever did that decided its state.
    if (rows.length > 0) job.retryCount = FENCED_OFF;
  } catch (error) {
    if ((error as { code?: unknown })?.code !== UNIQUE_VIOLATION) throw error;
    // A `short` or `stately` queue already holds a queued job with this
    // singleton key, so this one cannot be queued beside it. pg-boss's own
    // fail still retries it (after its retry delay), spending an attempt.
    ctx.logger.warn(
      'could not put the interrupted job back (its queue policy holds another queued job with its key); failing it so pg-boss retries it',
      {
        queue: job.name,
        id: job.id,
      },
    );
    await failJob(ctx, job, output);
  }
}

/** pg-boss's own fail, fenced to this attempt: its retry rules apply. */
async function failJob(ctx: SettleContext, job: PgBossJob, data: object): Promise<void> {
  await retryWhileUnreachable(() => ctx.boss.fail(job.name, { id: job.id, retryCount: job.retryCount }, data));
}

/** What pg-boss stores for a thrown value: it serializes objects (errors keep name, message, stack) and wraps the rest. */
export function errorOutput(error: unknown): object {
  return typeof error === 'object' && error !== null ? error : { value: error };
}
