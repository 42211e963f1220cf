// iterate() with graphile-worker 0.18 across real OS processes: a backfill
// over 10 000 rows by id (test/fixtures/iteration/backfill.ts) is stopped
// mid-way by SIGTERM, by its own maxRuntime, by a throttle and by a kill, and
// the tests read what graphile's jobs table, jobterm.progress and the
// backfill's `processed` table hold afterwards.
import { fileURLToPath } from 'node:url';
import { Logger, makeWorkerUtils, runMigrations, type WorkerUtils } from 'graphile-worker';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type GraphileWorkerAdapter,
  graphileWorkerAdapter,
  jobRef,
} from '../../../src/adapters/graphile-worker/index.js';
import { silentLogger } from '../../../src/core/logger.js';
import { postgresStore } from '../../../src/stores/postgres/index.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';
import { type BackfillPayload, createBackfillTables, ITEM_COUNT } from '../../fixtures/iteration/backfill.js';
import { itemsBetween, processedCount, progressRow, tally } from '../../fixtures/iteration/tally.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { killAllWorkers, spawnWorker, type WorkerMessage, type WorkerProcess } from '../../support/processes.js';
import { makeTestPool } from '../graphile-worker/setup.js';
import { expectEveryItemOnce } from './checks.js';

const workerScript = fileURLToPath(new URL('../../fixtures/iteration/graphile-worker.ts', import.meta.url));
const QUEUE = 'graphile-worker';

let db: TestDatabase;
let pool: pg.Pool;
let utils: WorkerUtils;
let adapter: GraphileWorkerAdapter;
let requester: Terminator;

beforeAll(async () => {
  db = await createTestDatabase('jobterm_iter_gw');
  pool = makeTestPool(db.url);
  const quiet = new Logger(() => () => {});
  await runMigrations({ pgPool: pool, logger: quiet });
  utils = await makeWorkerUtils({ pgPool: pool, logger: quiet });
  const store = postgresStore({ connectionString: db.url, receiveRequests: false, logger: silentLogger });
  await store.migrate();
  adapter = graphileWorkerAdapter({ connectionString: db.url });
  requester = createTerminator({ store, adapters: [adapter], logger: silentLogger });
  await requester.whenReady();
  await createBackfillTables(pool);
});
afterAll(async () => {
  await requester?.close();
  await adapter?.close();
  await utils?.release();
  await pool?.end();
  await db?.drop();
});
beforeEach(async () => {
  await pool.query('TRUNCATE processed; DELETE FROM jobterm.progress');
  await pool.query('DELETE FROM graphile_worker._private_jobs; DELETE FROM graphile_worker._private_job_queues');
});
afterEach(killAllWorkers);

interface Row {
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  locked_by: string | null;
  locked_at: Date | null;
  run_at: Date;
  now: Date;
}
async function row(id: string): Promise<Row | undefined> {
  const { rows } = await pool.query<Row>(
    `SELECT attempts, max_attempts, last_error, locked_by, locked_at, run_at, now() AS now
       FROM graphile_worker._private_jobs WHERE id = $1`,
    [id],
  );
  return rows[0];
}
async function addBackfill(payload: BackfillPayload = {}): Promise<string> {
  return String((await utils.addJob('backfill', payload, { maxAttempts: 5 })).id);
}
async function startWorker(): Promise<WorkerProcess> {
  const worker = spawnWorker(workerScript, { env: { DATABASE_URL: db.url } });
  await worker.waitFor('ready', 30_000);
  return worker;
}
const about = (event: string, id: string) => (m: WorkerMessage) => m.event === event && (m.id === id || m.jobId === id);
const all = (worker: WorkerProcess, event: string, id: string) => worker.messages.filter(about(event, id));
const progress = (id: string) => progressRow(pool, QUEUE, '', id);
/** Waits until the backfill has done `n` items, so a stop lands mid-way. */
const processedAtLeast = (n: number) =>
  expect.poll(() => processedCount(pool), { timeout: 30_000, interval: 20 }).toBeGreaterThanOrEqual(n);

// A backfill of 10,000 rows in slices of a few hundred ms, each followed by
// graphile's or pg-boss's retry delay: on a loaded CI machine the slices get
// fewer rows done, so the whole run can take minutes, not seconds.
describe('iterate() on graphile-worker, across processes', { timeout: 180_000 }, () => {
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

    // Back in the queue at once: unlocked, runnable now, the attempt taken back.
    const between = await row(id);
    expect(between).toMatchObject({ attempts: 0, max_attempts: 5, locked_by: null, locked_at: null });
    expect(between!.run_at.getTime()).toBeLessThanOrEqual(between!.now.getTime());
    expect(between!.last_error).toMatch(/^Interrupted: /);
    // The cursor in jobterm.progress is the last item the first process finished.
    expect((await progress(id))?.cursor).toBe(cursor);
    const first = await tally(pool);
    expect(first.runs).toEqual([expect.objectContaining({ pid: a.pid, lastId: cursor })]);
    expect(first.total).toBe(await itemsBetween(pool, null, cursor));

    const b = await startWorker();
    const done = await b.waitFor(about('iterate-complete', id), 120_000);
    expect(done.resumedFrom).toBe(cursor);
    await expect.poll(() => row(id), { timeout: 5_000 }).toBeUndefined();
    expect([...all(a, 'task-start', id), ...all(b, 'task-start', id)].map((m) => m.attempts)).toEqual([1, 1]);
    expect(await progress(id)).toBeUndefined();
    const t = await expectEveryItemOnce(pool, [cursor]);
    expect(t.runs.map((r) => r.pid)).toEqual([a.pid, b.pid]);
  });

  // The backfill's pass takes over 1 s (see backfill.ts), so 450 ms slices stop it at least twice.
  it('maxRuntime: several interruptions, each back in the queue unspent; every id once', async () => {
    const worker = await startWorker();
    const id = await addBackfill({ maxRuntime: 450 });
    await worker.waitFor(about('iterate-interrupted', id), 30_000);
    // The pool still fetches: jobterm refunds the attempt and graphile's own
    // fail write unlocks the job, adding its retry delay (exp(0) = 1 s).
    await expect.poll(async () => (await row(id))?.locked_at, { timeout: 5_000 }).toBeNull();
    expect(await row(id)).toMatchObject({ attempts: 0, max_attempts: 5 });
    expect((await row(id))!.last_error).toMatch(/^Timed out: maxRuntime of 450 ms/);

    await worker.waitFor(about('iterate-complete', id), 120_000);
    await expect.poll(() => row(id), { timeout: 5_000 }).toBeUndefined();
    const stops = all(worker, 'iterate-interrupted', id);
    expect(stops.length).toBeGreaterThanOrEqual(2);
    expect(stops.every((m) => m.kind === 'timeout')).toBe(true);
    const starts = all(worker, 'task-start', id);
    expect(starts).toHaveLength(stops.length + 1);
    expect(starts.every((m) => m.attempts === 1)).toBe(true);
    expect(await progress(id)).toBeUndefined();
    await expectEveryItemOnce(
      pool,
      stops.map((m) => m.cursor as number),
    );
  });

  it('throttle: back in the queue unspent, runnable no sooner than its delay; resumes after it', async () => {
    const worker = await startWorker();
    const delay = 1_500;
    const id = await addBackfill({ throttleAfter: 500, throttleDelay: delay });
    const stop = await worker.waitFor(about('iterate-interrupted', id));
    expect(stop.message).toBe(`throttled; resuming in ${delay} ms`);
    await expect.poll(async () => (await row(id))?.locked_at, { timeout: 5_000 }).toBeNull();
    const between = (await row(id))!;
    expect(between).toMatchObject({ attempts: 0, max_attempts: 5 });
    // jobterm's refund sets run_at = now + delay; graphile's fail write then
    // adds its own retry delay (exp(0) = 1 s), as the pool was still fetching.
    const runAt = between.run_at.getTime();
    expect(runAt).toBeGreaterThanOrEqual((stop.at as number) + delay);
    expect(runAt).toBeLessThanOrEqual((stop.at as number) + delay + 1_000 + 2_000);
    expect((await progress(id))?.cursor).toBe(stop.cursor);

    await worker.waitFor(about('iterate-complete', id), 120_000);
    const [, resumed] = all(worker, 'task-start', id);
    // Same machine, same clock; a little slack for the row's now() against the worker's Date.now().
    expect(resumed!.at as number).toBeGreaterThanOrEqual(runAt - 50);
    expect(resumed!.attempts).toBe(1);
    await expect.poll(() => row(id), { timeout: 5_000 }).toBeUndefined();
    await expectEveryItemOnce(pool, [stop.cursor as number]);
  });

  it('kill mid-iteration: ended for good (Terminated:), the cursor recorded, never run again', async () => {
    const worker = await startWorker();
    const id = await addBackfill();
    await processedAtLeast(1_000);
    const result = await requester.terminate(jobRef(id), {
      reason: 'backfill cancelled',
      requestedBy: 'ops',
      wait: true,
      timeout: 15_000,
    });
    expect(result.status).toBe('terminated');
    const stop = await worker.waitFor(about('iterate-interrupted', id));
    expect(stop.kind).toBe('kill');
    expect(await row(id)).toMatchObject({
      attempts: 5,
      max_attempts: 5,
      last_error: 'Terminated: backfill cancelled (by ops)',
      locked_by: null,
      locked_at: null,
    });
    const cursor = stop.cursor as number;
    expect((await progress(id))?.cursor).toBe(cursor);
    const t = await tally(pool);
    expect(t.duplicates).toEqual([]);
    expect(t.runs).toEqual([expect.objectContaining({ lastId: cursor })]);
    expect(t.total).toBe(await itemsBetween(pool, null, cursor));
    expect(t.total).toBeLessThan(ITEM_COUNT);

    // Never run again: a job queued after it runs, and it does not.
    const next = String((await utils.addJob('noop', {})).id);
    await worker.waitFor(about('noop', next));
    expect(all(worker, 'task-start', id)).toHaveLength(1);
    expect(await row(id)).toMatchObject({ attempts: 5, locked_by: null });
    expect(await processedCount(pool)).toBe(t.total);
  });
});
