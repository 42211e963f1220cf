// "Did the job see it?" with real graphile-worker runners in their own OS
// processes: a task that ignores jobterm and finishes during a shutdown or
// after a kill is completed (its row deleted) and never runs again; one that
// saw the termination and returned, or whose fetch on the signal rejected,
// stopped early.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { graphileWorkerAdapter, jobRef } from '../../../src/adapters/graphile-worker/index.js';
import { silentLogger } from '../../../src/core/logger.js';
import { postgresStore } from '../../../src/stores/postgres/index.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';
import { killAllWorkers, type WorkerProcess } from '../../support/processes.js';
import { events, forJob, type GraphileTestDatabase, prepareGraphileDatabase } from './setup.js';

let gw: GraphileTestDatabase;
let adapter: ReturnType<typeof graphileWorkerAdapter>;
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

async function exitedCleanly(worker: WorkerProcess) {
  expect(await worker.exited).toEqual({ code: 0, signal: null });
}

/** A second worker runs a marker job to its end: had `id` still been in the queue, it would have run first. */
async function neverRunsAgain(id: string) {
  const next = await gw.startWorker(withStore);
  const marker = await gw.addJob({ behave: 'complete' }, { priority: 10 });
  await next.waitFor(forJob('job-done', marker));
  expect(events(next, 'task-start', id)).toHaveLength(0);
}

describe('graphile-worker, SIGTERM (graceful shutdown)', () => {
  it('a task that ignores jobterm and finishes within shutdownTimeout is completed, and never runs again', async () => {
    const worker = await gw.startWorker(withStore);
    const id = await gw.addJob({ behave: 'ignore', ms: 800 }, { maxAttempts: 5 });
    await worker.waitFor(forJob('task-start', id));
    worker.kill('SIGTERM');
    await worker.waitFor(forJob('late-finish', id));
    await exitedCleanly(worker);
    // Completed: graphile deleted the row (flushed by its graceful shutdown, which jobterm awaits).
    expect(await gw.row(id)).toBeUndefined();
    expect(events(worker, 'interrupted', id)).toHaveLength(0);
    expect(events(worker, 'task-start', id)).toHaveLength(1);
    await neverRunsAgain(id);
  });

  it('`while (!isTerminating()) await step()` that returns is put back, its attempt not spent', async () => {
    const worker = await gw.startWorker(withStore);
    const id = await gw.addJob({ behave: 'poll' }, { maxAttempts: 5 });
    await worker.waitFor(forJob('task-start', id));
    worker.kill('SIGTERM');
    await worker.waitFor(forJob('poll-returned', id));
    expect(await worker.waitFor(forJob('interrupted', id))).toMatchObject({ kind: 'shutdown' });
    await exitedCleanly(worker);
    expect(await gw.row(id)).toMatchObject({
      attempts: 0,
      locked_at: null,
      locked_by: null,
      last_error: 'Interrupted: worker shutting down',
    });
  });

  it('a fetch on helpers.jobterm.signal that rejects is interrupted: put back, attempt not spent', async () => {
    const worker = await gw.startWorker(withStore);
    const id = await gw.addJob({ behave: 'fetch' }, { maxAttempts: 5 });
    await worker.waitFor(forJob('task-start', id));
    worker.kill('SIGTERM');
    expect(await worker.waitFor(forJob('fetch-rejected', id))).toMatchObject({ name: 'JobTerminatedError' });
    expect(await worker.waitFor(forJob('interrupted', id))).toMatchObject({ kind: 'shutdown' });
    await exitedCleanly(worker);
    expect(await gw.row(id)).toMatchObject({
      attempts: 0,
      locked_at: null,
      last_error: 'Interrupted: worker shutting down',
    });
  });
});

describe('graphile-worker, a kill from another process', () => {
  it('a task that ignores jobterm and finishes: completed, and terminate({ wait }) answers already_finished', async () => {
    const worker = await gw.startWorker(withStore);
    const id = await gw.addJob({ behave: 'ignore', ms: 1_000 }, { maxAttempts: 5 });
    await worker.waitFor(forJob('task-start', id));
    const result = await requester.terminate(jobRef(id), { reason: 'too late', wait: true, timeout: 15_000 });
    expect(result.status).toBe('already_finished');
    await worker.waitFor(forJob('terminating', id));
    await worker.waitFor(forJob('job-done', id));
    await expect.poll(() => gw.row(id), { timeout: 5_000 }).toBeUndefined();
    expect(events(worker, 'terminated', id)).toHaveLength(0);
    const [request] = await gw.db.query<{ status: string; outcome: string }>(
      'select status, outcome from jobterm.kill_requests where id = $1',
      [result.requestId],
    );
    expect(request).toEqual({ status: 'resolved', outcome: 'already_finished' });
    worker.kill('SIGTERM');
    await exitedCleanly(worker);
    expect(events(worker, 'task-start', id)).toHaveLength(1);
    await neverRunsAgain(id);
  });

  it('`while (!isTerminating()) await step()` that returns: terminated, ended for good', async () => {
    const worker = await gw.startWorker(withStore);
    const id = await gw.addJob({ behave: 'poll' }, { maxAttempts: 4 });
    await worker.waitFor(forJob('task-start', id));
    const result = await requester.terminate(jobRef(id), { reason: 'stop', wait: true, timeout: 15_000 });
    expect(result.status).toBe('terminated');
    await worker.waitFor(forJob('poll-returned', id));
    expect(await gw.row(id)).toMatchObject({
      attempts: 4,
      max_attempts: 4,
      last_error: 'Terminated: stop',
      locked_at: null,
    });
  });

  it('a fetch on helpers.jobterm.signal that rejects: terminated, ended for good', async () => {
    const worker = await gw.startWorker(withStore);
    const id = await gw.addJob({ behave: 'fetch' }, { maxAttempts: 4 });
    await worker.waitFor(forJob('task-start', id));
    const result = await requester.terminate(jobRef(id), { reason: 'stop', wait: true, timeout: 15_000 });
    expect(result.status).toBe('terminated');
    expect(await worker.waitFor(forJob('fetch-rejected', id))).toMatchObject({ name: 'JobTerminatedError' });
    expect(await gw.row(id)).toMatchObject({ attempts: 4, max_attempts: 4, last_error: 'Terminated: stop' });
  });
});
