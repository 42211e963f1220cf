// `npx tsx examples/pg-boss/main.ts`: starts a worker process, enqueues three
// jobs, terminates one from this process, then sends the worker SIGTERM and
// shows what pg-boss holds. Uses DATABASE_URL, or an embedded PostgreSQL.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PgBoss } from 'pg-boss';
import { pgBossAdapter } from '../../src/adapters/pg-boss/index.js';
import { createTerminator } from '../../src/index.js';
import { postgresStore } from '../../src/stores/postgres/index.js';
import { startEmbeddedPostgres, stopOnExit } from '../../test/support/embedded-postgres.js';

const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres();
// Ctrl-C, a crash: the embedded server stops and its temp dir goes on every way out.
const keepOnExit = embedded === undefined ? () => {} : stopOnExit(embedded);
const connectionString = process.env.DATABASE_URL ?? embedded!.url;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// This process only sends jobs and requests terminations.
const boss = new PgBoss({ connectionString, supervise: false, schedule: false });
// pg-boss re-emits its pool's errors (the server's shutdown at the end, say): never unhandled.
boss.on('error', (error) => console.error('[main] pg-boss:', (error as Error).message));
await boss.start();
await boss.createQueue('reports');
const requester = createTerminator({
  store: postgresStore({ connectionString, receiveRequests: false }),
  adapters: [pgBossAdapter({ boss })],
});

const worker = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./worker.ts', import.meta.url))], {
  env: { ...process.env, DATABASE_URL: connectionString },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const exited = new Promise((resolve) => worker.once('exit', resolve));

try {
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push((await boss.send('reports', { rows: 60 }))!);
  await sleep(3_000);
  const [doomed] = ids;
  const result = await requester.terminate(
    { queue: 'pg-boss', name: 'reports', id: doomed! },
    { reason: 'customer cancelled', requestedBy: 'main.ts', wait: true },
  );
  console.log(`[main] terminate(${doomed}) -> ${result.status}`);
  await sleep(500);
  console.log('[main] SIGTERM to the worker');
  worker.kill('SIGTERM');
  await exited;
  for (const id of ids) {
    const [job] = await boss.findJobs('reports', { id });
    const output = job?.output as { message?: string } | null;
    console.log(
      `[main] ${id}: ${job?.state}, retryCount ${job?.retryCount}${output?.message ? `, ${output.message}` : ''}`,
    );
  }
} finally {
  worker.kill('SIGKILL');
  await requester.close();
  await boss.stop({ graceful: false });
  await embedded?.stop();
  keepOnExit();
}
