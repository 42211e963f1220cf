// The fleet with BullMQ workers on the Redis store, in real OS processes:
// this test process reads their presence (RedisStore.fleet()) and the keys
// the store writes, as another process would.
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import type { PresenceRecord } from '../../../src/core/presence.js';
import { type RedisStore, redisStore } from '../../../src/stores/redis/index.js';
import { killAllWorkers } from '../../support/processes.js';
import { haveRedis, redisConnection, uniquePrefix } from '../../support/redis.js';
import { about, type BullmqWorld, makeWorld } from '../bullmq/setup.js';

const HEARTBEAT = 250;
// Workers that must stay alive count as dead only after 40 heartbeats (10 s):
// on a loaded CI machine a worker's event loop can stall past 4 beats (1 s),
// and a live worker claimed as dead is a failure this suite does not test.
const LIVE = { JT_HEARTBEAT: String(HEARTBEAT), JT_DEAD_BEATS: '40' };
const LIVE_DEAD_AFTER = HEARTBEAT * 40;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const until = async <T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string, timeout = 20_000) => {
  for (const deadline = Date.now() + timeout; ; await sleep(25)) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}: ${JSON.stringify(value)}`);
  }
};

describe.runIf(haveRedis())('the fleet of BullMQ workers on the Redis store', () => {
  let world: BullmqWorld;
  let redis: Redis;

  beforeAll(async () => {
    world = await makeWorld();
    redis = new Redis(redisConnection());
  });
  afterEach(async () => {
    await killAllWorkers();
    // SIGKILLed workers leave presence records that go dead later: each test
    // starts from none, or the next test's rescuer or claimDead() finds them.
    const keys = await redis.keys(`${world.storePrefix}:worker:*`);
    await redis.del(`${world.storePrefix}:workers`, ...keys);
  });
  afterAll(async () => {
    await world?.close();
    redis?.disconnect();
  });

  const workerKeys = async () => ({
    members: await redis.zrange(`${world.storePrefix}:workers`, 0, -1),
    hashes: (await redis.keys(`${world.storePrefix}:worker:*`)).sort(),
  });

  it('reports a running job to another process within one heartbeat, with BullMQ’s ids, task and attempt', async () => {
    const queue = world.queue();
    const worker = await world.startWorker(queue, { JT_HEARTBEAT: String(HEARTBEAT), WORKER_ID: 'bull-report' });
    const { bullWorkerId } = await worker.waitFor('ready');
    const job = await queue.add('j', { mode: 'stop-on-signal' });
    await worker.waitFor(about('job-started', job.id));
    const startedAt = Date.now();
    const snapshot = await until(
      () => world.store.fleet(),
      (s) => s.workers.some((w) => w.jobs.length === 1),
      'the job is listed',
    );
    // One heartbeat plus a generous margin for a loaded machine; this process polls every 25 ms.
    expect(Date.now() - startedAt).toBeLessThan(HEARTBEAT + 2_500);
    const [w] = snapshot.workers;
    expect(w).toMatchObject({ workerId: 'bull-report', pid: worker.pid, alive: true });
    expect(w?.queues).toEqual([{ queue: 'bullmq', names: [queue.name], queueIds: [bullWorkerId] }]);
    expect(w?.jobs).toEqual([
      expect.objectContaining({
        ref: { queue: 'bullmq', name: queue.name, id: `${job.id}@${job.timestamp}` },
        task: queue.name,
        attempt: 1,
        queueWorkerId: bullWorkerId,
        termination: { state: 'none' },
      }),
    ]);

    // The kill's state is current (written when the token fires), not one heartbeat late.
    await world.requester.terminate(
      { queue: 'bullmq', name: queue.name, id: job.id! },
      { reason: 'from the fleet test', wait: true },
    );
    const request = await redis.hgetall(
      `${world.storePrefix}:request:${(await world.store.listRequests({ limit: 1 }))[0]!.id}`,
    );
    expect(request.deliveredBy).toBe('bull-report');
    expect(Number(request.deliveredAt)).toBeGreaterThan(0);
  });

  it('removes the presence record at a clean shutdown', async () => {
    const queue = world.queue();
    const worker = await world.startWorker(queue, { JT_HEARTBEAT: String(HEARTBEAT), WORKER_ID: 'bull-clean' });
    await until(workerKeys, (k) => k.members.length === 1 && k.hashes.length === 1, 'the worker registered');
    worker.kill('SIGTERM');
    expect(await worker.exited).toMatchObject({ code: 0 });
    expect(await workerKeys()).toEqual({ members: [], hashes: [] });
  });

  it('a dead BullMQ worker’s presence is removed once, by one of two live workers, leaving its jobs to BullMQ', async () => {
    const queue = world.queue();
    const doomed = await world.startWorker(queue, { JT_HEARTBEAT: String(HEARTBEAT), WORKER_ID: 'bull-doomed' });
    const job = await queue.add('j', { mode: 'forever' });
    await doomed.waitFor(about('job-started', job.id));
    const live = [
      await world.startWorker(queue, { ...LIVE, WORKER_ID: 'bull-live-1' }),
      await world.startWorker(queue, { ...LIVE, WORKER_ID: 'bull-live-2' }),
    ];
    const before = await until(
      () => world.store.fleet(),
      (s) => s.workers.length === 3 && s.workers.some((w) => w.jobs.length === 1),
      'three workers, the doomed one with its job',
    );
    const doomedId = before.workers.find((w) => w.workerId === 'bull-doomed')!.instanceId!;
    doomed.kill('SIGKILL');
    await doomed.exited;
    const rescued = await Promise.any(
      live.map((w) => w.waitFor((m) => m.event === 'rescued' && m.instanceId === doomedId, 20_000)),
    );
    // BullMQ's stalled check recovers the job; jobterm hands nothing back itself.
    expect(rescued).toMatchObject({ requeued: 0, terminated: 0 });
    // Several more heartbeats of both live workers: nobody rescues it again.
    await sleep(HEARTBEAT * 8);
    const all = live.flatMap((w) => w.messages).filter((m) => m.event === 'rescued' && m.instanceId === doomedId);
    expect(all).toHaveLength(1);
    const keys = await workerKeys();
    expect(keys.members).not.toContain(doomedId);
    expect(keys.hashes).not.toContain(`${world.storePrefix}:worker:${doomedId}`);
    expect((await world.store.fleet({ includeDead: true })).workers.map((w) => w.workerId).sort()).toEqual([
      'bull-live-1',
      'bull-live-2',
    ]);
  });

  it('a forged heartbeat cannot refresh, rename or remove a live worker', async () => {
    const queue = world.queue();
    await world.startWorker(queue, { ...LIVE, WORKER_ID: 'bull-victim' });
    const snapshot = await until(
      () => world.store.fleet(),
      (s) => s.workers.length === 1,
      'the worker registered',
    );
    const victim = snapshot.workers[0]!;
    const forged: PresenceRecord = {
      instanceId: victim.instanceId!,
      workerId: 'forged',
      host: 'elsewhere',
      pid: 1,
      queues: [],
      versions: { jobterm: '0', node: '0' },
      startedAt: new Date(),
      heartbeatInterval: 60_000,
      deadAfter: 3_600_000,
      jobs: [],
    };
    await expect(world.store.heartbeat(forged, randomBytes(32).toString('hex'))).rejects.toThrow(
      /another process's presence/,
    );
    await world.store.deregister(victim.instanceId!, randomBytes(32).toString('hex'));
    // Both read in one MULTI: a heartbeat landing between two reads would move the score.
    const [[, hash], [, score]] = (await redis
      .multi()
      .hgetall(`${world.storePrefix}:worker:${victim.instanceId}`)
      .zscore(`${world.storePrefix}:workers`, victim.instanceId!)
      .exec()) as [[null, Record<string, string>], [null, string]];
    expect(JSON.parse(hash.record!)).toMatchObject({ workerId: 'bull-victim', heartbeatInterval: HEARTBEAT });
    // Alive, by its own threshold, not the forger's.
    expect(Number(score)).toBe(Number(hash.lastSeenAt) + LIVE_DEAD_AFTER);
    // A rescuer cannot claim a live worker.
    expect(await world.store.claimDead('thief', { lease: 30_000, limit: 10, queues: ['bullmq'] })).toEqual([]);
  });
});

describe.runIf(haveRedis())('Redis presence records (one store, the scripts)', () => {
  let store: RedisStore;
  let redis: Redis;
  let prefix: string;

  beforeAll(() => {
    prefix = uniquePrefix('jt-presence');
    store = redisStore({ connection: redisConnection(), prefix, receiveRequests: false, logger: silentLogger });
    redis = new Redis(redisConnection());
  });
  afterAll(async () => {
    await store?.close();
    redis?.disconnect();
  });

  const record = (instanceId: string, deadAfter: number): PresenceRecord => ({
    instanceId,
    workerId: 'w',
    host: 'h',
    pid: 2,
    queues: [{ queue: 'bullmq', names: ['q'], queueIds: ['x'] }],
    versions: { jobterm: '1', node: '24' },
    startedAt: new Date(),
    heartbeatInterval: 10,
    deadAfter,
    jobs: [],
  });

  it('a stale heartbeat of a worker declared dead is refused while its rescue runs; only the claiming rescuer removes it', async () => {
    const id = randomUUID();
    const secret = randomBytes(32).toString('hex');
    expect(await store.heartbeat(record(id, 20), secret)).toBe('created');
    expect(await store.heartbeat(record(id, 20), secret)).toBe('refreshed');
    await sleep(60);
    // A rescuer that cannot rescue BullMQ does not claim it.
    expect(await store.claimDead('pg-only', { lease: 30_000, limit: 10, queues: ['pg-boss'] })).toEqual([]);
    const [claimed, ...more] = await store.claimDead('r1', { lease: 30_000, limit: 10, queues: ['bullmq'] });
    expect(more).toEqual([]);
    expect(claimed).toMatchObject({ instanceId: id, workerId: 'w', queues: [{ queue: 'bullmq' }] });
    // Claimed once: a second rescuer gets nothing within the lease.
    expect(await store.claimDead('r2', { lease: 30_000, limit: 10, queues: ['bullmq'] })).toEqual([]);
    // The worker wakes up: its heartbeat is refused, the record keeps its last state.
    expect(await store.heartbeat(record(id, 20), secret)).toBe('refused');
    await store.completeRescue(id, 'r2');
    expect(await redis.exists(`${prefix}:worker:${id}`)).toBe(1);
    await store.completeRescue(id, 'r1');
    expect(await redis.exists(`${prefix}:worker:${id}`)).toBe(0);
    expect(await redis.zscore(`${prefix}:workers`, id)).toBeNull();
    // Then it joins again, as a new record.
    expect(await store.heartbeat(record(id, 20), secret)).toBe('created');
    await store.deregister(id, secret);
    expect(await redis.exists(`${prefix}:worker:${id}`)).toBe(0);
  });

  it('withdraws a request not yet delivered, and records escalation once', async () => {
    const { request } = await store.request({ ref: { queue: 'bullmq', name: 'q', id: '1@2' }, message: 'stop' });
    expect(await store.withdraw(request.id, 'me')).toBe('withdrawn');
    expect(await store.withdraw(request.id, 'me')).toBe('expired');
    expect(await redis.zscore(`${prefix}:open`, request.id)).toBeNull();
    const second = await store.request({ ref: { queue: 'bullmq', name: 'q', id: '1@2' }, message: 'again' });
    expect(second.created).toBe(true);
    await store.markDelivered(second.request.id, 'w');
    expect(await store.withdraw(second.request.id)).toBe('delivered');
    await store.markEscalated(second.request.id, 'w');
    const first = await redis.hget(`${prefix}:request:${second.request.id}`, 'escalatedAt');
    await sleep(5);
    await store.markEscalated(second.request.id, 'other');
    expect(await redis.hmget(`${prefix}:request:${second.request.id}`, 'escalatedAt', 'escalatedBy')).toEqual([
      first,
      'w',
    ]);
  });
});
