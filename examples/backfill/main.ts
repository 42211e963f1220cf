// `npx tsx examples/backfill/main.ts`: a resumable backfill on pg-boss.
// Fills `users.email_normalized` for 3 000 rows with a job that iterate()s
// over them by id; sends the first worker SIGTERM about a third of the way
// in, shows what the queue and jobterm.progress hold, then starts a second
// worker that resumes after the saved cursor and finishes. At the end every
// row was updated exactly once. Uses DATABASE_URL, or an embedded PostgreSQL.
import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { startEmbeddedPostgres, stopOnExit } from '../../test/support/embedded-postgres.js';

const ROWS = 3_000;
const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres();
// Ctrl-C, a crash: the embedded server stops and its temp dir goes on every way out.
const keepOnExit = embedded === undefined ? () => {} : stopOnExit(embedded);
const connectionString = process.env.DATABASE_URL ?? embedded!.url;
const db = new pg.Pool({ connectionString, max: 2 });
// An idle connection ended by the server (its shutdown at the end) must not crash the process.
db.on('error', () => {});

await db.query(`
  DROP TABLE IF EXISTS users;
  CREATE TABLE users (
    id integer PRIMARY KEY,
    email text NOT NULL,
    email_normalized text,
    updates integer NOT NULL DEFAULT 0,
    backfilled_by integer
  );
  INSERT INTO users (id, email) SELECT n * 7, '  User' || n || '@Example.COM ' FROM generate_series(1, ${ROWS}) AS n;
`);

// This process only sends the job.
const boss = new PgBoss({ connectionString, supervise: false, schedule: false });
// pg-boss re-emits its pool's errors; without a listener the server's shutdown at teardown
// ("terminating connection due to administrator command") was an unhandled 'error' that killed this process.
boss.on('error', (error) => console.error('[main] pg-boss:', (error as Error).message));
await boss.start();
await boss.createQueue('backfill');

const workers: ChildProcess[] = [];
function startWorker(): { child: ChildProcess; exited: Promise<unknown> } {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./worker.ts', import.meta.url))], {
    env: { ...process.env, DATABASE_URL: connectionString },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  workers.push(child);
  return { child, exited: new Promise((resolve) => child.once('exit', resolve)) };
}
const done = async () =>
  (await db.query<{ n: number }>('SELECT count(email_normalized)::int AS n FROM users')).rows[0]!.n;
async function show(id: string) {
  const [job] = await boss.findJobs('backfill', { id });
  const { rows } = await db.query('SELECT cursor, saves FROM jobterm.progress WHERE job_id = $1', [id]);
  console.log(
    `[main] job ${job?.state}, retryCount ${job?.retryCount}; saved cursor: ${rows[0] ? `id ${rows[0].cursor} (${rows[0].saves} saves)` : 'none'}; ${await done()}/${ROWS} rows done`,
  );
}

try {
  const first = startWorker();
  const id = (await boss.send('backfill', {}))!;
  console.log(`[main] sent backfill job ${id}`);
  while ((await done()) < ROWS / 3) await sleep(50);
  console.log('[main] SIGTERM to the first worker');
  first.child.kill('SIGTERM');
  await first.exited;
  await show(id);

  console.log('[main] starting a second worker');
  const second = startWorker();
  for (;;) {
    const [job] = await boss.findJobs('backfill', { id });
    if (job?.state === 'completed') break;
    await sleep(100);
  }
  await show(id);
  const { rows } = await db.query<{ by: number; rows: number; wrong: number }>(
    `SELECT backfilled_by AS by, count(*)::int AS rows, count(*) FILTER (WHERE updates <> 1)::int AS wrong
       FROM users GROUP BY backfilled_by ORDER BY min(id)`,
  );
  for (const row of rows) {
    console.log(`[main] worker ${row.by}: ${row.rows} rows, ${row.wrong} updated other than exactly once`);
  }
  second.child.kill('SIGTERM');
  await second.exited;
} finally {
  for (const child of workers) child.kill('SIGKILL');
  await boss.stop({ graceful: false });
  await db.end();
  await embedded?.stop();
  keepOnExit();
}
