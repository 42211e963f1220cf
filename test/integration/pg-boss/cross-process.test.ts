// DESIGN.md's semantics table for pg-boss, row by row, with real pg-boss 12
// workers in their own OS processes and this test process as the requester
// (its own terminator, the PostgreSQL store, and the SQL-only pg-boss
// adapter). Each test asserts pg-boss's job row (state, retry_count, output)
// and what the worker's handler saw.
import { fileURLToPath } from 'node:url';
import { PgBoss } from 'pg-boss';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type PgBossAdapter, pgBossAdapter } from '../../../src/adapters/pg-boss/index.js';
import { silentLogger } from '../../../src/core/logger.js';
import { postgresStore } from '../../../src/stores/postgres/index.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';
import { jobRow, waitForRow } from '../../fixtures/pg-boss/rows.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { killAllWorkers, spawnWorker, type WorkerMessage } from '../../support/processes.js';

const workerScript = fileURLToPath(new URL('../../fixtures/pg-boss/worker.ts', import.meta.url));

describe('pg-boss jobs terminated across OS processes', () => {
  let db: TestDatabase;
  let boss: PgBoss;
  let adapter: PgBossAdapter;
  let requester: Terminator;
  let queueSeq = 0;

  beforeAll(async () => {
    db = await createTestDatabase('jobterm_pgboss_xproc');
    // This process only sends jobs: no workers, no maintenance.
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

  async function queue(options: Record<string, unknown> = {}): Promise<string> {
    const name = `x${++queueSeq}`;
    await boss.createQueue(name, { notify: true, retryLimit: 2, ...options });
    return name;
  }
  async function startWorker(name: string, env: Record<string, string> = {}) {
    const worker = spawnWorker(workerScript, {
      env: { DATABASE_URL: db.url, QUEUE: name, WORKER_ID: 'worker-a', ...env },
    });
    await worker.waitFor('ready');
    return worker;
  }
  const about = (event: string, id: string) => (m: WorkerMessage) => m.event === event && m.id === id;
  const requestRow = async (id: string) =>
    (
      await db.query('SELECT status, outcome, delivered_by, resolved_by FROM jobterm.kill_requests WHERE id = $1', [id])
    )[0];

  it('finishes normally: completed, with the handler’s result', async () => {
    const name = await queue();
    const a = await startWorker(name, { MODE: 'complete' });
    const id = (await boss.send(name, { value: 7 }))!;
    const row = await waitForRow(db.pool, id, (r) => r.state === 'completed');
    expect(row).toMatchObject({ retry_count: 0, output: { done: true, by: 'worker-a', value: 7 } });
    expect(await a.waitFor(about('job-started', id))).toMatchObject({ retryCount: 0, tokenInContext: true });
  });

  it('kill, and the job stops: the worker’s handler sees it; cancelled, never retried', async () => {
    const name = await queue();
    const a = await startWorker(name);
    const id = (await boss.send(name, {}))!;
    await a.waitFor(about('job-started', id));
    const result = await requester.terminate(
      { queue: 'pg-boss', name, id },
      { reason: 'bad deploy', requestedBy: 'ops', wait: true, timeout: 10_000 },
    );
    expect(result.status).toBe('terminated');
    expect((await a.waitFor(about('job-signal', id))).reason).toEqual({
      kind: 'kill',
      message: 'bad deploy',
      requestedBy: 'ops',
    });
    expect((await a.waitFor(about('job-signal', id))).signalReason).toBe('JobTerminatedError');
    const row = await jobRow(db.pool, id);
    expect(row).toMatchObject({ state: 'cancelled', retry_count: 0 });
    expect(row!.output).toMatchObject({
      name: 'JobTerminatedError',
      message: 'Terminated: bad deploy (by ops)',
      reason: { kind: 'kill', requestId: result.requestId },
    });
    expect(await requestRow(result.requestId!)).toMatchObject({
      status: 'resolved',
      outcome: 'terminated',
      resolved_by: 'worker-a',
    });
    // Nothing brings it back: pg-boss's settle after the handler changed nothing.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await jobRow(db.pool, id)).toMatchObject({ state: 'cancelled', retry_count: 0 });
    expect(a.messages.filter((m) => m.event === 'job-started')).toHaveLength(1);
  });

  it('kill: a result the handler returns after it saw the kill (its listener read token.reason) does not complete the job', async () => {
    const name = await queue();
    const a = await startWorker(name);
    const id = (await boss.send(name, { mode: 'late-value' }))!;
    await a.waitFor(about('job-started', id));
    expect((await requester.terminate({ queue: 'pg-boss', name, id }, { wait: true, timeout: 10_000 })).status).toBe(
      'terminated',
    );
    await a.waitFor(about('job-end', id));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await jobRow(db.pool, id)).toMatchObject({
      state: 'cancelled',
      retry_count: 0,
      output: { message: 'Terminated: terminated by request' },
    });
  });

  it('kill, and the job ignores it past killTimeout: cancelled at the timeout, its late result ignored', async () => {
    const name = await queue();
    const a = await startWorker(name, { MODE: 'ignore', IGNORE_MS: '4000', KILL_TIMEOUT: '1000' });
    const id = (await boss.send(name, {}))!;
    await a.waitFor(about('job-started', id));
    const result = await requester.terminate({ queue: 'pg-boss', name, id }, { wait: true, timeout: 10_000 });
    expect(result.status).toBe('terminated');
    await a.waitFor(about('unresponsive', id));
    expect(a.messages.some((m) => m.event === 'job-end')).toBe(false);
    expect((await jobRow(db.pool, id))?.state).toBe('cancelled');
    await a.waitFor(about('job-end', id), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await jobRow(db.pool, id)).toMatchObject({ state: 'cancelled', retry_count: 0 });
  });

  it('kill of a job that has not started: cancelled through pg-boss, it never runs', async () => {
    const name = await queue();
    const a = await startWorker(name, { MODE: 'complete' });
    const id = (await boss.send(name, {}, { startAfter: 2 }))!;
    const result = await requester.terminate({ queue: 'pg-boss', name, id }, { reason: 'not needed' });
    expect(result.status).toBe('terminated');
    const row = await jobRow(db.pool, id);
    expect(row).toMatchObject({
      state: 'cancelled',
      retry_count: 0,
      started_on: null,
      output: { message: 'Terminated: not needed' },
    });
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(a.messages.some((m) => m.event === 'job-started')).toBe(false);
    expect(await requestRow(result.requestId!)).toMatchObject({ status: 'resolved', outcome: 'terminated' });
  });

  it('a stored kill stops the job at its start on whichever worker claims it', async () => {
    const name = await queue();
    const a = await startWorker(name, { MODE: 'complete' });
    // A request stored without pg-boss's cancel (the store's own request(), as a requester that
    // stored it and died would leave it): the kill row stops the job when a worker claims it.
    // (terminate() itself needs the pg-boss adapter, which cancels a queued job at once.)
    const bare = postgresStore({ connectionString: db.url, receiveRequests: false, logger: silentLogger });
    try {
      const id = (await boss.send(name, {}, { startAfter: 1 }))!;
      const { request } = await bare.request({ ref: { queue: 'pg-boss', name, id }, message: 'terminated by request' });
      const row = await waitForRow(db.pool, id, (r) => r.state === 'cancelled');
      expect(row.output).toMatchObject({ message: 'Terminated: terminated by request' });
      expect(a.messages.some((m) => m.event === 'job-started')).toBe(false);
      await a.waitFor(about('terminated', id));
      expect(await requestRow(request.id)).toMatchObject({
        status: 'resolved',
        outcome: 'terminated',
        resolved_by: 'worker-a',
      });
    } finally {
      await bare.close();
    }
  });

  it('a kill request for a finished or unknown job: already_finished, not_found', async () => {
    const name = await queue();
    await startWorker(name, { MODE: 'complete' });
    const id = (await boss.send(name, {}))!;
    await waitForRow(db.pool, id, (r) => r.state === 'completed');
    expect((await requester.terminate({ queue: 'pg-boss', name, id })).status).toBe('already_finished');
    expect((await requester.terminate({ queue: 'pg-boss', name, id: crypto.randomUUID() })).status).toBe('not_found');
    expect((await requester.terminate({ queue: 'pg-boss', name: 'nope', id })).status).toBe('not_found');
  });

  it('shutdown, and the job stops: back in the queue without spending a retry, then run again', async () => {
    const name = await queue();
    const a = await startWorker(name);
    const id = (await boss.send(name, {}))!;
    await a.waitFor(about('job-started', id));
    a.kill('SIGTERM');
    expect((await a.waitFor(about('job-signal', id))).reason).toMatchObject({
      kind: 'shutdown',
      message: 'worker shutting down',
    });
    expect(await a.exited).toEqual({ code: 0, signal: null });
    expect((await a.waitFor('shutdown-end')).jobs).toEqual([{ id, status: 'interrupted', escalated: false }]);
    const row = await jobRow(db.pool, id);
    expect(row).toMatchObject({
      state: 'created',
      retry_count: 0,
      started_on: null,
      output: { message: 'Interrupted: worker shutting down' },
    });
    expect(row!.start_after.getTime()).toBeLessThanOrEqual(Date.now());

    const b = await startWorker(name, { MODE: 'complete', WORKER_ID: 'worker-b' });
    expect((await b.waitFor(about('job-started', id))).retryCount).toBe(0);
    expect(await waitForRow(db.pool, id, (r) => r.state === 'completed')).toMatchObject({
      retry_count: 0,
      output: { by: 'worker-b' },
    });
  });

  it('shutdown: an idle worker on a notify queue picks the job up at once, not at its next poll', async () => {
    const name = await queue();
    const a = await startWorker(name);
    const id = (await boss.send(name, {}))!;
    await a.waitFor(about('job-started', id));
    // B polls every 60 s while NOTIFY is active; only the put-back's NOTIFY wakes it sooner.
    const b = await startWorker(name, { MODE: 'complete', WORKER_ID: 'worker-b', NOTIFY_POLL: '60' });
    const sigterm = Date.now();
    a.kill('SIGTERM');
    expect((await b.waitFor(about('job-started', id), 20_000)).retryCount).toBe(0);
    expect(Date.now() - sigterm).toBeLessThan(20_000);
    expect(await waitForRow(db.pool, id, (r) => r.state === 'completed')).toMatchObject({ retry_count: 0 });
  });

  it('shutdown, and the job ignores it past shutdownTimeout: put back anyway, the process exits', async () => {
    const name = await queue();
    const a = await startWorker(name, { MODE: 'ignore', IGNORE_MS: '10000', SHUTDOWN_TIMEOUT: '1000' });
    const id = (await boss.send(name, {}))!;
    await a.waitFor(about('job-started', id));
    a.kill('SIGTERM');
    expect(await a.exited).toEqual({ code: 0, signal: null });
    expect((await a.waitFor('shutdown-end')).jobs).toEqual([{ id, status: 'interrupted', escalated: true }]);
    expect(await jobRow(db.pool, id)).toMatchObject({ state: 'created', retry_count: 0, started_on: null });
  });

  it('a kill that arrives during a shutdown wins: cancelled, not put back', async () => {
    const name = await queue();
    const a = await startWorker(name, { MODE: 'ignore', IGNORE_MS: '10000', SHUTDOWN_TIMEOUT: '4000' });
    const id = (await boss.send(name, {}))!;
    await a.waitFor(about('job-started', id));
    a.kill('SIGTERM');
    expect((await a.waitFor(about('job-signal', id))).reason).toMatchObject({ kind: 'shutdown' });
    const result = await requester.terminate({ queue: 'pg-boss', name, id }, { wait: true, timeout: 10_000 });
    expect(result.status).toBe('terminated');
    expect(await a.exited).toEqual({ code: 0, signal: null });
    expect((await a.waitFor('shutdown-end')).jobs).toEqual([{ id, status: 'terminated', escalated: true }]);
    expect(await jobRow(db.pool, id)).toMatchObject({ state: 'cancelled', retry_count: 0 });
  });

  it('timeout (maxRuntime) of a job that saved progress: back in the queue without spending a retry', async () => {
    const name = await queue();
    const a = await startWorker(name, { MAX_RUNTIME: '500', SAVE_PROGRESS: '1' });
    const id = (await boss.send(name, {}))!;
    expect((await a.waitFor(about('job-signal', id))).reason).toMatchObject({
      kind: 'timeout',
      message: 'maxRuntime of 500 ms reached',
    });
    await a.waitFor(about('interrupted', id));
    a.kill('SIGKILL');
    await a.exited;
    // It may already be claimed again by A before it died; either way no retry was spent.
    const row = (await jobRow(db.pool, id))!;
    expect(row.retry_count).toBe(0);
    const b = await startWorker(name, { MODE: 'complete', WORKER_ID: 'worker-b' });
    if (row.state === 'created') {
      expect(row.output).toMatchObject({ message: 'Timed out: maxRuntime of 500 ms reached' });
      expect((await b.waitFor(about('job-started', id))).retryCount).toBe(0);
      expect(await waitForRow(db.pool, id, (r) => r.state === 'completed')).toMatchObject({ retry_count: 0 });
    }
  });

  it('timeout (maxRuntime) of a job that saved nothing: that attempt fails and pg-boss’s retry rules apply', async () => {
    const name = await queue({ retryLimit: 1 });
    const a = await startWorker(name, { MAX_RUNTIME: '300' });
    const id = (await boss.send(name, {}))!;
    const row = await waitForRow(db.pool, id, (r) => r.state === 'failed');
    expect(row).toMatchObject({
      retry_count: 1,
      output: { name: 'JobTerminatedError', message: 'Timed out: maxRuntime of 300 ms reached' },
    });
    expect(a.messages.filter((m) => m.event === 'job-started').map((m) => m.retryCount)).toEqual([0, 1]);
  });

  it('the worker dies mid-termination: pg-boss hands the job on, and the kill row stops it at start', async () => {
    const name = await queue({ expireInSeconds: 2, retryLimit: 3 });
    const a = await startWorker(name, { MODE: 'hang', KILL_TIMEOUT: '30000' });
    const id = (await boss.send(name, {}))!;
    await a.waitFor(about('job-started', id));
    const result = await requester.terminate({ queue: 'pg-boss', name, id });
    expect(result.status).toBe('requested');
    await a.waitFor(about('job-signal', id));
    a.kill('SIGKILL');
    await a.exited;
    // B's supervisor expires A's abandoned claim; the retry B claims is stopped before it runs.
    const b = await startWorker(name, { MODE: 'complete', WORKER_ID: 'worker-b', SUPERVISE: '1' });
    const row = await waitForRow(db.pool, id, (r) => r.state === 'cancelled', 20_000);
    expect(row.output).toMatchObject({ message: 'Terminated: terminated by request' });
    expect(b.messages.some((m) => m.event === 'job-started')).toBe(false);
    await b.waitFor(about('terminated', id));
    expect(await requestRow(result.requestId!)).toMatchObject({
      status: 'resolved',
      outcome: 'terminated',
      resolved_by: 'worker-b',
    });
  });

  it('a batch (eachJob, batchSize 3): killing one job ends that job only', async () => {
    const name = await queue();
    const victim = (await boss.send(name, { mode: 'cooperative' }))!;
    const others = [
      (await boss.send(name, { mode: 'complete', value: 1 }))!,
      (await boss.send(name, { mode: 'complete', value: 2 }))!,
    ];
    const a = await startWorker(name, { EACH_JOB: '1', BATCH_SIZE: '3' });
    await a.waitFor(about('job-started', victim));
    expect(
      (await requester.terminate({ queue: 'pg-boss', name, id: victim }, { wait: true, timeout: 10_000 })).status,
    ).toBe('terminated');
    expect(await waitForRow(db.pool, victim, (r) => r.state !== 'active')).toMatchObject({
      state: 'cancelled',
      retry_count: 0,
    });
    for (const id of others) {
      expect(await waitForRow(db.pool, id, (r) => r.state !== 'active')).toMatchObject({
        state: 'completed',
        retry_count: 0,
      });
    }
    expect(a.messages.filter((m) => m.event === 'job-started')).toHaveLength(3);
  });
});
