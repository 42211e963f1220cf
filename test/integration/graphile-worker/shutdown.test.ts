// The shutdown rows of the semantics table and every shutdown path (graceful,
// escalated, second signal, runner.stop()), with real graphile-worker runners
// in their own OS processes. After each: no row is left locked, and the job
// is back in the queue at once with its attempt not spent.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killAllWorkers, type WorkerProcess } from '../../support/processes.js';
import { events, forJob, type GraphileTestDatabase, type JobRow, prepareGraphileDatabase } from './setup.js';

let gw: GraphileTestDatabase;
beforeAll(async () => {
  gw = await prepareGraphileDatabase();
});
afterAll(() => gw?.close());
afterEach(async () => {
  await killAllWorkers();
  await gw.reset();
});

/** Back in the queue: its attempt refunded, unlocked, due now. */
function expectPutBack(row: JobRow | undefined, message = 'Interrupted: worker shutting down') {
  expect(row).toMatchObject({ attempts: 0, locked_at: null, locked_by: null, is_available: true, last_error: message });
  expect(row!.run_at.getTime()).toBeLessThanOrEqual(row!.now.getTime());
}

async function exitedCleanly(worker: WorkerProcess) {
  expect(await worker.exited).toEqual({ code: 0, signal: null });
}

describe('graphile-worker: SIGTERM with jobs that stop in time', () => {
  it('jobterm owns the signals: graphile’s own handlers are off (noHandleSignals set by the plugin)', async () => {
    const worker = await gw.startWorker();
    expect(worker.messages[0]).toMatchObject({ event: 'ready', sigtermListeners: 1 });
  });

  it('puts the job back at once, attempt not spent; another worker runs it right away, not after 4 hours', async () => {
    const first = await gw.startWorker();
    const id = await gw.addJob({ behave: 'cooperate' }, { maxAttempts: 5 });
    await first.waitFor(forJob('task-start', id));
    first.kill('SIGTERM');
    const saw = await first.waitFor(forJob('saw-termination', id));
    expect(saw).toMatchObject({ kind: 'shutdown', message: 'worker shutting down', viaCurrentToken: 'shutdown' });
    await first.waitFor('shutdown-end');
    await exitedCleanly(first);
    expectPutBack(await gw.row(id));
    expect(await gw.locked()).toEqual({ jobs: 0, queues: 0 });
    expect(events(first, 'graphile-job-failed')).toHaveLength(0);

    const second = await gw.startWorker();
    const ready = second.messages[0]!;
    const start = await second.waitFor(forJob('task-start', id));
    // Its first attempt was refunded, so this is attempt 1 again.
    expect(start.attempts).toBe(1);
    // Claimed on the next poll (100 ms in the fixture); graphile's stale-lock recovery would take 4 hours.
    expect((start.at as number) - (ready.at as number)).toBeLessThan(5_000);
    second.kill('SIGTERM');
    await exitedCleanly(second);
    expectPutBack(await gw.row(id));
  });

  it('with concurrency 2 and a local queue: running and locally queued jobs all go back, none locked', async () => {
    const worker = await gw.startWorker({ JT_CONCURRENCY: '2', JT_LOCAL_QUEUE: '5' });
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push(await gw.addJob({ behave: 'cooperate', tag: `j${i}` }));
    await worker.waitFor((m) => m.event === 'task-start' && events(worker, 'task-start').length >= 2);
    worker.kill('SIGTERM');
    await exitedCleanly(worker);
    const started = new Set(events(worker, 'task-start').map((m) => m.id));
    expect(started.size).toBe(2);
    for (const id of ids) {
      const row = await gw.row(id);
      // Started ones were put back by jobterm; the others were returned unstarted by graphile's local queue.
      if (started.has(id)) expectPutBack(row);
      else expect(row).toMatchObject({ attempts: 0, locked_at: null, locked_by: null, last_error: null });
    }
    expect(await gw.locked()).toEqual({ jobs: 0, queues: 0 });
  });

  it('in a named queue: the queue lock is released with the job', async () => {
    const worker = await gw.startWorker();
    const id = await gw.addJob({ behave: 'cooperate' }, { queueName: 'serial' });
    await worker.waitFor(forJob('task-start', id));
    worker.kill('SIGTERM');
    await exitedCleanly(worker);
    expectPutBack(await gw.row(id));
    expect(await gw.locked()).toEqual({ jobs: 0, queues: 0 });
  });
});

describe('graphile-worker: escalation', () => {
  it('a job that ignores SIGTERM past shutdownTimeout is put back anyway, and the process exits', async () => {
    const worker = await gw.startWorker({ JT_SHUTDOWN_TIMEOUT: '500' });
    const id = await gw.addJob({ behave: 'ignore', ms: 30_000 });
    await worker.waitFor(forJob('task-start', id));
    worker.kill('SIGTERM');
    await worker.waitFor(forJob('escalated', id));
    const end = await worker.waitFor('shutdown-end');
    expect(end).toMatchObject({ escalated: 1, jobs: 1 });
    await exitedCleanly(worker);
    expectPutBack(await gw.row(id));
    expect(await gw.locked()).toEqual({ jobs: 0, queues: 0 });
  });

  it('a second SIGTERM escalates at once instead of waiting out shutdownTimeout', async () => {
    const worker = await gw.startWorker({ JT_SHUTDOWN_TIMEOUT: '60000' });
    const id = await gw.addJob({ behave: 'ignore', ms: 120_000 });
    await worker.waitFor(forJob('task-start', id));
    worker.kill('SIGTERM');
    await worker.waitFor(forJob('terminating', id));
    const second = Date.now();
    worker.kill('SIGTERM');
    await exitedCleanly(worker);
    // Far below the 60 s shutdownTimeout; generous for a loaded machine.
    expect(Date.now() - second).toBeLessThan(10_000);
    expect(events(worker, 'escalated', id)).toHaveLength(1);
    expectPutBack(await gw.row(id));
    expect(await gw.locked()).toEqual({ jobs: 0, queues: 0 });
  });
});

describe('graphile-worker: other shutdown paths', () => {
  it('runner.stop() from user code takes the same path: tokens fire as shutdown, the job goes back, nothing locked', async () => {
    const worker = await gw.startWorker({ JT_ACTION: 'stop-on-start' });
    const id = await gw.addJob({ behave: 'cooperate' });
    await worker.waitFor(forJob('task-start', id));
    const saw = await worker.waitFor(forJob('saw-termination', id));
    expect(saw).toMatchObject({ kind: 'shutdown' });
    const stopped = await worker.waitFor('runner-stopped');
    expect(stopped.running).toBe(0);
    expectPutBack(await gw.row(id));
    expect(await gw.locked()).toEqual({ jobs: 0, queues: 0 });
  });

  it('with graphile handling signals itself (handleSignals off): its graceful shutdown goes through jobterm', async () => {
    const worker = await gw.startWorker({ JT_HANDLE_SIGNALS: '0' });
    expect(worker.messages[0]).toMatchObject({ event: 'ready', sigtermListeners: 1 });
    const id = await gw.addJob({ behave: 'cooperate' });
    await worker.waitFor(forJob('task-start', id));
    worker.kill('SIGTERM');
    const saw = await worker.waitFor(forJob('saw-termination', id));
    expect(saw).toMatchObject({ kind: 'shutdown' });
    // graphile re-raises the signal on itself once its shutdown is over.
    expect(await worker.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expectPutBack(await gw.row(id));
    expect(await gw.locked()).toEqual({ jobs: 0, queues: 0 });
  });

  it('a kill that arrives during a shutdown wins: the job ends for good instead of going back', async () => {
    const worker = await gw.startWorker({ JT_ACTION: 'kill-during-shutdown' });
    const id = await gw.addJob({ behave: 'linger' }, { maxAttempts: 7 });
    await worker.waitFor(forJob('task-start', id));
    worker.kill('SIGTERM');
    await worker.waitFor(forJob('terminated', id));
    await exitedCleanly(worker);
    expect(await gw.row(id)).toMatchObject({
      attempts: 7,
      max_attempts: 7,
      last_error: 'Terminated: killed during shutdown',
      locked_at: null,
      locked_by: null,
    });
    expect(await gw.locked()).toEqual({ jobs: 0, queues: 0 });
  });
});
