import type { QueueAdapter } from '../../core/adapter.js';
import type { JobDetails } from '../../core/outcome.js';
import type { RescueResult } from '../../core/presence.js';
import type { PgBossAdapter } from './adapter.js';
import { PG_BOSS_QUEUE } from './adapter.js';
import type { PgBossJob, PgBossLike } from './types.js';

const NOTHING: RescueResult = Object.freeze({ requeued: [], terminated: [] });

/**
 * The adapter of a worker process: the requester's one, plus what presence
 * needs. Its queue ids are pg-boss's worker ids (`getWipData()`), its names
 * the queues it works.
 *
 * Its rescue does nothing to the jobs on purpose: pg-boss 12 recovers a dead
 * worker's active jobs itself. A job whose queue (or `send()`) sets
 * `heartbeatSeconds` (at least 10) is failed and retried once its
 * `heartbeat_on` is older than that, found by the supervisor every
 * `superviseIntervalSeconds` (60 by default); any other one when its
 * `expireInSeconds` (15 minutes by default) runs out. Doing it again from
 * jobterm would race pg-boss's own retry. A retried job with an open kill
 * request is stopped at its start by the kill row. Declaring the rescue lets
 * any pg-boss worker remove a dead pg-boss worker's presence record.
 */
export function workerAdapter(
  adapter: PgBossAdapter,
  boss: PgBossLike,
): PgBossAdapter & Required<Pick<QueueAdapter, 'describeWorker' | 'rescue'>> {
  return {
    ...adapter,
    describeWorker() {
      const workers = boss.getWipData();
      const names = [...new Set(workers.map((worker) => worker.name))];
      const queueIds = workers.flatMap((worker) => (typeof worker.id === 'string' ? [worker.id] : []));
      return { queue: PG_BOSS_QUEUE, names, queueIds };
    },
    rescue: async () => NOTHING,
  };
}

/** For the fleet view: pg-boss's `retryCount` is 0 on the first attempt. */
export function jobDetails(job: PgBossJob): JobDetails {
  return typeof job.retryCount === 'number' ? { task: job.name, attempt: job.retryCount + 1 } : { task: job.name };
}
