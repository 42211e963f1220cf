import type { QueueAdapter } from '../../core/adapter.js';
import type { Terminator } from '../../terminator/terminator.js';
import type { GraphileWorkerAdapter, Query } from './adapter.js';
import { poolIdsOf } from './pool-link.js';
import { GRAPHILE_WORKER_QUEUE } from './ref.js';
import { makeGraphileRescue } from './rescue.js';

/**
 * The adapter of a worker process: the requester's one, plus what presence
 * needs: the pool ids this process serves (each job's `locked_by`) and the
 * rescue of dead workers' jobs.
 */
export function workerAdapter(
  adapter: GraphileWorkerAdapter,
  query: Query,
  schema: string,
  terminator: Terminator,
): GraphileWorkerAdapter & Required<Pick<QueueAdapter, 'describeWorker' | 'rescue'>> {
  return {
    ...adapter,
    describeWorker: () => ({ queue: GRAPHILE_WORKER_QUEUE, queueIds: poolIdsOf(terminator) }),
    rescue: makeGraphileRescue(query, schema),
  };
}
