// The queues the chaos suite runs, by name. BullMQ: add `bullmq` here with a
// module like the two below (its workers, a Redis of the harness's own).
import { graphileWorkerQueue, startGraphileWorker } from './graphile-worker.js';
import { pgBossQueue, startPgBossWorker } from './pg-boss.js';
import type { ChaosQueue, StartWorker } from './types.js';

export const QUEUES: Readonly<Record<string, { controller: () => ChaosQueue; worker: StartWorker }>> = {
  'graphile-worker': { controller: graphileWorkerQueue, worker: startGraphileWorker },
  'pg-boss': { controller: pgBossQueue, worker: startPgBossWorker },
};
