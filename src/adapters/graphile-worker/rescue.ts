import type { RescueInput } from '../../core/adapter.js';
import type { JobRef } from '../../core/job-ref.js';
import type { RescueResult } from '../../core/presence.js';
import { describeReason } from '../../core/reason.js';
import type { Query } from './adapter.js';
import { GRAPHILE_WORKER_QUEUE, jobRef } from './ref.js';
import { quoteIdentifier } from './sql.js';

/**
 * Hands a dead worker's graphile-worker jobs back at once instead of after
 * graphile's 4-hour stale lock. In graphile-worker 0.18 a job's `locked_by`
 * is its pool's id (`workerPool.id`), which is what the worker reported as its
 * queue ids, and `force_unlock_workers(worker_ids)` (public, migration 000011)
 * clears `locked_by`/`locked_at` on `_private_jobs` and `_private_job_queues`
 * for those ids. The attempt graphile counted when the job was claimed stays
 * spent, as for any crash.
 *
 * A job with an open kill request is ended for good first (`attempts =
 * max_attempts` and `last_error` on `_private_jobs`, the same private columns
 * as a kill of a running job), still locked, so no pool can claim it between
 * the two statements. Both statements only touch rows locked by the dead
 * pools, which can claim nothing more: repeating a rescue is harmless.
 */
export function makeGraphileRescue(query: Query, schema: string): (input: RescueInput) => Promise<RescueResult> {
  const s = quoteIdentifier(schema);
  return async function rescueGraphileWorker({ queue, kills }) {
    const poolIds = (queue.queueIds ?? []).filter((id) => typeof id === 'string' && id.length > 0);
    if (poolIds.length === 0) return { requeued: [], terminated: [] };
    const terminated: JobRef[] = [];
    for (const kill of kills) {
      if (kill.ref.queue !== GRAPHILE_WORKER_QUEUE || !/^\d+$/.test(kill.ref.id)) continue;
      const rows = await query(
        `update ${s}._private_jobs as jobs
           set attempts = jobs.max_attempts, last_error = $2::text, updated_at = now()
         where jobs.id = $1::bigint and jobs.locked_by = any($3::text[])
         returning jobs.id`,
        [kill.ref.id, describeReason(kill.reason), poolIds],
      );
      if (rows.length > 0) terminated.push(kill.ref);
    }
    const locked = await query(
      `select jobs.id::text as id from ${s}.jobs as jobs where jobs.locked_by = any($1::text[])`,
      [poolIds],
    );
    await query(`select ${s}.force_unlock_workers($1::text[])`, [poolIds]);
    const ended = new Set(terminated.map((ref) => ref.id));
    const requeued = locked
      .map((row) => String(row.id))
      .filter((id) => !ended.has(id))
      .map(jobRef);
    return { requeued, terminated };
  };
}
