// `npx tsx examples/graphile-worker/main.ts`: starts a worker process, adds
// three jobs, terminates a queued one by its job key and a running one by its
// id from this process, then sends the worker SIGTERM and shows graphile's
// rows. Uses DATABASE_URL, or an embedded PostgreSQL.
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { makeWorkerUtils } from 'graphile-worker';
import pg from 'pg';
import { graphileWorkerAdapter, jobRef } from '../../src/adapters/graphile-worker/index.js';
import { createTerminator } from '../../src/index.js';
import { postgresStore } from '../../src/stores/postgres/index.js';
import { startEmbeddedPostgres, stopOnExit } from '../../test/support/embedded-postgres.js';

const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres();
// Ctrl-C, a crash: the embedded server stops and its temp dir goes on every way out.
const keepOnExit = embedded === undefined ? () => {} : stopOnExit(embedded);
const connectionString = process.env.DATABASE_URL ?? embedded!.url;

// This process only adds jobs and requests terminations.
// A pool of our own for graphile's utils, ended before the database stops:
// graphile 0.18 ends a pool it made itself without awaiting it and removes
// its error handlers first, so stopping the server right after crashed the
// script with an unhandled 'error' (terminating connection, 57P01).
const pgPool = new pg.Pool({ connectionString, max: 2 });
pgPool.on('error', () => {});
const utils = await makeWorkerUtils({ pgPool });
await utils.migrate();
const graphile = graphileWorkerAdapter({ connectionString });
const requester = createTerminator({
  store: postgresStore({ connectionString, receiveRequests: false }),
  adapters: [graphile],
});

const worker = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./worker.ts', import.meta.url))], {
  env: { ...process.env, DATABASE_URL: connectionString },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const exited = new Promise((resolve) => worker.once('exit', resolve));

try {
  const a = await utils.addJob('report', { rows: 60 });
  const b = await utils.addJob('report', { rows: 60 });
  // Concurrency 2: this one waits in the queue.
  const c = await utils.addJob('report', { rows: 60 }, { jobKey: 'nightly-report' });
  await sleep(1_500);

  // A queued job, by its job key: failed for good before it starts.
  const byKey = await graphile.refForKey('nightly-report');
  const queued = await requester.terminate(byKey!, { reason: 'not tonight', requestedBy: 'main.ts' });
  console.log(`[main] terminate(key nightly-report = ${c.id}) -> ${queued.status}`);

  // A running job, by its id: its token fires in the worker process.
  const running = await requester.terminate(jobRef(a), {
    reason: 'customer cancelled',
    requestedBy: 'main.ts',
    wait: true,
  });
  console.log(`[main] terminate(${a.id}) -> ${running.status}`);

  await sleep(500);
  console.log('[main] SIGTERM to the worker');
  worker.kill('SIGTERM');
  await exited;

  const rows = await utils.withPgClient((client) =>
    client.query<{ id: string; attempts: number; max_attempts: number; last_error: string | null; locked: boolean }>(
      `select id, attempts, max_attempts, last_error, locked_at is not null as locked
         from graphile_worker.jobs where id = any($1::bigint[]) order by id`,
      [[a.id, b.id, c.id]],
    ),
  );
  for (const row of rows.rows) {
    console.log(
      `[main] ${row.id}: attempts ${row.attempts}/${row.max_attempts}, ${row.locked ? 'locked' : 'unlocked'}${row.last_error ? `, ${row.last_error}` : ''}`,
    );
  }
} finally {
  worker.kill('SIGKILL');
  await requester.close();
  await graphile.close();
  await utils.release();
  await pgPool.end();
  await embedded?.stop();
  keepOnExit();
}
