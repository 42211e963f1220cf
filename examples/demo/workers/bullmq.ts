// A BullMQ 6 process with jobterm, as the demo runs it (bull-1): the
// processor passed to new Worker() is wrapped and the worker attached, so a
// kill from any process fires the job's token, and SIGTERM puts running jobs
// back in `wait` without spending an attempt. No PostgreSQL: kill requests
// live in Redis.
//
// env: REDIS_URL, DEMO_NAME (e.g. bull-1), DEMO_QUEUE (the BullMQ queue).
import { setTimeout as sleep } from 'node:timers/promises';
import { type Job, Worker } from 'bullmq';
import { bullmqJobterm } from '../../../src/adapters/bullmq/index.js';
import { createTerminator } from '../../../src/index.js';
import { redisStore } from '../../../src/stores/redis/index.js';
import { connectionFrom } from '../../../test/fixtures/bullmq/connection.js';
import { report, reportingLogger } from '../protocol.js';
import { reportTerminatorEvents } from './terminator-events.js';

const url = process.env.REDIS_URL;
if (!url) throw new Error('set REDIS_URL');
const name = process.env.DEMO_NAME ?? `bull-${process.pid}`;
const queue = process.env.DEMO_QUEUE ?? 'renders';
const concurrency = 2;
const shutdownTimeout = 2_000;

const terminator = createTerminator({
  store: redisStore({ connection: url, logger: reportingLogger }),
  // jobterm runs the shutdown: BullMQ's own close() waits for active jobs forever.
  handleSignals: true,
  shutdownTimeout,
  killTimeout: 2_000,
  workerId: name,
  logger: reportingLogger,
});
reportTerminatorEvents(terminator);
const jt = bullmqJobterm({ terminator });

// The two calls jobterm adds: wrap the processor, attach the worker.
const worker = jt.attach(
  new Worker(
    queue,
    jt.processor(async (job: Job<{ frames: number; msPerFrame: number }>, _lockToken, signal) => {
      const id = job.id;
      report('job-start', { id, task: queue, attempt: job.attemptsMade, maxAttempts: job.opts.attempts });
      const stopWatching = currentTokenOf(job).onTerminate((reason) =>
        report('signal', { id, kind: reason.kind, message: reason.message }),
      );
      try {
        for (let frame = 0; frame < job.data.frames; frame++) {
          await sleep(job.data.msPerFrame, undefined, { signal });
          if (frame % 10 === 0) await job.updateProgress(frame);
        }
      } finally {
        stopWatching();
      }
      report('completed', { id });
      return { frames: job.data.frames };
    }),
    { connection: connectionFrom(url), concurrency },
  ),
);
worker.on('error', (error) => report('log', { level: 'error', message: `BullMQ: ${error.message}` }));
await terminator.whenReady();
await worker.waitUntilReady();
report('ready', { pid: process.pid, queue: `BullMQ "${queue}"`, concurrency, shutdownTimeout });

function currentTokenOf(job: Job) {
  return (job as Job & { token: import('../../../src/index.js').TerminationToken }).token;
}
