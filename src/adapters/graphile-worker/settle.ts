import type { Job, WithPgClient } from 'graphile-worker';
import type { JobOutcome } from '../../core/outcome.js';
import { retryWhileUnreachable } from '../../core/queue-write.js';
import { describeReason } from '../../core/reason.js';
import { PutBackBatch, type PutBackEntry } from './put-back-batch.js';
import type { GraphileSql } from './sql.js';

/** Which write jobterm made for a job's ending, so the task can tell graphile the same story. */
export type Written = 'none' | 'ended' | 'put_back' | 'refunded' | 'completed' | 'failed';

export interface SettleTarget {
  readonly sql: GraphileSql;
  readonly withPgClient: WithPgClient;
  readonly job: Job;
  /** graphile's `locked_by`: the id of the pool that claimed the job. */
  readonly poolId: string;
  /** True once that pool stopped fetching jobs (known only under the plugin). */
  poolStopped(): boolean;
}

/**
 * Writes jobterm's decision into graphile's tables before the task returns to
 * graphile. graphile's own write follows (the task returns or throws): its
 * fail write is `... where locked_by = <pool>`, so it finds nothing once
 * jobterm unlocked the job, and after `refunded` it only unlocks
 * (graphile-worker 0.18, `sql/failJobs.ts`; the batched variant has the same
 * condition).
 *
 * - `terminated` (kill): ended for good, `attempts = max_attempts`, never retried.
 * - `interrupted` and resumable (shutdown, or an iteration that saved its
 *   cursor): back in the queue at once (or after its `retryDelay`) with its
 *   attempt refunded, when the pool no longer fetches (the put-backs of one
 *   pool within one turn, a shutdown's, in one statement); otherwise only the
 *   attempt is refunded and graphile's fail write unlocks it (adding its
 *   retry delay), so the pool cannot claim it again before that write lands
 *   and have it undone.
 * - `completed`, `failed`, and a `timeout` that is not resumable: graphile's
 *   own write, its retry rules included. While the pool shuts down, jobterm
 *   makes that same write itself and awaits it: graphile fires it without
 *   awaiting it (`worker.ts`), so a process that exits when the shutdown ends
 *   could cut it and leave the job locked for 4 hours.
 */
export function writeOutcome(outcome: JobOutcome, target: SettleTarget): Promise<Written> | undefined {
  // The hot path: a job that ends on its own while its pool runs needs no
  // write of jobterm's, and no promise is made for it.
  if ((outcome.status === 'completed' || outcome.status === 'failed') && !target.poolStopped()) return undefined;
  const { sql, job, poolId } = target;
  const id = String(job.id);
  switch (outcome.status) {
    case 'terminated':
      return run(target, sql.endForGood, [id, describeReason(outcome.reason), poolId], 'ended');
    case 'interrupted': {
      if (!outcome.resumable) return failAsGraphile(target, describeReason(outcome.reason), null);
      const delay = Math.round(outcome.retryDelay ?? 0);
      if (target.poolStopped()) return putBack(target, { id, message: describeReason(outcome.reason), delay });
      return run(target, sql.refundAttempt, [id, poolId, delay], 'refunded');
    }
    case 'failed':
      return failAsGraphile(target, graphileMessage(outcome.error), null);
    case 'completed':
      return completeAsGraphile(target, outcome.value);
  }
}

/**
 * A stopped pool's put-back, in one statement with the other put-backs of the
 * same pool and turn (a shutdown's: put-back-batch.ts), or alone with the
 * single statement when it came alone.
 */
async function putBack(target: SettleTarget, entry: PutBackEntry): Promise<Written> {
  if (await PutBackBatch.add(target, entry)) return 'put_back';
  return run(target, target.sql.putBack, [entry.id, entry.message, target.poolId, entry.delay], 'put_back');
}

async function completeAsGraphile(target: SettleTarget, value: unknown): Promise<Written> {
  const { job } = target;
  // A batch job (array payload) may return one promise per entry; graphile
  // fails the job with only the rejected entries left (worker.ts, 0.18).
  if (Array.isArray(job.payload) && Array.isArray(value) && value.length === job.payload.length) {
    const results = await Promise.allSettled(value);
    const failed: unknown[] = [];
    const errors: unknown[] = [];
    results.forEach((result, index) => {
      if (result.status === 'rejected') {
        failed.push((job.payload as unknown[])[index]);
        errors.push(result.reason);
      }
    });
    if (failed.length > 0) {
      const message = `Batch failures:\n${errors.map((e) => (e as { message?: string })?.message ?? String(e)).join('\n')}`;
      return (await failAsGraphile(target, message, failed)) ?? 'none';
    }
  }
  return run(target, target.sql.complete, [String(job.id), target.poolId], 'completed');
}

function failAsGraphile(
  target: SettleTarget,
  message: string,
  payload: unknown[] | null,
): Promise<Written> | undefined {
  if (!target.poolStopped()) return undefined;
  const values = [String(target.job.id), message, target.poolId, payload === null ? null : JSON.stringify(payload)];
  return run(target, target.sql.fail, values, 'failed');
}

/** The `last_error` graphile writes for a thrown value (its `coerceError`, then message or string). */
function graphileMessage(error: unknown): string {
  const coerced =
    error instanceof Error
      ? error
      : new Error(
          typeof error === 'object' && error !== null && 'message' in error
            ? String(error.message)
            : 'An error occurred',
        );
  return coerced.message || String(coerced) || 'Non error or error without message thrown.';
}

async function run(target: SettleTarget, text: string, values: unknown[], written: Written): Promise<Written> {
  // Plain withPgClient, not graphile's withRetries: that one backs off for
  // minutes, yet does not retry a refused connection (graphile-worker 0.18,
  // RETRYABLE_ERROR_CODES has no ECONNREFUSED nor 57P01). jobterm's retry
  // covers a restart (bounded, see core/queue-write.ts): given up, the job
  // would stay locked by this pool for 4 hours, and graphile's own write that
  // follows (unawaited, worker.ts) would be an unhandled rejection.
  // A retry after a commit whose answer was lost changes nothing more:
  // endForGood writes the same values again, and complete, fail and putBack
  // (and putBackMany, put-back-batch.ts) match `locked_by` = this pool, which
  // they cleared. Only refundAttempt
  // would take a second attempt back, a rare error in the job's favour.
  await retryWhileUnreachable(() => target.withPgClient((client) => client.query(text, values)));
  return written;
}
