// What needs more than one process and more than the semantics table: a
// sandboxed CPU-bound loop stopped for real at escalation while the worker
// goes on; Redis restarted under a running worker; a forged PUBLISH.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectionFrom } from '../../fixtures/bullmq/connection.js';
import { killAllWorkers } from '../../support/processes.js';
import { haveRedis } from '../../support/redis.js';
import { hasRedisServer, type RedisServer, startRedisServer } from '../../support/redis-server.js';
import { about, type BullmqWorld, jobFacts, makeWorld, waitForFacts } from './setup.js';

/** CPU time the process has used, in ms, from /proc (Linux). */
async function cpuMs(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return ((Number(stat[11]) + Number(stat[12])) * 1000) / 100;
}

describe.runIf(haveRedis())('BullMQ workers across processes: isolation, Redis restarts, forged messages', () => {
  let world: BullmqWorld;

  beforeAll(async () => {
    world = await makeWorld();
  });
  afterEach(killAllWorkers);
  afterAll(async () => {
    await world?.close();
  });

  it('a sandboxed for (;;) {} is stopped for real at escalation, while the worker goes on with other jobs', async () => {
    const queue = world.queue({ attempts: 3 });
    const a = await world.startWorker(queue, { SANDBOX: '1', CONCURRENCY: '2', KILL_TIMEOUT: '300' });
    const spin = await queue.add('spin', { mode: 'spin' });
    await waitForFacts(queue, spin.id!, (f) => f.state === 'active');
    // The worker's own loop stays free: another job completes beside the spinning thread.
    const echo = await queue.add('echo', { value: 'beside' });
    expect(await waitForFacts(queue, echo.id!, (f) => f.state === 'completed')).toMatchObject({
      returnvalue: { echoed: 'beside' },
    });
    const result = await world.requester.terminate(
      { queue: 'bullmq', name: queue.name, id: spin.id! },
      { reason: 'runaway', wait: true, timeout: 10_000 },
    );
    expect(result.status).toBe('terminated');
    expect(await a.waitFor((m) => m.event === 'escalated')).toMatchObject({ hardStopped: true });
    expect(await jobFacts(queue, spin.id!)).toMatchObject({
      state: 'failed',
      attemptsMade: 1,
      failedReason: 'Terminated: runaway',
    });
    // No CPU burnt after: the thread is gone (an in-process loop would keep one core busy).
    await new Promise((resolve) => setTimeout(resolve, 200));
    const before = await cpuMs(a.pid);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await cpuMs(a.pid)) - before).toBeLessThan(500);
    // And the worker goes on: the next job runs in a new thread.
    const next = await queue.add('echo', { value: 'after' });
    expect(await waitForFacts(queue, next.id!, (f) => f.state === 'completed')).toMatchObject({
      returnvalue: { echoed: 'after' },
    });
  });

  it('a sandboxed job that cooperates sees the token in its thread; a shutdown puts it back unspent', async () => {
    const queue = world.queue();
    const a = await world.startWorker(queue, { SANDBOX: '1' });
    const job = await queue.add('coop', { mode: 'cooperate' });
    await waitForFacts(queue, job.id!, (f) => f.state === 'active');
    a.kill('SIGTERM');
    expect((await a.exited).code).toBe(0);
    expect(a.messages.some((m) => m.event === 'escalated')).toBe(false);
    expect(await jobFacts(queue, job.id!)).toMatchObject({ state: 'waiting', attemptsMade: 0 });
  });

  it('a forged PUBLISH on the request channel kills nothing in the worker', async () => {
    const queue = world.queue();
    const a = await world.startWorker(queue, { JOB_MODE: 'ignore' });
    const job = await queue.add('j', { ms: 800 });
    await a.waitFor(about('job-started', job.id));
    const redis = new Redis(connectionFrom(world.url));
    const channel = `${world.storePrefix}:requests`;
    // Payloads that name the job, a made-up request id, and a key: none is a stored request.
    await redis.publish(channel, JSON.stringify({ queue: 'bullmq', name: queue.name, id: job.id }));
    await redis.publish(channel, '00000000-0000-4000-8000-000000000000');
    await redis.publish(channel, `${world.storePrefix}:request:${job.id}`);
    await redis.quit();
    expect(await waitForFacts(queue, job.id!, (f) => f.state === 'completed')).toMatchObject({ attemptsMade: 1 });
    expect(a.messages.some((m) => m.event === 'terminating')).toBe(false);
  });

  it.runIf(hasRedisServer())('Redis restarted under a running worker: requests are still delivered after', async () => {
    const server: RedisServer = await startRedisServer({ prefix: 'jobterm-redis-restart-' });
    const own = await makeWorld(server.url);
    try {
      const queue = own.queue();
      const a = await own.startWorker(queue, { JOB_MODE: 'stop-on-signal' });
      await server.restart({ crash: true, downFor: 300 });
      // An empty server after the crash (no persistence): BullMQ and jobterm reconnect on their own.
      const job = await queue.add('j', {});
      await a.waitFor(about('job-started', job.id), 20_000);
      const result = await own.requester.terminate(
        { queue: 'bullmq', name: queue.name, id: job.id! },
        { reason: 'after restart', wait: true, timeout: 15_000 },
      );
      expect(result.status).toBe('terminated');
      expect(await a.waitFor(about('job-saw', job.id))).toMatchObject({ kind: 'kill', message: 'after restart' });
      expect(await jobFacts(queue, job.id!)).toMatchObject({
        state: 'failed',
        failedReason: 'Terminated: after restart',
      });
    } finally {
      await killAllWorkers();
      await own.close();
      await server.stop();
    }
  });
});
