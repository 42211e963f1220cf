// A pg-boss 12 process with jobterm, as the demo runs it (boss-1): the
// handler passed to boss.work() is wrapped, so every job gets a token that a
// kill from any process (the API, the CLI) fires at once, and SIGTERM puts
// running jobs back without spending a retry.
//
// env: DATABASE_URL, DEMO_NAME (e.g. boss-1), DEMO_QUEUE (the queue to work).
import { setTimeout as sleep } from 'node:timers/promises';
import { type Job, PgBoss } from 'pg-boss';
import { pgBossJobterm } from '../../../src/adapters/pg-boss/index.js';
import { createTerminator } from '../../../src/index.js';
import { postgresStore } from '../../../src/stores/postgres/index.js';
import { report, reportingLogger } from '../protocol.js';
import { reportTerminatorEvents } from './terminator-events.js';

const connectionString = process.env.DATABASE_URL;
if (!connectionString) throw new Error('set DATABASE_URL');
const name = process.env.DEMO_NAME ?? `boss-${process.pid}`;
const queue = process.env.DEMO_QUEUE ?? 'media';
const concurrency = 2;
const shutdownTimeout = 2_000;

// The demo created the schema and the queue; this process only works it.
const boss = new PgBoss({ connectionString, supervise: false, schedule: false, migrate: false });
boss.on('error', (error) => report('log', { level: 'error', message: `pg-boss: ${(error as Error).message}` }));
const terminator = createTerminator({
  store: postgresStore({ connectionString, migrate: false, logger: reportingLogger }),
  // jobterm runs the shutdown: pg-boss's own stop() would fail active jobs and spend a retry.
  handleSignals: true,
  shutdownTimeout,
  killTimeout: 2_000,
  workerId: name,
  logger: reportingLogger,
});
reportTerminatorEvents(terminator);
const jt = pgBossJobterm({ boss, terminator });

type Render = Job<{ frames: number; msPerFrame: number }>;

await boss.start();
await boss.work(
  queue,
  { localConcurrency: concurrency, pollingIntervalSeconds: 0.5 },
  // The one line jobterm adds: wrap the handler.
  jt.handler<Render>(async ([job]) => {
    const { id, data, token, signal } = job!;
    report('job-start', { id, task: queue, attempt: job!.retryCount });
    const stopWatching = token.onTerminate((reason) =>
      report('signal', { id, kind: reason.kind, message: reason.message }),
    );
    try {
      for (let frame = 0; frame < data.frames; frame++) {
        // The token's signal goes to everything the job awaits: it rejects the moment a kill arrives.
        await sleep(data.msPerFrame, undefined, { signal });
      }
    } finally {
      stopWatching();
    }
    report('completed', { id });
    return { frames: data.frames };
  }),
);
report('ready', { pid: process.pid, queue: `pg-boss "${queue}"`, concurrency, shutdownTimeout });
