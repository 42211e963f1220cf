// A BullMQ 6 worker with jobterm: every job gets a termination token, a kill
// from any process reaches it, and SIGTERM (or worker.close()) puts running
// jobs back in the queue without spending an attempt. Run by main.ts;
// `REDIS_URL` names the Redis. No PostgreSQL: kill requests live in Redis.
// (In your app, import from 'jobterm', 'jobterm/redis' and 'jobterm/bullmq'.)
import { type Job, Worker } from 'bullmq';
import { bullmqJobterm } from '../../src/adapters/bullmq/index.js';
import { createTerminator, isTerminating } from '../../src/index.js';
import { redisStore } from '../../src/stores/redis/index.js';
import { connectionFrom } from '../../test/fixtures/bullmq/connection.js';

const url = process.env.REDIS_URL;
if (!url) throw new Error('set REDIS_URL');
const connection = connectionFrom(url);

const terminator = createTerminator({
  store: redisStore({ connection: url }),
  // jobterm runs the shutdown: BullMQ's own close() would wait for active jobs forever.
  handleSignals: true,
  shutdownTimeout: 5_000,
});
const jt = bullmqJobterm({ terminator });

// The two lines that change: wrap the processor, attach the worker.
const worker = jt.attach(
  new Worker(
    'reports',
    jt.processor(async (job: Job<{ rows: number }>, _lockToken, signal) => {
      console.log(`[worker] ${job.id} started (attemptsMade ${job.attemptsMade})`);
      for (let row = 0; row < job.data.rows; row++) {
        // Stop between rows; `signal` can also go to fetch() or a stream.
        if (isTerminating()) {
          console.log(`[worker] ${job.id} stopping at row ${row}: ${String(signal.reason?.message)}`);
          throw signal.reason;
        }
        await job.updateProgress(row);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      console.log(`[worker] ${job.id} done`);
      return { rows: job.data.rows };
    }),
    { connection, concurrency: 3 },
  ),
);
worker.on('error', (error) => console.error('[worker] BullMQ:', error.message));
await terminator.whenReady();
console.log('[worker] ready');
