import { fileURLToPath } from 'node:url';
import { Logger, makeWorkerUtils, runMigrations, type WorkerUtils } from 'graphile-worker';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { graphileWorkerAdapter } from '../../../src/adapters/graphile-worker/index.js';
import { silentLogger } from '../../../src/core/logger.js';
import { type PostgresStore, postgresStore } from '../../../src/stores/postgres/index.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { killAllWorkers, spawnWorker, type WorkerProcess } from '../../support/processes.js';
import { makeTestPool } from '../graphile-worker/setup.js';

const graphileScript = fileURLToPath(new URL('../../fixtures/fleet/graphile-worker.ts', import.meta.url));
const bossScript = fileURLToPath(new URL('../../fixtures/fleet/pg-boss.ts', import.meta.url));
const quiet = new Logger(() => () => {});
const HEARTBEAT = 250;
// startGraphile's workers count as dead after 40 heartbeats (10 s) unless a
// test gives its own JT_DEAD_BEATS: on a loaded CI machine a live worker's
// loop can stall past 4 beats, and it must not be rescued by mistake.
const LIVE_DEAD_BEATS = '40';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Workers in real processes report their jobs to this (fourth) process; a
 * SIGKILLed graphile-worker's jobs are rescued by a live one.
 */
describe('the fleet across processes', () => {
  let db: TestDatabase;
  let utils: WorkerUtils;
  let store: PostgresStore;
  let observer: Terminator;

  beforeAll(async () => {
    db = await createTestDatabase('jobterm_fleet_xp');
    const pgPool = makeTestPool(db.url);
    await runMigrations({ pgPool, logger: quiet });
    utils = await makeWorkerUtils({ pgPool, logger: quiet });
    store = postgresStore({ connectionString: db.url, logger: silentLogger, receiveRequests: false });
    await store.migrate();
    // A requester: it needs graphile-worker's adapter to terminate graphile-worker jobs.
    observer = createTerminator({
      store,
      adapters: [graphileWorkerAdapter({ pool: pgPool })],
      logger: silentLogger,
      presence: false,
    });
  });
  afterEach(async () => {
    await killAllWorkers();
    // SIGKILLed workers leave locked jobs and presence rows: each test starts from none.
    await db.query('DELETE FROM graphile_worker._private_jobs');
    await db.query('DELETE FROM graphile_worker._private_job_queues');
    await db.query('DELETE FROM jobterm.workers');
    await db.query('DELETE FROM jobterm.kill_requests');
  });
  afterAll(async () => {
    await killAllWorkers();
    await observer?.close();
    await utils?.release();
    await db?.drop();
  });

  const startGraphile = async (env: Record<string, string> = {}): Promise<WorkerProcess> => {
    const worker = spawnWorker(graphileScript, {
      env: { DATABASE_URL: db.url, JT_HEARTBEAT: String(HEARTBEAT), JT_DEAD_BEATS: LIVE_DEAD_BEATS, ...env },
    });
    await worker.waitFor('ready', 60_000);
    return worker;
  };
  const jobRow = async (id: string) =>
    (
      await db.query<{ attempts: number; max_attempts: number; last_error: string | null; locked_by: string | null }>(
        'SELECT attempts, max_attempts, last_error, locked_by FROM graphile_worker.jobs WHERE id = $1',
        [id],
      )
    )[0];
  const until = async <T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string, timeout = 20_000) => {
    for (const deadline = Date.now() + timeout; ; await sleep(25)) {
      const value = await read();
      if (ok(value)) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}: ${JSON.stringify(value)}`);
    }
  };

  it('a graphile-worker and a pg-boss worker report their running jobs to another process within one heartbeat', async () => {
    const graphile = await startGraphile({ JT_WORKER_ID: 'gw-report' });
    const boss = spawnWorker(bossScript, {
      env: { DATABASE_URL: db.url, JT_HEARTBEAT: String(HEARTBEAT), JT_WORKER_ID: 'boss-report' },
    });
    const { bossWorkerId } = await boss.waitFor('ready', 60_000);
    const gwJob = await utils.addJob('hold', { ms: 60_000 });
    const gwStarted = await graphile.waitFor((m) => m.event === 'started' && m.id === gwJob.id);
    const startedAt = Date.now();
    const bossJobId = await sendBossJob(db, 'hold');
    await boss.waitFor((m) => m.event === 'started' && m.id === bossJobId);
    const bossStartedAt = Date.now();

    const snapshot = await until(
      () => observer.fleet(),
      (s) => s.workers.flatMap((w) => w.jobs).filter((j) => [gwJob.id, bossJobId].includes(j.ref.id)).length === 2,
      'both jobs are listed',
    );
    // One heartbeat (250 ms) plus a generous margin for a loaded machine; the observer polls every 25 ms.
    expect(Date.now() - Math.max(startedAt, bossStartedAt)).toBeLessThan(HEARTBEAT + 2_500);
    const gw = snapshot.workers.find((w) => w.workerId === 'gw-report');
    const bw = snapshot.workers.find((w) => w.workerId === 'boss-report');
    expect(gw?.queues).toEqual([{ queue: 'graphile-worker', queueIds: [gwStarted.poolId] }]);
    expect(gw?.jobs).toEqual([
      expect.objectContaining({
        ref: { queue: 'graphile-worker', id: gwJob.id },
        task: 'hold',
        attempt: 1,
        queueWorkerId: gwStarted.poolId,
        termination: { state: 'none' },
      }),
    ]);
    expect(gw).toMatchObject({ pid: graphile.pid, alive: true, versions: { node: expect.any(String) } });
    expect(bw?.queues).toEqual([{ queue: 'pg-boss', names: ['hold'], queueIds: [bossWorkerId] }]);
    expect(bw?.jobs).toEqual([
      expect.objectContaining({ ref: { queue: 'pg-boss', name: 'hold', id: bossJobId }, task: 'hold', attempt: 1 }),
    ]);

    // A kill's state is current (written when the token fires), not one heartbeat late.
    await observer.terminate({ queue: 'graphile-worker', id: gwJob.id }, { reason: 'from the dashboard', wait: true });
    const [request] = await db.query('SELECT signalled_at, delivered_by FROM jobterm.kill_requests');
    expect(request).toMatchObject({ delivered_by: 'gw-report', signalled_at: expect.any(Date) });

    // A clean shutdown leaves the fleet.
    graphile.kill('SIGTERM');
    boss.kill('SIGTERM');
    await Promise.all([graphile.exited, boss.exited]);
    const after = await observer.fleet({ includeDead: true });
    expect(after.workers.map((w) => w.workerId)).not.toContain('gw-report');
    expect(after.workers.map((w) => w.workerId)).not.toContain('boss-report');
  });

  it('a SIGKILLed graphile-worker’s job is unlocked and run by another worker within a few heartbeats, rescued once', async () => {
    const doomed = await startGraphile({ JT_WORKER_ID: 'gw-doomed', JT_DEAD_BEATS: '4' });
    const job = await utils.addJob('hold', { ms: 60_000 }, { maxAttempts: 5 });
    const started = await doomed.waitFor((m) => m.event === 'started' && m.id === job.id);
    // Its heartbeat listed the job, so the rescue knows of it.
    await until(
      () => observer.fleet({ worker: 'gw-doomed' }),
      (s) => s.workers[0]?.jobs.length === 1,
      'listed',
    );
    // Two live workers race to rescue it; their loops are busy with nothing.
    const rescuers = [await startGraphile({ JT_WORKER_ID: 'gw-r1' }), await startGraphile({ JT_WORKER_ID: 'gw-r2' })];
    const killedAt = Date.now();
    doomed.kill('SIGKILL');
    await doomed.exited;
    expect((await jobRow(job.id))?.locked_by).toBe(started.poolId);

    const rerun = await Promise.race(
      rescuers.map((worker) => worker.waitFor((m) => m.event === 'started' && m.id === job.id, 30_000)),
    );
    // Dead after 4 heartbeats (1 s), then the next sweep: seconds, not graphile's 4 hours.
    expect(Date.now() - killedAt).toBeLessThan(15_000);
    expect(rerun.attempts).toBe(2);
    await sleep(HEARTBEAT * 6);
    const rescues = rescuers.flatMap((worker) => worker.messages.filter((m) => m.event === 'rescued'));
    expect(rescues).toEqual([expect.objectContaining({ workerId: 'gw-doomed', requeued: [job.id], terminated: [] })]);
    const all = await observer.fleet({ includeDead: true });
    expect(all.workers.map((w) => w.workerId)).not.toContain('gw-doomed');
  });

  it('a dead worker’s job with an open kill request is ended for good instead, and the request resolved', async () => {
    const rescuer = await startGraphile({ JT_WORKER_ID: 'gw-rescuer' });
    // The rescuer is busy, so only the doomed worker can claim the next job.
    // It starts only then: started before, it could claim the busy job itself.
    const busy = await utils.addJob('hold', { ms: 60_000 });
    await rescuer.waitFor((m) => m.event === 'started' && m.id === busy.id);
    // Dead after 12 heartbeats (3 s): time enough to store the kill before any rescue, on a loaded machine too.
    const doomed = await startGraphile({ JT_WORKER_ID: 'gw-doomed-2', JT_DEAD_BEATS: '12' });
    const job = await utils.addJob('hold', { ms: 60_000 }, { maxAttempts: 5 });
    await doomed.waitFor((m) => m.event === 'started' && m.id === job.id);
    await until(
      () => observer.fleet({ worker: 'gw-doomed-2' }),
      (s) => s.workers[0]?.jobs.length === 1,
      'listed',
    );
    // Frozen first, so the request is stored while nobody can deliver it; then killed.
    doomed.kill('SIGSTOP');
    const stored = await observer.terminate({ queue: 'graphile-worker', id: job.id }, { reason: 'stop it' });
    expect(stored.status).toBe('requested');
    doomed.kill('SIGKILL');
    await doomed.exited;
    expect(await store.waitForResolution(stored.requestId!, { timeout: 30_000 })).toBe('terminated');
    const row = await jobRow(job.id);
    expect(row).toMatchObject({ attempts: 5, max_attempts: 5, locked_by: null });
    expect(row?.last_error).toMatch(/^Terminated: stop it/);
    // The request is resolved before the rescue finishes (removes the row, emits): wait for the event.
    await rescuer.waitFor('rescued');
    expect(rescuer.messages.filter((m) => m.event === 'rescued')).toEqual([
      expect.objectContaining({ workerId: 'gw-doomed-2', terminated: [job.id] }),
    ]);
    expect(rescuer.messages.some((m) => m.event === 'started' && m.id === job.id)).toBe(false);
    const [request] = await db.query('SELECT outcome, resolved_by FROM jobterm.kill_requests WHERE job_id = $1', [
      job.id,
    ]);
    expect(request).toEqual({ outcome: 'terminated', resolved_by: 'gw-rescuer' });
  });

  it('a worker that is only slow (loop blocked for less than its dead threshold) is not declared dead', async () => {
    const watchers = [await startGraphile({ JT_WORKER_ID: 'gw-w1' }), await startGraphile({ JT_WORKER_ID: 'gw-w2' })];
    // Busy, so the slow worker gets the next job. Either watcher may claim
    // either job (both poll), so each waits for a job of its own, not for a
    // given one: waiting for watcher 1 to start job 1 hung when watcher 2
    // claimed it (CI, 2026-12-01).
    await Promise.all(watchers.map(() => utils.addJob('hold', { ms: 60_000 })));
    await Promise.all(watchers.map((watcher) => watcher.waitFor('started')));
    // Its own threshold: 12 heartbeats = 3 s; it stalls for 1.5 s, six times its interval.
    const slow = await startGraphile({ JT_WORKER_ID: 'gw-slow', JT_DEAD_BEATS: '12' });
    // Registered before it stalls, so there is a row a rescuer could find stale.
    await until(
      () => observer.fleet({ worker: 'gw-slow' }),
      (s) => s.workers.length === 1,
      'the slow worker registered',
    );
    const job = await utils.addJob('block', { ms: 1_500 });
    await slow.waitFor((m) => m.event === 'finished' && m.id === job.id, 30_000);
    await sleep(HEARTBEAT * 6);
    expect(watchers.flatMap((w) => w.messages.filter((m) => m.event === 'rescued'))).toEqual([]);
    expect(await jobRow(job.id)).toBeUndefined(); // completed once, deleted by graphile
    const snapshot = await observer.fleet();
    expect(snapshot.workers.find((w) => w.workerId === 'gw-slow')?.alive).toBe(true);
    expect(slow.messages.filter((m) => m.event === 'started' && m.id === job.id)).toHaveLength(1);
  });
});

async function sendBossJob(db: TestDatabase, queue: string): Promise<string> {
  const { PgBoss } = await import('pg-boss');
  const boss = new PgBoss({ connectionString: db.url, supervise: false, schedule: false });
  boss.on('error', () => {});
  await boss.start();
  try {
    const id = await boss.send(queue, {});
    if (id === null) throw new Error('pg-boss refused the job');
    return id;
  } finally {
    await boss.stop({ graceful: false });
  }
}
