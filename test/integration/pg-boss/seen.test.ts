// "Did the job see it?" with real pg-boss 12 workers in their own OS
// processes: a handler that ignores jobterm and finishes during a shutdown or
// after a kill is `completed` and never runs again; one that saw the
// termination and returned, or whose fetch on `job.signal` rejected, stopped
// early. Modes 'plain', 'poll' and 'fetch' of the fixture add no listener of
// their own.
import { fileURLToPath } from 'node:url';
import { PgBoss } from 'pg-boss';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type PgBossAdapter, pgBossAdapter } from '../../../src/adapters/pg-boss/index.js';
import { silentLogger } from '../../../src/core/logger.js';
import { postgresStore } from '../../../src/stores/postgres/index.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';
import { jobRow, waitForRow } from '../../fixtures/pg-boss/rows.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { killAllWorkers, spawnWorker, type WorkerMessage, type WorkerProcess } from '../../support/processes.js';

const workerScript = fileURLToPath(new URL('../../fixtures/pg-boss/worker.ts', import.meta.url));

let db: TestDatabase;
let boss: PgBoss;
let adapter: PgBossAdapter;
let requester: Terminator;
let queueSeq = 0;

beforeAll(async () => {
  db = await createTestDatabase('jobterm_pgboss_seen');
  boss = new PgBoss({ connectionString: db.url, schedule: false, supervise: false });
  boss.on('error', () => {});
  await boss.start();
  const store = postgresStore({
    connectionString: db.url,
    receiveRequests: false,
    pollInterval: 200,
    logger: silentLogger,
  });
  await store.migrate();
  adapter = pgBossAdapter({ connectionString: db.url });
  requester = createTerminator({ store, adapters: [adapter], logger: silentLogger, workerId: 'requester' });
  await requester.whenReady();
});
afterEach(killAllWorkers);
afterAll(async () => {
  await requester?.close();
  await adapter?.close();
  await boss?.stop({ graceful: false }).catch(() => undefined);
  await db?.drop();
});

async function queue(): Promise<string> {
  const name = `s${++queueSeq}`;
  await boss.createQueue(name, { notify: true, retryLimit: 2 });
  return name;
}
async function startWorker(name: string, env: Record<string, string> = {}): Promise<WorkerProcess> {
  const worker = spawnWorker(workerScript, {
    env: { DATABASE_URL: db.url, QUEUE: name, WORKER_ID: 'worker-a', SHUTDOWN_TIMEOUT: '5000', ...env },
  });
  await worker.waitFor('ready');
  return worker;
}
const about = (event: string, id: string) => (m: WorkerMessage) => m.event === event && m.id === id;
const starts = (worker: WorkerProcess, id: string) => worker.messages.filter(about('job-started', id)).length;

/** A second worker on the queue runs a later job to its end, and never `id`. */
async function neverRunsAgain(name: string, id: string) {
  const next = await startWorker(name, { MODE: 'complete', WORKER_ID: 'worker-b' });
  const marker = (await boss.send(name, { mode: 'complete' }))!;
  await waitForRow(db.pool, marker, (r) => r.state === 'completed');
  expect(starts(next, id)).toBe(0);
}

describe('pg-boss, SIGTERM (graceful shutdown)', () => {
  it('a handler that ignores jobterm and finishes within shutdownTimeout is completed, and never runs again', async () => {
    const name = await queue();
    const a = await startWorker(name, { IGNORE_MS: '800' });
    const id = (await boss.send(name, { mode: 'plain' }))!;
    await a.waitFor(about('job-started', id));
    a.kill('SIGTERM');
    await a.waitFor(about('job-end', id));
    expect(await a.exited).toEqual({ code: 0, signal: null });
    expect((await a.waitFor('shutdown-end')).jobs).toEqual([{ id, status: 'completed', escalated: false }]);
    expect(await jobRow(db.pool, id)).toMatchObject({ state: 'completed', retry_count: 0, output: { plain: true } });
    expect(starts(a, id)).toBe(1);
    await neverRunsAgain(name, id);
  });

  it('`while (!isTerminating()) await step()` that returns is put back, its retry not spent', async () => {
    const name = await queue();
    const a = await startWorker(name);
    const id = (await boss.send(name, { mode: 'poll' }))!;
    await a.waitFor(about('job-started', id));
    a.kill('SIGTERM');
    await a.waitFor(about('job-end', id));
    expect(await a.exited).toEqual({ code: 0, signal: null });
    expect((await a.waitFor('shutdown-end')).jobs).toEqual([{ id, status: 'interrupted', escalated: false }]);
    expect(await jobRow(db.pool, id)).toMatchObject({
      state: 'created',
      retry_count: 0,
      output: { message: 'Interrupted: worker shutting down' },
    });
  });

  it('a fetch on job.signal that rejects is interrupted: put back, retry not spent', async () => {
    const name = await queue();
    const a = await startWorker(name);
    const id = (await boss.send(name, { mode: 'fetch' }))!;
    await a.waitFor(about('job-started', id));
    a.kill('SIGTERM');
    expect(await a.waitFor(about('job-end', id))).toMatchObject({ how: 'fetch rejected', name: 'JobTerminatedError' });
    expect(await a.exited).toEqual({ code: 0, signal: null });
    expect(await jobRow(db.pool, id)).toMatchObject({ state: 'created', retry_count: 0 });
  });
});

describe('pg-boss, a kill from another process', () => {
  it('a handler that ignores jobterm and finishes: completed, and terminate({ wait }) answers already_finished', async () => {
    const name = await queue();
    const a = await startWorker(name, { IGNORE_MS: '1000' });
    const id = (await boss.send(name, { mode: 'plain' }))!;
    await a.waitFor(about('job-started', id));
    const result = await requester.terminate({ queue: 'pg-boss', name, id }, { wait: true, timeout: 15_000 });
    expect(result.status).toBe('already_finished');
    expect(await waitForRow(db.pool, id, (r) => r.state === 'completed')).toMatchObject({
      retry_count: 0,
      output: { plain: true },
    });
    const [request] = await db.query('SELECT status, outcome FROM jobterm.kill_requests WHERE id = $1', [
      result.requestId,
    ]);
    expect(request).toEqual({ status: 'resolved', outcome: 'already_finished' });
    expect(a.messages.filter(about('terminated', id))).toHaveLength(0);
    a.kill('SIGTERM');
    expect(await a.exited).toEqual({ code: 0, signal: null });
    expect(starts(a, id)).toBe(1);
    await neverRunsAgain(name, id);
  });

  it('`while (!isTerminating()) await step()` that returns: terminated (cancelled), never retried', async () => {
    const name = await queue();
    const a = await startWorker(name);
    const id = (await boss.send(name, { mode: 'poll' }))!;
    await a.waitFor(about('job-started', id));
    const result = await requester.terminate({ queue: 'pg-boss', name, id }, { wait: true, timeout: 15_000 });
    expect(result.status).toBe('terminated');
    await a.waitFor(about('job-end', id));
    expect(await jobRow(db.pool, id)).toMatchObject({ state: 'cancelled', retry_count: 0 });
  });

  it('a fetch on job.signal that rejects: terminated (cancelled)', async () => {
    const name = await queue();
    const a = await startWorker(name);
    const id = (await boss.send(name, { mode: 'fetch' }))!;
    await a.waitFor(about('job-started', id));
    const result = await requester.terminate({ queue: 'pg-boss', name, id }, { wait: true, timeout: 15_000 });
    expect(result.status).toBe('terminated');
    expect(await a.waitFor(about('job-end', id))).toMatchObject({ how: 'fetch rejected' });
    expect(await jobRow(db.pool, id)).toMatchObject({ state: 'cancelled', retry_count: 0 });
  });
});
