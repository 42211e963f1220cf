// The plain wrapper (`wrapTaskList()`, no plugin) in real worker processes:
// tokens and kills work the same; shutdown is graphile's own, and its
// `helpers.abortSignal` reaches the job's token as a shutdown.
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

const plain = { JT_MODE: 'wrapper', JT_HANDLE_SIGNALS: '0', JT_GRAPHILE_ABORT_TIMEOUT: '200' };

describe('graphile-worker: wrapTaskList() without the plugin', () => {
  it('gives each job its token (helpers.jobterm.token is currentToken()) and completes normally', async () => {
    const worker = await gw.startWorker(plain);
    // graphile keeps its own signal handlers: the plugin is what turns them off.
    expect(worker.messages[0]).toMatchObject({ sigtermListeners: 1 });
    const id = await gw.addJob({ behave: 'complete' });
    const start = await worker.waitFor(forJob('task-start', id));
    expect(start).toMatchObject({ hasToken: true, sameToken: true });
    // Without the plugin jobterm listens to graphile's abortSignal while the job
    // runs, and removes that listener when it settles.
    expect(await worker.waitFor(forJob('job-done', id))).toMatchObject({
      error: null,
      running: 0,
      abortListeners: (start.abortListeners as number) - 1,
    });
    await expect.poll(() => gw.row(id), { timeout: 5_000 }).toBeUndefined();
  });

  it('ends a killed job for good, as the plugin does', async () => {
    const worker = await gw.startWorker({ ...plain, JT_ACTION: 'kill-on-start' });
    const id = await gw.addJob({ behave: 'cooperate' }, { maxAttempts: 2 });
    await worker.waitFor(forJob('job-done', id));
    const row = await gw.row(id);
    expect(row).toMatchObject({ attempts: 2, max_attempts: 2, locked_at: null, locked_by: null });
    expect(row!.last_error).toMatch(/^Terminated: operator said stop/);
  });

  it('graphile’s helpers.abortSignal fires the token as a shutdown: the job goes back at once, nothing stays locked', async () => {
    const worker = await gw.startWorker({ ...plain, JT_ACTION: 'stop-on-start' });
    const id = await gw.addJob({ behave: 'cooperate' }, { maxAttempts: 3 });
    const saw = await worker.waitFor(forJob('saw-termination', id));
    expect(saw).toMatchObject({ kind: 'shutdown', message: 'graphile-worker is shutting down', graphileAborted: true });
    await worker.waitFor('runner-stopped');
    // graphile aborts its signal only once its pool stopped fetching, so
    // jobterm can put the job back itself and await that write.
    const row = await gw.row(id);
    expect(row).toMatchObject({
      attempts: 0,
      max_attempts: 3,
      locked_at: null,
      locked_by: null,
      is_available: true,
      last_error: 'Interrupted: graphile-worker is shutting down',
    });
    expect(row!.run_at.getTime()).toBeLessThanOrEqual(row!.now.getTime());
    expect(await gw.locked()).toEqual({ jobs: 0, queues: 0 });
    expect(events(worker, 'graphile-job-failed')).toHaveLength(0);
    expect(await worker.exited).toEqual({ code: 0, signal: null });
  });

  it('together with the plugin: the plugin joins the pool, so SIGTERM puts the job back at once through jobterm', async () => {
    const worker = await gw.startWorker({ JT_MODE: 'both' });
    // The plugin turned graphile's handlers off; the terminator handles signals.
    expect(worker.messages[0]).toMatchObject({ sigtermListeners: 1 });
    const id = await gw.addJob({ behave: 'cooperate' });
    await worker.waitFor(forJob('task-start', id));
    worker.kill('SIGTERM');
    expect(await worker.waitFor(forJob('saw-termination', id))).toMatchObject({
      kind: 'shutdown',
      message: 'worker shutting down',
    });
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    const row = await gw.row(id);
    expect(row).toMatchObject({ attempts: 0, locked_at: null, last_error: 'Interrupted: worker shutting down' });
    expect(row!.run_at.getTime()).toBeLessThanOrEqual(row!.now.getTime());
    expect(await gw.locked()).toEqual({ jobs: 0, queues: 0 });
  });
});
