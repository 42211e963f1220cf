import { fileURLToPath } from 'node:url';
import { type Job, Queue } from 'bullmq';
import { type BullmqAdapter, bullmqAdapter } from '../../../src/adapters/bullmq/index.js';
import { silentLogger } from '../../../src/core/logger.js';
import { type RedisStore, redisStore } from '../../../src/stores/redis/index.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';
import { connectionFrom } from '../../fixtures/bullmq/connection.js';
import { killAllWorkers, spawnWorker, type WorkerMessage, type WorkerProcess } from '../../support/processes.js';
import { redisUrl, uniquePrefix } from '../../support/redis.js';

export const workerScript = fileURLToPath(new URL('../../fixtures/bullmq/worker.ts', import.meta.url));

/**
 * A requester (this process: a terminator on the Redis store with
 * `receiveRequests: false` and the BullMQ adapter), a BullMQ prefix and store
 * prefix of its own, and queues made on demand.
 */
export interface BullmqWorld {
  readonly url: string;
  readonly bullPrefix: string;
  readonly storePrefix: string;
  readonly store: RedisStore;
  readonly adapter: BullmqAdapter;
  readonly requester: Terminator;
  queue(options?: { attempts?: number }): Queue;
  startWorker(queue: Queue, env?: Record<string, string>): Promise<WorkerProcess>;
  close(): Promise<void>;
}

export async function makeWorld(url = redisUrl()): Promise<BullmqWorld> {
  const bullPrefix = uniquePrefix('bull');
  const storePrefix = uniquePrefix('jt');
  const connection = connectionFrom(url);
  const store = redisStore({
    connection: url,
    prefix: storePrefix,
    receiveRequests: false,
    pollInterval: 200,
    logger: silentLogger,
  });
  const adapter = bullmqAdapter({ connection, prefix: bullPrefix });
  const requester = createTerminator({ store, adapters: [adapter], logger: silentLogger, workerId: 'requester' });
  await requester.whenReady();
  const queues: Queue[] = [];
  let seq = 0;
  return {
    url,
    bullPrefix,
    storePrefix,
    store,
    adapter,
    requester,
    queue(options = {}) {
      const queue = new Queue(`q${++seq}`, {
        connection,
        prefix: bullPrefix,
        defaultJobOptions: { attempts: options.attempts ?? 3 },
      });
      queue.on('error', () => {});
      queues.push(queue);
      return queue;
    },
    async startWorker(queue, env = {}) {
      const worker = spawnWorker(workerScript, {
        env: {
          REDIS_URL: url,
          QUEUE: queue.name,
          BULL_PREFIX: bullPrefix,
          STORE_PREFIX: storePrefix,
          WORKER_ID: 'worker-a',
          ...env,
        },
      });
      await worker.waitFor('ready');
      return worker;
    },
    async close() {
      await killAllWorkers();
      await requester.close();
      await adapter.close();
      await Promise.all(queues.map((queue) => queue.close()));
    },
  };
}

export const about = (event: string, id: string | undefined) => (m: WorkerMessage) => m.event === event && m.id === id;

/** BullMQ's own view of a job: what the tests assert. */
export async function jobFacts(queue: Queue, id: string) {
  // The state first, then the fields: a job BullMQ moved in between (one Lua
  // script writes both) is then read with the fields of its new state.
  const state = await queue.getJobState(id);
  const job = (await queue.getJob(id)) as Job | undefined;
  if (!job || state === 'unknown') return { state: 'gone' as const };
  return {
    state,
    attemptsMade: job.attemptsMade,
    failedReason: job.failedReason,
    returnvalue: job.returnvalue,
    progress: job.progress,
  };
}

/** Polls BullMQ until the job's facts match, or throws with the last seen. */
export async function waitForFacts(
  queue: Queue,
  id: string,
  match: (facts: Awaited<ReturnType<typeof jobFacts>>) => boolean,
  timeout = 15_000,
) {
  const deadline = Date.now() + timeout;
  let last: Awaited<ReturnType<typeof jobFacts>> | undefined;
  while (Date.now() < deadline) {
    last = await jobFacts(queue, id);
    if (match(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`job ${id} never matched; last: ${JSON.stringify(last)}`);
}
