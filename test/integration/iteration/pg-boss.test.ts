// iterate() with pg-boss 12 across real OS processes: a backfill over 10 000
// rows by id (test/fixtures/iteration/backfill.ts) is stopped mid-way by
// SIGTERM, by its own maxRuntime, by a throttle and by a kill, and the tests
// read what pg-boss's job table, jobterm.progress and the backfill's
// `processed` table hold afterwards.
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { PgBoss } from 'pg-boss';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type PgBossAdapter, pgBossAdapter } from '../../../src/adapters/pg-boss/index.js';
import { silentLogger } from '../../../src/core/logger.js';
import { postgresStore } from '../../../src/stores/postgres/index.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';
import { type BackfillPayload, createBackfillTables, ITEM_COUNT } from '../../fixtures/iteration/backfill.js';
import { itemsBetween, processedCount, progressRow, tally } from '../../fixtures/iteration/tally.js';
import { jobRow, waitForRow } from '../../fixtures/pg-boss/rows.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { killAllWorkers, spawnWorker, type WorkerMessage, type WorkerProcess } from '../../support/processes.js';
import { expectEveryItemOnce } from './checks.js';

const workerScript = fileURLToPath(new URL('../../fixtures/iteration/pg-boss.ts', import.meta.url));
const QUEUE = 'backfill';

let db: TestDatabase;
let pool: pg.Pool;
let boss: PgBoss;
let adapter: PgBossAdapter;
let requester: Terminator;

beforeAll(async () => {
  db = await createTestDatabase('jobterm_iter_pgboss');
  pool = db.pool;
  // This process only sends jobs: no workers, no maintenance.
  boss = new PgBoss({ connectionString: db.url, schedule: false, supervise: false });
  boss.on('error', () => {});
  await boss.start();
  await boss.createQueue(QUEUE, { notify: true, retryLimit: 3 });
  const store = postgresStore({ connectionString: db.url, receiveRequests: false, logger: silentLogger });
  await store.migrate();
  adapter = pgBossAdapter({ connectionString: db.url });
  requester = createTerminator({ store, adapters: [adapter], logger: silentLogger });
  await requester.whenReady();
  await createBackfillTables(pool);
});
afterAll(async () => {
  await requester?.close();
  await adapter?.close();
  await boss?.stop({ graceful: false }).catch(() => undefined);
  await db?.drop();
});
beforeEach(async () => {
  await pool.query('TRUNCATE processed; DELETE FROM jobterm.progress');
  await boss.deleteAllJobs(QUEUE);
});
afterEach(killAllWorkers);

async function addBackfill(payload: BackfillPayload = {}): Promise<string> {
  return (await boss.send(QUEUE, payload))!;
}
async function startWorker(): Promise<WorkerProcess> {
  const worker = spawnWorker(workerScript, { env: { DATABASE_URL: db.url } });
  await worker.waitFor('ready', 30_000);
  return worker;
}
const about = (event: string, id: string) => (m: WorkerMessage) => m.event === event && (m.id === id || m.jobId === id);
const all = (worker: WorkerProcess, event: string, id: string) => worker.messages.filter(about(event, id));
const progress = (id: string) => progressRow(pool, 'pg-boss', QUEUE, id);
/** Waits until the backfill has done `n` items, so a stop lands mid-way. */
const processedAtLeast = (n: number) =>
  expect.poll(() => processedCount(pool), { timeout: 30_000, interval: 20 }).toBeGreaterThanOrEqual(n);

// A backfill of 10,000 rows in slices of a few hundred ms, each followed by
// the queue's retry delay: on a loaded CI machine the slices get fewer rows
// done, so the whole run can take minutes, not seconds.
describe('iterate() on pg-boss, across processes', { timeout: 180_000 }, () => {
  it('SIGTERM mid-way: back in the queue unspent with its cursor; another process resumes; every id once', async () => {
    const a = await startWorker();
    const id = await addBackfill();
    await processedAtLeast(2_000);
    a.kill('SIGTERM');
    const stop = await a.waitFor(about('iterate-interrupted', id));
    expect(stop.kind).toBe('shutdown');
    expect(await a.exited).toEqual({ code: 0, signal: null });
    const cursor = stop.cursor as number;
    expect(cursor).toBeGreaterThan(0);
    expect(cursor).toBeLessThan(ITEM_COUNT * 3);

    // Back in the queue at once: created, its retry not spent, runnable now.
    const between = (await jobRow(pool, id))!;
    expect(between).toMatchObject({ state: 'created', retry_count: 0, started_on: null });
    expect(between.start_after.getTime()).toBeLessThanOrEqual(Date.now());
    expect(between.output).toMatchObject({ name: 'JobTerminatedError', reason: { kind: 'shutdown' } });
    // The cursor in jobterm.progress is the last item the first process finished.
    expect((await progress(id))?.cursor).toBe(cursor);
    const first = await tally(pool);
    expect(first.runs).toEqual([expect.objectContaining({ pid: a.pid, lastId: cursor })]);
    expect(first.total).toBe(await itemsBetween(pool, null, cursor));

    const b = await startWorker();
    const done = await b.waitFor(about('iterate-complete', id), 120_000);
    expect(done.resumedFrom).toBe(cursor);
    const finished = await waitForRow(pool, id, (r) => r.state === 'completed');
    expect(finished).toMatchObject({ retry_count: 0, output: { processed: done.processed } });
    expect([...all(a, 'task-start', id), ...all(b, 'task-start', id)].map((m) => m.retryCount)).toEqual([0, 0]);
    expect(await progress(id)).toBeUndefined();
    const t = await expectEveryItemOnce(pool, [cursor]);
    expect(t.runs.map((r) => r.pid)).toEqual([a.pid, b.pid]);
  });

  // The backfill's pass takes over 1 s (see backfill.ts), so 450 ms slices stop it at least twice.
  it('maxRuntime: several interruptions, each back in the queue unspent; every id once', async () => {
    const worker = await startWorker();
    const id = await addBackfill({ maxRuntime: 450 });
    await worker.waitFor('iterate-complete', 60_000);
    const finished = await waitForRow(pool, id, (r) => r.state === 'completed');
    expect(finished.retry_count).toBe(0);
    const stops = all(worker, 'iterate-interrupted', id);
    expect(stops.length).toBeGreaterThanOrEqual(2);
    expect(stops.every((m) => m.kind === 'timeout')).toBe(true);
    const starts = all(worker, 'task-start', id);
    expect(starts).toHaveLength(stops.length + 1);
    // Every run claimed the same attempt: put back with its retry_count as it was.
    expect(starts.every((m) => m.retryCount === 0)).toBe(true);
    expect(await progress(id)).toBeUndefined();
    await expectEveryItemOnce(
      pool,
      stops.map((m) => m.cursor as number),
    );
  });

  it('throttle: back in the queue unspent, start_after = now + its delay; resumes after it', async () => {
    const worker = await startWorker();
    const delay = 1_500;
    const id = await addBackfill({ throttleAfter: 500, throttleDelay: delay });
    const stop = await worker.waitFor(about('iterate-interrupted', id));
    expect(stop.message).toBe(`throttled; resuming in ${delay} ms`);
    const between = await waitForRow(pool, id, (r) => r.state === 'created', 5_000);
    expect(between).toMatchObject({ retry_count: 0, started_on: null });
    // start_after = the put-back's now() + delay, and the put-back follows onInterrupt.
    const startAfter = between.start_after.getTime();
    expect(startAfter).toBeGreaterThanOrEqual((stop.at as number) + delay);
    expect(startAfter).toBeLessThanOrEqual((stop.at as number) + delay + 2_000);
    expect((await progress(id))?.cursor).toBe(stop.cursor);
    // keep_until moved with it, so pg-boss's deletion sweep keeps the waiting job.
    const [kept] = await db.query<{ window: number }>(
      `SELECT extract(epoch FROM keep_until - start_after)::int AS window FROM pgboss.job WHERE id = $1`,
      [id],
    );
    expect(kept!.window).toBe(14 * 24 * 3600);

    await worker.waitFor(about('iterate-complete', id), 120_000);
    const [, resumed] = all(worker, 'task-start', id);
    // Same machine, same clock; a little slack for the row's now() against the worker's Date.now().
    expect(resumed!.at as number).toBeGreaterThanOrEqual(startAfter - 50);
    expect(resumed!.retryCount).toBe(0);
    expect((await waitForRow(pool, id, (r) => r.state === 'completed')).retry_count).toBe(0);
    await expectEveryItemOnce(pool, [stop.cursor as number]);
  });

  it('kill mid-iteration: cancelled for good, the cursor recorded, never run again', async () => {
    const worker = await startWorker();
    const id = await addBackfill();
    await processedAtLeast(1_000);
    const result = await requester.terminate(
      { queue: 'pg-boss', name: QUEUE, id },
      { reason: 'backfill cancelled', requestedBy: 'ops', wait: true, timeout: 15_000 },
    );
    expect(result.status).toBe('terminated');
    const stop = await worker.waitFor(about('iterate-interrupted', id));
    expect(stop.kind).toBe('kill');
    const ended = (await jobRow(pool, id))!;
    expect(ended).toMatchObject({ state: 'cancelled', retry_count: 0 });
    expect(ended.output).toMatchObject({ message: 'Terminated: backfill cancelled (by ops)' });
    const cursor = stop.cursor as number;
    expect((await progress(id))?.cursor).toBe(cursor);
    const t = await tally(pool);
    expect(t.duplicates).toEqual([]);
    expect(t.runs).toEqual([expect.objectContaining({ lastId: cursor })]);
    expect(t.total).toBe(await itemsBetween(pool, null, cursor));
    expect(t.total).toBeLessThan(ITEM_COUNT);

    // Never run again: a job sent after it runs, and it does not.
    const next = (await boss.send(QUEUE, { noop: true }))!;
    await worker.waitFor(about('noop', next));
    expect(all(worker, 'task-start', id)).toHaveLength(1);
    expect(await jobRow(pool, id)).toMatchObject({ state: 'cancelled' });
    expect(await processedCount(pool)).toBe(t.total);
  });
});
