// The Redis kill store against a real Redis: the same contract as the
// PostgreSQL store (stored before announced, loaded at open, kept in memory,
// woken waits, expiry and pruning), and a forged PUBLISH kills nothing.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import type { KillRequest } from '../../../src/core/store.js';
import { type RedisStore, redisStore } from '../../../src/stores/redis/index.js';
import { createTerminator } from '../../../src/terminator/terminator.js';
import { haveRedis, redisConnection, redisUrl, uniquePrefix } from '../../support/redis.js';

const ref = (id: string) => ({ queue: 'bullmq', name: 'mail', id });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.runIf(haveRedis())('redisStore()', () => {
  let redis: Redis;
  const stores: RedisStore[] = [];
  let prefix: string;

  beforeAll(() => {
    redis = new Redis(redisConnection());
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });
  afterAll(async () => {
    await redis?.quit();
  });

  function makeStore(options: Parameters<typeof redisStore>[0] = {}): RedisStore {
    const store = redisStore({ connection: redisUrl(), prefix, pollInterval: 200, logger: silentLogger, ...options });
    stores.push(store);
    return store;
  }
  const fresh = () => {
    prefix = uniquePrefix('jt-store');
  };

  it('stores a request before announcing it; a worker that opens later loads it', async () => {
    fresh();
    const requester = makeStore({ receiveRequests: false });
    const seen: string[] = [];
    const sub = redis.duplicate();
    await sub.subscribe(`${prefix}:requests`);
    sub.on('message', async (_channel, id) => {
      // At the time of the message the hash is already there.
      seen.push(`${id}:${await redis.hget(`${prefix}:request:${id}`, 'status')}`);
    });
    const { request, created } = await requester.request({ ref: ref('1@100'), message: 'stop', requestedBy: 'alice' });
    expect(created).toBe(true);
    expect(request).toMatchObject({
      ref: ref('1@100'),
      status: 'pending',
      reason: { kind: 'kill', message: 'stop', requestedBy: 'alice', requestId: request.id },
    });
    await expect.poll(() => seen).toEqual([`${request.id}:pending`]);
    await sub.quit();
    expect(await redis.hgetall(`${prefix}:request:${request.id}`)).toMatchObject({
      queue: 'bullmq',
      name: 'mail',
      jobId: '1@100',
      message: 'stop',
      requestedBy: 'alice',
      status: 'pending',
    });

    // The same job again: the open request comes back.
    const again = await requester.request({ ref: ref('1@100'), message: 'other' });
    expect(again).toMatchObject({ created: false, request: { id: request.id } });

    const worker = makeStore();
    const got: KillRequest[] = [];
    await worker.open({ onRequest: (r) => got.push(r) });
    expect(got.map((r) => r.id)).toEqual([request.id]);
    expect(worker.pendingFor(ref('1@100'))?.id).toBe(request.id);
    expect(worker.pendingFor(ref('1@101'))).toBeUndefined();
  });

  it('delivers a new request to an open worker, and a resolve wakes a waiting requester', async () => {
    fresh();
    const worker = makeStore();
    const got: KillRequest[] = [];
    await worker.open({ onRequest: (r) => got.push(r) });
    const requester = makeStore({ receiveRequests: false });
    const { request } = await requester.request({ ref: ref('2@1'), message: 'now' });
    await expect.poll(() => got.map((r) => r.id), { timeout: 2000, interval: 5 }).toEqual([request.id]);
    const waiting = requester.waitForResolution(request.id, { timeout: 10_000 });
    await worker.markDelivered(request.id, 'w1');
    expect(await redis.hget(`${prefix}:request:${request.id}`, 'status')).toBe('delivered');
    await sleep(50);
    await worker.resolve(request.id, 'terminated', 'w1');
    expect(await waiting).toBe('terminated');
    expect(worker.pendingFor(ref('2@1'))).toBeUndefined();
    // Resolving twice changes nothing.
    await worker.resolve(request.id, 'not_found', 'w2');
    expect(await redis.hmget(`${prefix}:request:${request.id}`, 'status', 'outcome', 'resolvedBy')).toEqual([
      'resolved',
      'terminated',
      'w1',
    ]);
    const [listed] = await requester.listRequests();
    expect(listed).toMatchObject({ id: request.id, status: 'resolved', outcome: 'terminated', deliveredBy: 'w1' });
    expect(await requester.listRequests({ pending: true })).toEqual([]);
    // A new request for the job is a new one.
    expect((await requester.request({ ref: ref('2@1'), message: 'again' })).created).toBe(true);
  });

  it('resolveEnded() leaves a delivered request to its worker, whose own answer wins; a pending one it resolves', async () => {
    fresh();
    const store = makeStore({ receiveRequests: false });
    // A worker fired the job's token and the job ended terminated in BullMQ: a requester
    // re-reading the queue sees it finished, but must not answer `already_finished`.
    const { request: delivered } = await store.request({ ref: ref('7@1'), message: 'stop' });
    await store.markDelivered(delivered.id, 'worker-a');
    expect(await store.resolveEnded(delivered.id, 'already_finished', 'requester')).toBe(false);
    expect(await redis.hget(`${prefix}:request:${delivered.id}`, 'status')).toBe('delivered');
    await store.resolve(delivered.id, 'terminated', 'worker-a');
    expect(await store.waitForResolution(delivered.id, { timeout: 1_000 })).toBe('terminated');
    // No worker ever saw this one: the requester's re-read ends it.
    const { request: pending } = await store.request({ ref: ref('8@1'), message: 'stop' });
    expect(await store.resolveEnded(pending.id, 'already_finished', 'requester')).toBe(true);
    expect(await redis.hmget(`${prefix}:request:${pending.id}`, 'status', 'outcome')).toEqual([
      'resolved',
      'already_finished',
    ]);
  });

  it('a forged message kills nothing: the worker reads the request itself', async () => {
    fresh();
    const worker = makeStore();
    const got: KillRequest[] = [];
    const terminator = createTerminator({ store: worker, logger: silentLogger });
    terminator.on('terminating', ({ reason }) => got.push(reason as never));
    await terminator.whenReady();
    let aborted = false;
    const run = terminator.run(ref('3@1'), async (token) => {
      token.signal.addEventListener('abort', () => {
        aborted = true;
      });
      await sleep(600);
      return 'done';
    });
    await redis.publish(`${prefix}:requests`, JSON.stringify({ ref: ref('3@1') }));
    await redis.publish(`${prefix}:requests`, '00000000-0000-4000-8000-000000000000');
    await redis.publish(`${prefix}:requests`, `${prefix}:request:x`);
    expect(await run).toMatchObject({ status: 'completed', value: 'done' });
    expect(aborted).toBe(false);
    expect(got).toEqual([]);
    await terminator.close();
  });

  it('expired requests are not applied and prune() deletes them', async () => {
    fresh();
    const requester = makeStore({ receiveRequests: false });
    const { request } = await requester.request({
      ref: ref('4@1'),
      message: 'short',
      expiresAt: new Date(Date.now() + 300),
    });
    const worker = makeStore();
    await worker.open({ onRequest: () => {} });
    expect(worker.pendingFor(ref('4@1'))?.id).toBe(request.id);
    await sleep(400);
    expect(worker.pendingFor(ref('4@1'))).toBeUndefined();
    const [listed] = await requester.listRequests();
    expect(listed).toMatchObject({ id: request.id, expired: true });
    expect(await requester.prune()).toBe(1);
    expect(await redis.exists(`${prefix}:request:${request.id}`)).toBe(0);
    expect(await redis.zcard(`${prefix}:open`)).toBe(0);
    expect(await redis.hlen(`${prefix}:jobs`)).toBe(0);
    // The key itself expires in Redis even if nobody prunes.
    const other = await requester.request({ ref: ref('4@2'), message: 'x', expiresAt: new Date(Date.now() + 60_000) });
    const ttl = await redis.pttl(`${prefix}:request:${other.request.id}`);
    expect(ttl).toBeGreaterThan(60_000);
  });

  it('keeps cursors for iterate()', async () => {
    fresh();
    const store = makeStore();
    await store.progress.save(ref('5@1'), { after: 42 });
    expect(await store.progress.load(ref('5@1'))).toEqual({ after: 42 });
    expect(await store.progress.load(ref('5@2'))).toBeUndefined();
    await store.progress.clear(ref('5@1'));
    expect(await store.progress.load(ref('5@1'))).toBeUndefined();
  });

  it('takes the user’s own ioredis client and never closes it', async () => {
    fresh();
    const client = new Redis(redisConnection());
    const store = redisStore({ client, prefix, logger: silentLogger });
    await store.open({ onRequest: () => {} });
    await store.request({ ref: ref('6@1'), message: 'x' });
    await store.close();
    expect(await client.ping()).toBe('PONG');
    await client.quit();
  });

  it('refuses bad options before connecting', () => {
    expect(() => redisStore({} as never)).toThrow(
      'Expected `options` to be an object with exactly one of `connection` and `client`, got "neither"',
    );
    expect(() => redisStore({ client: {} })).toThrow('Expected `client` to be an ioredis or node-redis client');
    expect(() => redisStore({ connection: redisUrl(), prefix: 'a b' })).toThrow('Expected `prefix`');
    expect(() => redisStore({ connection: redisUrl(), pollInterval: 0 })).toThrow('Expected `pollInterval`');
    expect(() => redisStore({ connection: redisUrl(), nope: 1 } as never)).toThrow('Unknown option `nope`');
  });
});

describe.runIf(haveRedis())('redisStore() with a node-redis client', () => {
  it('stores, delivers and resolves a request, and never closes the user’s client', async () => {
    const { createClient } = await import('redis');
    const client = createClient({ url: redisUrl() });
    client.on('error', () => {});
    await client.connect();
    const prefix = uniquePrefix('jt-node-redis');
    const worker = redisStore({ client, prefix, pollInterval: 200, logger: silentLogger });
    const requester = redisStore({ client, prefix, receiveRequests: false, logger: silentLogger });
    const got: KillRequest[] = [];
    await worker.open({ onRequest: (r) => got.push(r) });
    const { request } = await requester.request({ ref: ref('7@1'), message: 'node-redis' });
    await expect.poll(() => got.map((r) => r.id), { timeout: 2000, interval: 5 }).toEqual([request.id]);
    const waiting = requester.waitForResolution(request.id, { timeout: 5_000 });
    await worker.resolve(request.id, 'terminated', 'w');
    expect(await waiting).toBe('terminated');
    await worker.close();
    await requester.close();
    expect(await client.sendCommand(['PING'])).toBe('PONG');
    await client.close();
  });
});
