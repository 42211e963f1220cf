import type { Job, Worker } from 'bullmq';
import type { QueueAdapter } from '../../core/adapter.js';
import type { FleetQueue } from '../../core/fleet.js';
import type { JobDetails } from '../../core/outcome.js';
import type { RescueResult } from '../../core/presence.js';
import type { BullmqAdapter } from './adapter.js';
import { BULLMQ_QUEUE } from './ref.js';

const NOTHING: RescueResult = Object.freeze({ requeued: [], terminated: [] });

/**
 * The adapter of a worker process: the requester's one, plus what presence
 * needs. Its queue ids are the attached workers' BullMQ ids (`worker.id`, a
 * UUID that prefixes every lock token the worker hands out) and their
 * `name` option when given; its names are the queues they work.
 *
 * Its rescue does nothing to the jobs on purpose: BullMQ 6.7 recovers a dead
 * worker's active jobs itself. The dead worker stops renewing its jobs' locks
 * (`lockDuration`, 30 s by default); every live worker of the queue runs the
 * stalled-job check every `stalledInterval` (30 s by default,
 * moveStalledJobsToWait), which moves a job whose lock is gone back to wait,
 * or fails it once it stalled more than `maxStalledCount` (1) times. So a
 * job is back within about lockDuration + stalledInterval (30-60 s by
 * default) with no help; doing it again from jobterm would race that check.
 * A job with an open kill request is stopped at its next start by the
 * request. Declaring the rescue lets any BullMQ worker remove a dead BullMQ
 * worker's presence record (exactly once: the store's claim is atomic).
 */
export function workerAdapter(
  adapter: BullmqAdapter,
  workers: () => Iterable<Worker>,
): BullmqAdapter & Required<Pick<QueueAdapter, 'describeWorker' | 'rescue'>> {
  return {
    ...adapter,
    describeWorker(): FleetQueue {
      const names = new Set<string>();
      const queueIds: string[] = [];
      for (const worker of workers()) {
        names.add(worker.name);
        queueIds.push(worker.id);
        const name = (worker.opts as { name?: unknown }).name;
        if (typeof name === 'string' && name.length > 0) queueIds.push(name);
      }
      return { queue: BULLMQ_QUEUE, names: [...names], queueIds: [...new Set(queueIds)] };
    },
    rescue: async () => NOTHING,
  };
}

/**
 * For the fleet view: the queue name as the task, the attempt (BullMQ's
 * `attemptsMade` counts the attempts that ended, so this run is one more),
 * and the BullMQ worker (its id, the lock token's prefix) that holds it.
 */
export function jobDetails(
  job: Job,
  lockToken: string | undefined,
  isolated: 'thread' | 'process' | undefined,
): JobDetails {
  const colon = lockToken === undefined ? -1 : lockToken.lastIndexOf(':');
  return {
    task: job.queueName,
    ...(typeof job.attemptsMade === 'number' ? { attempt: job.attemptsMade + 1 } : {}),
    ...(colon > 0 ? { queueWorkerId: lockToken!.slice(0, colon) } : {}),
    ...(isolated === undefined ? {} : { isolated }),
  };
}
