// A pg-boss 12 worker whose `backfill` job walks the `users` table by id with
// iterate(): on SIGTERM it finishes the row in hand, saves its cursor in
// jobterm.progress and goes back in the queue without spending a retry; the
// next worker resumes after that row. Run by main.ts; `DATABASE_URL` names
// the database. (In your app, import from 'jobterm', 'jobterm/postgres' and
// 'jobterm/pg-boss'.)
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { type Job, PgBoss } from 'pg-boss';
import { pgBossJobterm } from '../../src/adapters/pg-boss/index.js';
import { createTerminator, iterate } from '../../src/index.js';
import { postgresStore } from '../../src/stores/postgres/index.js';

const connectionString = process.env.DATABASE_URL;
if (!connectionString) throw new Error('set DATABASE_URL');
const log = (message: string) => console.log(`[worker ${process.pid}] ${message}`);

const db = new pg.Pool({ connectionString, max: 2 });
// An idle connection ended by the server must not crash the worker; the next query reconnects.
db.on('error', (error) => log(`pool: ${error.message}`));
const boss = new PgBoss({ connectionString });
boss.on('error', (error) => console.error('[worker] pg-boss:', error));
const terminator = createTerminator({
  // Kill requests and iterate()'s cursors (jobterm.progress) both live in this store.
  store: postgresStore({ connectionString }),
  // jobterm runs the shutdown: pg-boss's own stop() would fail the job and spend a retry.
  handleSignals: true,
  shutdownTimeout: 10_000,
});
const jt = pgBossJobterm({ boss, terminator });

type Backfill = Job<{ pageSize?: number }>;

await boss.start();
await boss.createQueue('backfill');
await boss.work(
  'backfill',
  { pollingIntervalSeconds: 0.5 },
  jt.handler<Backfill>(async ([job]) => {
    const pageSize = job!.data.pageSize ?? 200;
    const summary = await iterate({
      // Keyset pagination: the rows after the cursor, by id. On a resume the
      // cursor is the last id a previous run finished.
      async *source(cursor: number | undefined) {
        let after = cursor ?? 0;
        for (;;) {
          const { rows } = await db.query<{ id: number }>('SELECT id FROM users WHERE id > $1 ORDER BY id LIMIT $2', [
            after,
            pageSize,
          ]);
          if (rows.length === 0) return;
          for (const row of rows) yield { item: row.id, cursor: row.id };
          after = rows.at(-1)!.id;
        }
      },
      // One row at a time. iterate() checks for termination between rows, in
      // memory, and saves the cursor every `saveEvery` rows.
      async each(id) {
        await db.query(
          `UPDATE users SET email_normalized = lower(trim(email)), updates = updates + 1, backfilled_by = $2
            WHERE id = $1`,
          [id, process.pid],
        );
        await sleep(1); // stands in for real work per row
      },
      saveEvery: { items: 100, ms: 2_000 },
      // Hand the worker back every minute: deploys never wait on the backfill.
      maxRuntime: 60_000,
      onStart: () => log(`${job!.id}: starting from the first row (retryCount ${job!.retryCount})`),
      onResume: (cursor) => log(`${job!.id}: resuming after id ${cursor} (retryCount ${job!.retryCount})`),
      onInterrupt: (cursor, reason) => log(`${job!.id}: ${reason.kind}; cursor ${cursor} saved, back in the queue`),
    });
    log(`${job!.id}: done, ${summary.processed} rows in this run`);
    return { rows: summary.processed };
  }),
);
log('ready');
