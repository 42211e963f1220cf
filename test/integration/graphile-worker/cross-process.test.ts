// Kills that cross processes: the test process terminates jobs (through the
// PostgreSQL kill store and graphileWorkerAdapter) that graphile-worker
// runners in other OS processes run, hold, or have not started.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type GraphileWorkerAdapter,
  graphileWorkerAdapter,
  jobRef,
} from '../../../src/adapters/graphile-worker/index.js';
import { silentLogger } from '../../../src/core/logger.js';
import { postgresStore } from '../../../src/stores/postgres/index.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';
import { killAllWorkers } from '../../support/processes.js';
import { events, forJob, type GraphileTestDatabase, prepareGraphileDatabase } from './setup.js';

let gw: GraphileTestDatabase;
let adapter: GraphileWorkerAdapter;
let requester: Terminator;

beforeAll(async () => {
  gw = await prepareGraphileDatabase();
  adapter = graphileWorkerAdapter({ connectionString: gw.db.url });
  requester = createTerminator({
    store: postgresStore({ connectionString: gw.db.url, receiveRequests: false, logger: silentLogger }),
    adapters: [adapter],
    logger: silentLogger,
  });
  await requester.whenReady();
});
afterAll(async () => {
  await requester?.close();
  await adapter?.close();
  await gw?.close();
});
afterEach(async () => {
  await killAllWorkers();
  await gw.reset();
});

const withStore = { JT_STORE: '1' };

describe('graphile-worker across processes: kill of a running job', () => {
  it('a CPU-bound loop in a worker thread is really stopped: ended for good at killTimeout, the thread gone, the loop free meanwhile', async () => {
    const worker = await gw.startWorker({ ...withStore, JT_KILL_TIMEOUT: '300', JT_CONCURRENCY: '2' });
    const id = await gw.addJob({ behave: 'spin' }, { maxAttempts: 3 });
    await worker.waitFor(forJob('spinning', id), 30_000);
    // The spinning thread does not block the worker's event loop: another job runs meanwhile.
    const other = await gw.addJob({ behave: 'complete' });
    await worker.waitFor(forJob('job-done', other));
    const result = await requester.terminate(jobRef(id), { reason: 'runaway', wait: true, timeout: 15_000 });
    expect(result.status).toBe('terminated');
    expect(await worker.waitFor(forJob('escalated', id))).toMatchObject({ kind: 'kill', hardStopped: true });
    expect(events(worker, 'unresponsive', id)).toHaveLength(0);
    expect(await gw.row(id)).toMatchObject({
      attempts: 3,
      max_attempts: 3,
      last_error: 'Terminated: runaway',
      locked_at: null,
    });
    // A thread still spinning would burn about 300 ms of CPU in these 300 ms.
    expect((await worker.waitFor(forJob('cpu-after-escalation', id))).ms).toBeLessThan(150);
  });

  it('reaches the job in the worker process; wait resolves once graphile’s row is ended for good', async () => {
    const worker = await gw.startWorker(withStore);
    const id = await gw.addJob({ behave: 'cooperate' }, { maxAttempts: 6 });
    await worker.waitFor(forJob('task-start', id));
    const result = await requester.terminate(jobRef(id), {
      reason: 'customer cancelled',
      requestedBy: 'support@acme',
      wait: true,
      timeout: 15_000,
    });
    expect(result).toMatchObject({ status: 'terminated', ref: jobRef(id) });
    expect(result.requestId).toEqual(expect.any(String));
    expect(await worker.waitFor(forJob('saw-termination', id))).toMatchObject({
      kind: 'kill',
      message: 'customer cancelled',
      viaCurrentToken: 'kill',
    });
    // Resolved only after the queue write: the row is final when wait returns.
    expect(await gw.row(id)).toMatchObject({
      attempts: 6,
      max_attempts: 6,
      last_error: 'Terminated: customer cancelled (by support@acme)',
      locked_at: null,
      locked_by: null,
    });
    const next = await gw.addJob({ behave: 'complete' });
    await worker.waitFor(forJob('job-done', next));
    expect(events(worker, 'task-start', id)).toHaveLength(1);
  });

  it('with a local queue: a job claimed into it but not started is stopped at its start, never run', async () => {
    const worker = await gw.startWorker({ ...withStore, JT_LOCAL_QUEUE: '3', JT_CONCURRENCY: '1' });
    const busy = await gw.addJob({ behave: 'ignore', ms: 1_500 }, { priority: -1 });
    const held = await gw.addJob({ behave: 'cooperate' }, { maxAttempts: 4 });
    await worker.waitFor(forJob('task-start', busy));
    // Locked by the worker's local queue, so graphile's cancel skips it: the kill row must stop it.
    await expect.poll(async () => (await gw.row(held))?.locked_at, { timeout: 5_000 }).not.toBeNull();
    expect(await adapter.jobState(jobRef(held))).toBe('running');
    const result = await requester.terminate(jobRef(held), { reason: 'not this one', wait: true, timeout: 15_000 });
    expect(result.status).toBe('terminated');
    await worker.waitFor(forJob('job-done', held));
    expect(events(worker, 'task-start', held)).toHaveLength(0);
    expect(await gw.row(held)).toMatchObject({
      attempts: 4,
      max_attempts: 4,
      last_error: 'Terminated: not this one',
      locked_at: null,
    });
    expect(await gw.row(busy)).toBeUndefined();
  });
});

describe('graphile-worker across processes: kill of a job that has not started', () => {
  it('fails it permanently before start; a worker started afterwards never runs it', async () => {
    const id = await gw.addJob({ behave: 'cooperate' }, { maxAttempts: 3 });
    const result = await requester.terminate(jobRef(id), { reason: 'wrong input' });
    expect(result).toMatchObject({ status: 'terminated' });
    expect(await gw.row(id)).toMatchObject({
      attempts: 3,
      max_attempts: 3,
      last_error: 'Terminated: wrong input',
      locked_at: null,
    });
    const worker = await gw.startWorker(withStore);
    const other = await gw.addJob({ behave: 'complete' });
    await worker.waitFor(forJob('job-done', other));
    expect(events(worker, 'task-start', id)).toHaveLength(0);
  });

  it('a finished or unknown job: already_finished / not_found, and no request is left pending', async () => {
    const worker = await gw.startWorker(withStore);
    const id = await gw.addJob({ behave: 'complete' });
    await worker.waitFor(forJob('job-done', id));
    // graphile's complete write is fired after the task returns, not awaited.
    await expect.poll(() => gw.row(id), { timeout: 5_000 }).toBeUndefined();
    expect(await requester.terminate(jobRef(id))).toMatchObject({ status: 'already_finished' });
    expect(await requester.terminate(jobRef('987654321'))).toMatchObject({ status: 'not_found' });
    const open = await gw.db.query(`select id from jobterm.kill_requests where status <> 'resolved'`);
    expect(open).toEqual([]);
  });
});

describe('graphile-worker across processes: the worker dies mid-termination', () => {
  it('graphile’s recovery hands the job to another worker, and the kill request stops it at start', async () => {
    const first = await gw.startWorker({ ...withStore, JT_KILL_TIMEOUT: '60000' });
    const id = await gw.addJob({ behave: 'ignore', ms: 60_000 }, { maxAttempts: 5 });
    await first.waitFor(forJob('task-start', id));
    const result = await requester.terminate(jobRef(id), { reason: 'runaway' });
    expect(result.status).toBe('requested');
    await first.waitFor(forJob('terminating', id));
    first.kill('SIGKILL');
    await first.exited;
    const locked = await gw.row(id);
    expect(locked).toMatchObject({ attempts: 1 });
    expect(locked!.locked_by).not.toBeNull();
    // graphile's own recovery for dead workers (what its 4-hour stale-lock reset does, at once).
    await gw.db.query('select graphile_worker.force_unlock_workers(array[$1::text])', [locked!.locked_by]);
    const second = await gw.startWorker(withStore);
    await second.waitFor(forJob('terminated', id));
    await second.waitFor(forJob('job-done', id));
    expect(events(second, 'task-start', id)).toHaveLength(0);
    expect(await gw.row(id)).toMatchObject({
      attempts: 5,
      max_attempts: 5,
      last_error: 'Terminated: runaway',
      locked_at: null,
    });
  });
});

describe('graphile-worker across processes: iterate() with maxRuntime', () => {
  it('goes back after each slice without spending an attempt, and resumes after its cursor until done', async () => {
    const worker = await gw.startWorker(withStore);
    const id = await gw.addJob({ behave: 'iterate' }, { maxAttempts: 2 });
    const first = await worker.waitFor(forJob('iterate-interrupted', id));
    expect(first.kind).toBe('timeout');
    // The pool still fetches, so jobterm only refunds the attempt and graphile's
    // own fail write unlocks the job (with its retry delay: exp(0) = 1 s).
    await expect.poll(async () => (await gw.row(id))?.locked_at, { timeout: 5_000 }).toBeNull();
    const between = await gw.row(id);
    expect(between).toMatchObject({ attempts: 0, max_attempts: 2, locked_by: null });
    expect(between!.last_error).toMatch(/^Timed out: /);
    const done = await worker.waitFor(forJob('iterate-complete', id), 20_000);
    await worker.waitFor(forJob('job-done', id));
    // Several runs, each attempt 1 (never spent), and every item processed once in all.
    const starts = events(worker, 'task-start', id);
    expect(starts.length).toBeGreaterThan(1);
    expect(starts.every((m) => m.attempts === 1)).toBe(true);
    const interrupted = events(worker, 'iterate-interrupted', id).reduce((sum, m) => sum + (m.processed as number), 0);
    expect(interrupted + (done.processed as number)).toBe(30);
    // graphile's own complete write (not awaited by graphile).
    await expect.poll(() => gw.row(id), { timeout: 5_000 }).toBeUndefined();
  });
});
