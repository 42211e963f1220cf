// The kill rows of the semantics table, with real graphile-worker runners in
// their own OS processes. The kill is requested inside the worker process
// (`terminator.terminate()` for a job running there); cross-process kills
// through the store are in cross-process.test.ts.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killAllWorkers } from '../../support/processes.js';
import { events, forJob, type GraphileTestDatabase, prepareGraphileDatabase } from './setup.js';

let gw: GraphileTestDatabase;
beforeAll(async () => {
  gw = await prepareGraphileDatabase();
});
afterAll(() => gw?.close());
afterEach(async () => {
  await killAllWorkers();
  await gw.reset();
});

describe('graphile-worker: a job that finishes or fails on its own', () => {
  it('completes normally: the row is deleted, the task had a token and was not terminating, nothing is left behind', async () => {
    const worker = await gw.startWorker();
    const id = await gw.addJob({ behave: 'complete' });
    const start = await worker.waitFor(forJob('task-start', id));
    expect(start).toMatchObject({ hasToken: true, sameToken: true, terminating: false, attempts: 1 });
    const done = await worker.waitFor(forJob('job-done', id));
    // Under the plugin jobterm adds no listener to graphile's pool-wide abortSignal
    // (the plugin's shutdown fires every token first), and leaves none behind.
    expect(done).toMatchObject({ error: null, running: 0, abortListeners: start.abortListeners });
    // graphile's complete write is fired after the task returns, not awaited.
    await expect.poll(() => gw.row(id), { timeout: 5_000 }).toBeUndefined();
  });

  it('fails on its own: graphile’s retry rules apply (attempt spent, run_at pushed back, unlocked)', async () => {
    const worker = await gw.startWorker();
    const id = await gw.addJob({ behave: 'fail' });
    await worker.waitFor(forJob('job-done', id));
    // graphile's own fail write, fired after the task returns.
    await expect.poll(async () => (await gw.row(id))?.locked_at, { timeout: 5_000 }).toBeNull();
    const row = await gw.row(id);
    expect(row).toMatchObject({ attempts: 1, max_attempts: 25, last_error: 'boom', locked_at: null, locked_by: null });
    expect(row!.run_at.getTime()).toBeGreaterThan(row!.now.getTime());
  });
});

describe('graphile-worker: kill of a running job', () => {
  it('ends it for good: attempts = max_attempts, last_error "Terminated: ...", unlocked, never retried', async () => {
    const worker = await gw.startWorker({ JT_ACTION: 'kill-on-start' });
    const id = await gw.addJob({ behave: 'cooperate' }, { maxAttempts: 5 });
    const start = await worker.waitFor(forJob('task-start', id));
    const saw = await worker.waitFor(forJob('saw-termination', id));
    expect(saw).toMatchObject({
      kind: 'kill',
      message: 'operator said stop',
      viaCurrentToken: 'kill',
      isTerminating: true,
    });
    const done = await worker.waitFor(forJob('job-done', id));
    expect(done).toMatchObject({ running: 0, abortListeners: start.abortListeners });
    expect(done.error).toMatch(/^Terminated: operator said stop/);
    // graphile's in-memory job was brought in line, so its own "permanently failed" event fires.
    await worker.waitFor(forJob('graphile-job-failed', id));
    const row = await gw.row(id);
    expect(row).toMatchObject({
      attempts: 5,
      max_attempts: 5,
      last_error: 'Terminated: operator said stop (by test)',
      locked_at: null,
      locked_by: null,
      is_available: false,
    });
    // Never retried: the worker stays free and runs the next job, not this one again.
    const next = await gw.addJob({ behave: 'complete' });
    await worker.waitFor(forJob('job-done', next));
    expect(events(worker, 'task-start', id)).toHaveLength(1);
  });

  it('a task that saw the kill (read its reason, isTerminating() true) and returns normally ends as terminated, not completed', async () => {
    const worker = await gw.startWorker({ JT_ACTION: 'kill-on-start' });
    const id = await gw.addJob({ behave: 'return' }, { maxAttempts: 3 });
    await worker.waitFor(forJob('job-done', id));
    expect(await gw.row(id)).toMatchObject({ attempts: 3, max_attempts: 3, locked_at: null });
    expect((await gw.row(id))!.last_error).toMatch(/^Terminated: operator said stop/);
  });

  it('a task that ignores the kill is settled at killTimeout; the worker moves on while its code still runs', async () => {
    const worker = await gw.startWorker({ JT_ACTION: 'kill-on-start', JT_KILL_TIMEOUT: '300' });
    const id = await gw.addJob({ behave: 'ignore', ms: 3_000 });
    await worker.waitFor(forJob('escalated', id));
    await worker.waitFor(forJob('unresponsive', id));
    await worker.waitFor(forJob('job-done', id));
    expect(await gw.row(id)).toMatchObject({ attempts: 25, max_attempts: 25, locked_at: null, locked_by: null });
    // The worker is free before the ignored code finishes.
    const next = await gw.addJob({ behave: 'complete' });
    await worker.waitFor(forJob('job-done', next));
    expect(events(worker, 'late-finish', id)).toHaveLength(0);
    // Its late result changes nothing: the row stays permanently failed.
    await worker.waitFor(forJob('late-finish', id), 10_000);
    await sleep(100);
    expect(await gw.row(id)).toMatchObject({ attempts: 25, max_attempts: 25, locked_at: null });
  });

  it('with a local queue: the killed job ends for good, the jobs queued beside it run once each', async () => {
    const worker = await gw.startWorker({ JT_ACTION: 'kill-on-start', JT_LOCAL_QUEUE: '4', JT_CONCURRENCY: '1' });
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await gw.addJob({ behave: 'cooperate', tag: `q${i}` }, { maxAttempts: 4 }));
    for (const id of ids) await worker.waitFor(forJob('job-done', id));
    for (const id of ids) {
      const row = await gw.row(id);
      expect(row).toMatchObject({ attempts: 4, max_attempts: 4, locked_at: null, locked_by: null });
      expect(row!.last_error).toMatch(/^Terminated: /);
      expect(events(worker, 'task-start', id)).toHaveLength(1);
    }
    expect(await gw.locked()).toEqual({ jobs: 0, queues: 0 });
  });

  it('in a named queue: the queue is released, so the next job of that queue runs', async () => {
    const worker = await gw.startWorker({ JT_ACTION: 'kill-on-start' });
    const id = await gw.addJob({ behave: 'cooperate' }, { queueName: 'serial' });
    await worker.waitFor(forJob('job-done', id));
    expect(await gw.locked()).toEqual({ jobs: 0, queues: 0 });
    const row = await gw.row(id);
    expect(row).toMatchObject({ locked_at: null });
    expect(row!.attempts).toBe(row!.max_attempts);
  });
});

describe('graphile-worker: timeout (maxRuntime)', () => {
  it('fails that attempt with "Timed out:" and leaves graphile’s retry rules to apply', async () => {
    const worker = await gw.startWorker({ JT_MAX_RUNTIME: '200' });
    const id = await gw.addJob({ behave: 'cooperate' }, { maxAttempts: 3 });
    const saw = await worker.waitFor(forJob('saw-termination', id));
    expect(saw).toMatchObject({ kind: 'timeout' });
    await worker.waitFor(forJob('job-done', id));
    await expect.poll(async () => (await gw.row(id))?.locked_at, { timeout: 5_000 }).toBeNull();
    const row = await gw.row(id);
    expect(row).toMatchObject({ attempts: 1, max_attempts: 3, locked_at: null, locked_by: null, is_available: true });
    expect(row!.last_error).toMatch(/^Timed out: maxRuntime of 200 ms reached/);
    expect(row!.run_at.getTime()).toBeGreaterThan(row!.now.getTime());
  });
});
