// A pg-boss 12 worker with jobterm: every job gets a termination token, a
// kill from any process reaches it, and SIGTERM puts running jobs back in
// the queue without spending a retry. Run by main.ts; `DATABASE_URL` names
// the database. (In your app, import from 'jobterm', 'jobterm/postgres' and
// 'jobterm/pg-boss'.)
import { type Job, PgBoss } from 'pg-boss';
import { pgBossJobterm } from '../../src/adapters/pg-boss/index.js';
import { createTerminator, isTerminating } from '../../src/index.js';
import { postgresStore } from '../../src/stores/postgres/index.js';

const connectionString = process.env.DATABASE_URL;
if (!connectionString) throw new Error('set DATABASE_URL');

const boss = new PgBoss({ connectionString });
boss.on('error', (error) => console.error('[worker] pg-boss:', error));
const terminator = createTerminator({
  store: postgresStore({ connectionString }),
  // jobterm runs the shutdown (pg-boss's own stop() would fail active jobs and spend a retry).
  handleSignals: true,
  shutdownTimeout: 5_000,
});
const jt = pgBossJobterm({ boss, terminator });

type Report = Job<{ rows: number }>;

await boss.start();
await boss.createQueue('reports');
await boss.work(
  'reports',
  { pollingIntervalSeconds: 0.5 },
  // The one line that changes: wrap the handler.
  jt.handler<Report>(async ([job]) => {
    console.log(`[worker] ${job!.id} started (attempt ${job!.retryCount})`);
    for (let row = 0; row < job!.data.rows; row++) {
      // Stop between rows; job.signal can also go to fetch() or a stream.
      if (isTerminating()) {
        console.log(`[worker] ${job!.id} stopping at row ${row}: ${job!.token.reason?.kind}`);
        job!.token.throwIfTerminating();
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    console.log(`[worker] ${job!.id} done`);
    return { rows: job!.data.rows };
  }),
);
console.log('[worker] ready');
