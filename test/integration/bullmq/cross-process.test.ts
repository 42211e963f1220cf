// DESIGN.md's semantics table for BullMQ, row by row, with real BullMQ 6
// workers in their own OS processes and this test process as the requester
// (its own terminator on the Redis store, and the BullMQ adapter). Each test
// asserts BullMQ's own view of the job (getState(), attemptsMade,
// failedReason) and what the worker's processor saw.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bullmqRef } from '../../../src/adapters/bullmq/index.js';
import { killAllWorkers } from '../../support/processes.js';
import { haveRedis } from '../../support/redis.js';
import { about, type BullmqWorld, jobFacts, makeWorld, waitForFacts } from './setup.js';

describe.runIf(haveRedis())('BullMQ jobs terminated across OS processes', () => {
  let world: BullmqWorld;

  beforeAll(async () => {
    world = await makeWorld();
  });
  afterEach(killAllWorkers);
  afterAll(async () => {
    await world?.close();
  });

  it('finishes normally: completed, with the processor’s result', async () => {
    const queue = world.queue();
    const a = await world.startWorker(queue);
    const job = await queue.add('j', { value: 7 });
    const facts = await waitForFacts(queue, job.id!, (f) => f.state === 'completed');
    expect(facts).toMatchObject({ attemptsMade: 1, returnvalue: { done: true, by: 'worker-a', value: 7 } });
    expect(await a.waitFor(about('job-started', job.id))).toMatchObject({ tokenInContext: true, signalIsToken: true });
  });

  it('kill, and the job stops: the processor sees it; failed for good, not retried', async () => {
    const queue = world.queue({ attempts: 3 });
    const a = await world.startWorker(queue, { JOB_MODE: 'stop-on-signal' });
    const job = await queue.add('j', {});
    await a.waitFor(about('job-started', job.id));
    const result = await world.requester.terminate(
      { queue: 'bullmq', name: queue.name, id: job.id! },
      { reason: 'customer cancelled', requestedBy: 'alice', wait: true, timeout: 10_000 },
    );
    expect(result).toMatchObject({ status: 'terminated', ref: bullmqRef(job) });
    expect(await a.waitFor(about('job-saw', job.id))).toMatchObject({ kind: 'kill', message: 'customer cancelled' });
    // Resolved only once BullMQ holds it failed: no polling needed.
    expect(await jobFacts(queue, job.id!)).toMatchObject({
      state: 'failed',
      attemptsMade: 1,
      failedReason: 'Terminated: customer cancelled (by alice)',
    });
    // The worker's own 'failed' event, as BullMQ would emit it.
    expect(await a.waitFor(about('failed', job.id))).toMatchObject({
      message: 'Terminated: customer cancelled (by alice)',
    });
    // Never retried: still failed a moment later.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await jobFacts(queue, job.id!)).toMatchObject({ state: 'failed', attemptsMade: 1 });
  });

  it('kill, and the job ignores it past killTimeout: failed for good at the timeout', async () => {
    const queue = world.queue();
    const a = await world.startWorker(queue, { JOB_MODE: 'forever', KILL_TIMEOUT: '300' });
    const job = await queue.add('j', {});
    await a.waitFor(about('job-started', job.id));
    const result = await world.requester.terminate(
      { queue: 'bullmq', name: queue.name, id: job.id! },
      { reason: 'stuck', wait: true, timeout: 10_000 },
    );
    expect(result.status).toBe('terminated');
    expect(await a.waitFor(about('escalated', bullmqRef(job).id))).toMatchObject({ hardStopped: false });
    expect(await jobFacts(queue, job.id!)).toMatchObject({
      state: 'failed',
      attemptsMade: 1,
      failedReason: 'Terminated: stuck',
    });
  });

  it('kill before it starts (waiting, delayed, prioritized, paused queue): removed, never runs', async () => {
    const queue = world.queue();
    const waiting = await queue.add('j', {});
    const delayed = await queue.add('j', {}, { delay: 60_000 });
    const prioritized = await queue.add('j', {}, { priority: 5 });
    for (const job of [waiting, delayed, prioritized]) {
      expect((await jobFacts(queue, job.id!)).state).not.toBe('active');
      const result = await world.requester.terminate(
        { queue: 'bullmq', name: queue.name, id: job.id! },
        { wait: true },
      );
      expect(result.status).toBe('terminated');
      expect(await jobFacts(queue, job.id!)).toEqual({ state: 'gone' });
    }
    await queue.pause();
    const paused = await queue.add('j', {});
    expect((await world.requester.terminate({ queue: 'bullmq', name: queue.name, id: paused.id! })).status).toBe(
      'terminated',
    );
    await queue.resume();
    const a = await world.startWorker(queue);
    const after = await queue.add('j', { value: 1 });
    await waitForFacts(queue, after.id!, (f) => f.state === 'completed');
    expect(a.messages.filter((m) => m.event === 'job-started').map((m) => m.id)).toEqual([after.id]);
  });

  it('a kill stored before a worker claims the job stops it at its start: failed, the processor never runs', async () => {
    const queue = world.queue();
    const job = await queue.add('j', {});
    // No adapter cancel: the request alone, under the job's canonical reference.
    const { request } = await world.store.request({ ref: bullmqRef(job), message: 'not wanted', requestedBy: 'bob' });
    const a = await world.startWorker(queue);
    const facts = await waitForFacts(queue, job.id!, (f) => f.state === 'failed');
    expect(facts).toMatchObject({ attemptsMade: 1, failedReason: 'Terminated: not wanted (by bob)' });
    expect(a.messages.some((m) => m.event === 'job-started')).toBe(false);
    expect(await world.store.waitForResolution(request.id, { timeout: 5_000 })).toBe('terminated');
  });

  it('a reused custom jobId never gets the earlier job’s kill', async () => {
    const queue = world.queue();
    const first = await queue.add('j', {}, { jobId: 'account-42' });
    await world.store.request({ ref: bullmqRef(first), message: 'for the first job only' });
    await first.remove();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = await queue.add('j', { value: 2 }, { jobId: 'account-42' });
    expect(second.timestamp).not.toBe(first.timestamp);
    const a = await world.startWorker(queue);
    const facts = await waitForFacts(queue, 'account-42', (f) => f.state === 'completed' || f.state === 'failed');
    expect(facts).toMatchObject({ state: 'completed', returnvalue: { value: 2 } });
    expect(await a.waitFor(about('job-started', 'account-42'))).toBeTruthy();
    // terminate() on the bare id names the job BullMQ holds now.
    expect(await world.requester.terminate({ queue: 'bullmq', name: queue.name, id: 'account-42' })).toMatchObject({
      status: 'already_finished',
    });
  });

  it('shutdown (SIGTERM), the job stops in time: back to waiting, the attempt not spent, progress kept; the next worker runs it', async () => {
    const queue = world.queue();
    const a = await world.startWorker(queue, { JOB_MODE: 'stop-on-signal' });
    const job = await queue.add('j', { progress: 40 });
    await a.waitFor(about('job-started', job.id));
    await waitForFacts(queue, job.id!, (f) => f.progress === 40);
    a.kill('SIGTERM');
    expect(await a.waitFor(about('job-saw', job.id))).toMatchObject({ kind: 'shutdown' });
    expect((await a.exited).code).toBe(0);
    expect(await jobFacts(queue, job.id!)).toMatchObject({ state: 'waiting', attemptsMade: 0, progress: 40 });
    const b = await world.startWorker(queue, { JOB_MODE: 'complete', WORKER_ID: 'worker-b' });
    const facts = await waitForFacts(queue, job.id!, (f) => f.state === 'completed');
    expect(facts).toMatchObject({ attemptsMade: 1, returnvalue: { by: 'worker-b' } });
    expect(await b.waitFor(about('job-started', job.id))).toMatchObject({ attemptsMade: 0, progress: 40 });
  });

  it('shutdown, the job ignores it past shutdownTimeout: back to waiting at the timeout, the process exits', async () => {
    const queue = world.queue();
    const a = await world.startWorker(queue, { JOB_MODE: 'forever', SHUTDOWN_TIMEOUT: '400' });
    const job = await queue.add('j', {});
    await a.waitFor(about('job-started', job.id));
    const sent = Date.now();
    a.kill('SIGTERM');
    expect((await a.exited).code).toBe(0);
    expect(Date.now() - sent).toBeGreaterThanOrEqual(350);
    expect(await jobFacts(queue, job.id!)).toMatchObject({ state: 'waiting', attemptsMade: 0 });
    expect(a.messages.some((m) => m.event === 'escalated')).toBe(true);
  });

  it('a task that ignores jobterm and completes during a graceful shutdown is completed, and never runs twice', async () => {
    const queue = world.queue();
    const a = await world.startWorker(queue, { JOB_MODE: 'ignore', SHUTDOWN_TIMEOUT: '5000' });
    const job = await queue.add('j', { ms: 600 });
    await a.waitFor(about('job-started', job.id));
    a.kill('SIGTERM');
    await a.waitFor(about('job-returned', job.id));
    expect((await a.exited).code).toBe(0);
    expect(await jobFacts(queue, job.id!)).toMatchObject({ state: 'completed', attemptsMade: 1 });
  });

  it('maxRuntime: a job that overruns is stopped; that attempt fails with Timed out: and BullMQ retries it', async () => {
    const queue = world.queue({ attempts: 2 });
    const a = await world.startWorker(queue, { JOB_MODE: 'stop-on-signal', MAX_RUNTIME: '300' });
    const job = await queue.add('j', {});
    const facts = await waitForFacts(queue, job.id!, (f) => f.state === 'failed', 20_000);
    expect(facts).toMatchObject({ attemptsMade: 2 });
    expect(facts.failedReason).toMatch(/^Timed out: maxRuntime of 300 ms reached/);
    expect(a.messages.filter((m) => m.event === 'job-started').length).toBe(2);
  });

  it('kill during a shutdown: kill wins, failed for good', async () => {
    const queue = world.queue();
    const a = await world.startWorker(queue, { JOB_MODE: 'forever', SHUTDOWN_TIMEOUT: '3000' });
    const job = await queue.add('j', {});
    await a.waitFor(about('job-started', job.id));
    a.kill('SIGTERM');
    await a.waitFor((m) => m.event === 'terminating' && m.kind === 'shutdown');
    const result = await world.requester.terminate(
      { queue: 'bullmq', name: queue.name, id: job.id! },
      { reason: 'no', wait: true },
    );
    expect(result.status).toBe('terminated');
    await a.exited;
    expect(await jobFacts(queue, job.id!)).toMatchObject({ state: 'failed', failedReason: 'Terminated: no' });
  });

  it('kill for a finished or unknown job: already_finished / not_found', async () => {
    const queue = world.queue();
    await world.startWorker(queue);
    const job = await queue.add('j', {});
    await waitForFacts(queue, job.id!, (f) => f.state === 'completed');
    expect((await world.requester.terminate({ queue: 'bullmq', name: queue.name, id: job.id! })).status).toBe(
      'already_finished',
    );
    expect((await world.requester.terminate({ queue: 'bullmq', name: queue.name, id: 'nope' })).status).toBe(
      'not_found',
    );
    await expect(world.requester.terminate({ queue: 'bullmq', name: queue.name, id: 'a:b' })).rejects.toThrow(
      'Expected `job.id` to be a BullMQ job id',
    );
    await expect(world.requester.terminate({ queue: 'bullmq', id: '1' })).rejects.toThrow('Expected `job.name`');
  });

  it('the worker dies mid-termination: BullMQ’s stalled-job recovery hands the job on, the stored kill stops it at its start', async () => {
    const queue = world.queue({ attempts: 3 });
    // BullMQ throttles stalled checks queue-wide (its stalled-check key lives
    // `stalledInterval` ms, moveStalledJobsToWait-9.lua), so A's own setting counts too.
    const a = await world.startWorker(queue, {
      JOB_MODE: 'forever',
      KILL_TIMEOUT: '60000',
      LOCK_DURATION: '1000',
      STALLED_INTERVAL: '500',
    });
    const job = await queue.add('j', {});
    await a.waitFor(about('job-started', job.id));
    const result = await world.requester.terminate(
      { queue: 'bullmq', name: queue.name, id: job.id! },
      { reason: 'die' },
    );
    expect(result.status).toBe('requested');
    await a.waitFor((m) => m.event === 'terminating' && m.kind === 'kill');
    a.kill('SIGKILL');
    await a.exited;
    expect((await jobFacts(queue, job.id!)).state).toBe('active');
    const b = await world.startWorker(queue, { JOB_MODE: 'complete', WORKER_ID: 'worker-b', STALLED_INTERVAL: '500' });
    const facts = await waitForFacts(queue, job.id!, (f) => f.state === 'failed', 20_000).catch((error) => {
      throw new Error(`${error.message}\nworker b: ${JSON.stringify(b.messages)} ${b.stderr()}`);
    });
    expect(facts.failedReason).toBe('Terminated: die');
    expect(b.messages.some((m) => m.event === 'job-started')).toBe(false);
    expect(await world.store.waitForResolution(result.requestId!, { timeout: 5_000 })).toBe('terminated');
  });
});
