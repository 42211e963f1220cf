import { randomUUID } from 'node:crypto';
import { getEventListeners } from 'node:events';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '../../../src/core/logger.js';
import type { KillRequest } from '../../../src/core/store.js';
import { type PostgresStore, type PostgresStoreOptions, postgresStore } from '../../../src/stores/postgres/index.js';
import { LATEST_VERSION, MIGRATIONS } from '../../../src/stores/postgres/migrations.js';
import { selectByIds } from '../../../src/stores/postgres/requests.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';

/** Polls `check` until it returns true; for state another connection changes. */
async function until(check: () => boolean | Promise<boolean>, what: string, timeout = 10_000): Promise<void> {
  for (const deadline = Date.now() + timeout; !(await check()); ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function recordingLogger() {
  const lines: Array<{ level: string; message: string; meta?: Record<string, unknown> }> = [];
  const at = (level: string) => (message: string, meta?: Record<string, unknown>) =>
    lines.push({ level, message, ...(meta ? { meta } : {}) });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, lines };
}

describe('postgresStore', () => {
  let db: TestDatabase;
  const stores: PostgresStore[] = [];
  const make = (options: Partial<PostgresStoreOptions> = {}) => {
    const store = postgresStore({ connectionString: db.url, logger: recordingLogger().logger, ...options });
    stores.push(store);
    return store;
  };
  /** An opened (worker) store and what it delivered. */
  const openWorker = async (options: Partial<PostgresStoreOptions> = {}) => {
    const store = make(options);
    const received: KillRequest[] = [];
    const errors: unknown[] = [];
    await store.open({ onRequest: (r) => received.push(r), onError: (e) => errors.push(e) });
    return { store, received, errors };
  };
  const rows = (where = 'true', params: unknown[] = []) =>
    db.query<Record<string, unknown>>(`SELECT * FROM jobterm.kill_requests WHERE ${where}`, params);

  beforeAll(async () => {
    db = await createTestDatabase('jobterm_pg_store');
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });
  afterAll(() => db?.drop());

  describe('migration', () => {
    it('creates the schema once, is idempotent, and is safe when several processes migrate at once', async () => {
      const racers = Array.from({ length: 4 }, () => make({ schema: 'migration_race' }));
      const results = await Promise.all(racers.map((store) => store.migrate()));
      expect(results.filter((r) => r.applied.length > 0)).toEqual([
        { from: 0, to: LATEST_VERSION, applied: MIGRATIONS.map((m) => m.version) },
      ]);
      expect(results.filter((r) => r.applied.length === 0)).toHaveLength(3);
      expect(await make({ schema: 'migration_race' }).migrate()).toEqual({
        from: LATEST_VERSION,
        to: LATEST_VERSION,
        applied: [],
      });
      expect(await db.query('SELECT version, name FROM migration_race.migrations')).toEqual(
        MIGRATIONS.map(({ version, name }) => ({ version, name })),
      );
      const indexes = await db.query<{ indexname: string }>(
        `SELECT indexname FROM pg_indexes WHERE schemaname = 'migration_race' ORDER BY indexname`,
      );
      expect(indexes.map((i) => i.indexname)).toEqual([
        'kill_requests_change_xid',
        'kill_requests_expires_at',
        'kill_requests_open_job',
        'kill_requests_pkey',
        'kill_requests_requested_at',
        'migrations_pkey',
        'progress_pkey',
        'worker_queue_ids_instance',
        'worker_queue_ids_pkey',
        'workers_last_seen_at',
        'workers_pkey',
      ]);
    });

    it('with `migrate: false`, a missing schema is a clear error, not a crash', async () => {
      const store = make({ schema: 'never_migrated', migrate: false });
      await expect(store.request({ ref: { queue: 'q', id: '1' }, message: 'x' })).rejects.toThrow(
        /schema "never_migrated" is missing jobterm's tables; run `jobterm migrate`/,
      );
    });
  });

  describe('requests', () => {
    it('a second request for a job with one open returns the open one, also when two arrive at once', async () => {
      const ref = { queue: 'q', name: 'emails', id: 'same-job' };
      const a = make();
      const b = make();
      await a.migrate();
      const results = await Promise.all([
        a.request({ ref, message: 'first', requestedBy: 'alice' }),
        b.request({ ref, message: 'second', requestedBy: 'bob' }),
        a.request({ ref, message: 'third' }),
      ]);
      expect(new Set(results.map((r) => r.request.id)).size).toBe(1);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(results[0]?.request.ref).toEqual(ref);
      expect(await rows('job_id = $1', ['same-job'])).toHaveLength(1);

      // Once resolved, the job can be asked for again: a new request.
      await a.resolve(results[0]!.request.id, 'already_finished', 'w1');
      const again = await b.request({ ref, message: 'again' });
      expect(again.created).toBe(true);
      expect(again.request.id).not.toBe(results[0]?.request.id);
      expect(await rows('job_id = $1', ['same-job'])).toHaveLength(2);
    });

    it('an expired request no longer counts: a new one takes its place, and workers stop applying it', async () => {
      const ref = { queue: 'q', id: 'expiring' };
      const { store: worker } = await openWorker();
      const requester = make();
      const old = await requester.request({ ref, message: 'old', expiresAt: new Date(Date.now() + 300) });
      await until(() => worker.pendingFor(ref)?.id === old.request.id, 'the worker knows the request');
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(worker.pendingFor(ref)).toBeUndefined();
      expect(await requester.listRequests({ pending: true })).not.toContainEqual(
        expect.objectContaining({ id: old.request.id }),
      );
      const fresh = await requester.request({ ref, message: 'new' });
      expect(fresh.created).toBe(true);
      expect(fresh.request.id).not.toBe(old.request.id);
      expect(await rows('job_id = $1', ['expiring'])).toEqual([
        expect.objectContaining({ id: fresh.request.id, reason_message: 'new', status: 'pending' }),
      ]);
      await until(() => worker.pendingFor(ref)?.id === fresh.request.id, 'the worker knows the new request');
    });

    it('resolve is idempotent and only the first outcome counts; a late markDelivered records the deliverer only', async () => {
      const store = make();
      const { request } = await store.request({ ref: { queue: 'q', id: 'resolve-twice' }, message: 'x' });
      await store.markDelivered(request.id, 'w1');
      expect(await rows('id = $1', [request.id])).toEqual([
        expect.objectContaining({ status: 'delivered', delivered_by: 'w1' }),
      ]);
      await store.resolve(request.id, 'terminated', 'w1');
      await store.resolve(request.id, 'already_finished', 'w2');
      await store.markDelivered(request.id, 'w3');
      expect(await rows('id = $1', [request.id])).toEqual([
        expect.objectContaining({ status: 'resolved', outcome: 'terminated', resolved_by: 'w1', delivered_by: 'w1' }),
      ]);
      // The terminator does not await markDelivered: it can land after the resolve, and still counts.
      const raced = await store.request({ ref: { queue: 'q', id: 'resolve-first' }, message: 'x' });
      await store.resolve(raced.request.id, 'terminated', 'w1');
      await store.markDelivered(raced.request.id, 'w1');
      const [row] = await rows('id = $1', [raced.request.id]);
      expect(row).toMatchObject({ status: 'resolved', outcome: 'terminated', delivered_by: 'w1' });
      expect((row!.delivered_at as Date).getTime()).toBeLessThanOrEqual((row!.resolved_at as Date).getTime());
    });

    it('lists requests newest first, open ones only with `pending`', async () => {
      const store = make();
      const first = await store.request({ ref: { queue: 'list', id: '1' }, message: 'one', requestedBy: 'me' });
      const second = await store.request({ ref: { queue: 'list', id: '2' }, message: 'two' });
      await store.resolve(first.request.id, 'terminated', 'w');
      const all = (await store.listRequests({ limit: 1000 })).filter((r) => r.ref.queue === 'list');
      expect(all.map((r) => r.id)).toEqual([second.request.id, first.request.id]);
      expect(all[1]).toMatchObject({ status: 'resolved', outcome: 'terminated', resolvedBy: 'w', expired: false });
      expect(all[1]?.reason).toMatchObject({
        kind: 'kill',
        message: 'one',
        requestedBy: 'me',
        requestId: first.request.id,
      });
      const open = await store.listRequests({ pending: true, limit: 1000 });
      expect(open.map((r) => r.id)).toContain(second.request.id);
      expect(open.map((r) => r.id)).not.toContain(first.request.id);
      expect(await store.listRequests({ limit: 1 })).toHaveLength(1);
    });

    it('looks up one id or several (NOTIFY batches), prepared or not', async () => {
      const store = make();
      const a = await store.request({ ref: { queue: 'lookup', id: 'a' }, message: 'x' });
      const b = await store.request({ ref: { queue: 'lookup', id: 'b' }, message: 'x' });
      const client = await db.pool.connect();
      try {
        for (const prepared of [false, true]) {
          const one = await selectByIds(client, store.names, [a.request.id], prepared);
          expect(one.map((r) => r.ref.id)).toEqual(['a']);
          const both = await selectByIds(client, store.names, [a.request.id, b.request.id, randomUUID()], prepared);
          expect(both.map((r) => r.ref.id).sort()).toEqual(['a', 'b']);
        }
      } finally {
        client.release();
      }
    });

    it('prune() deletes expired requests, resolved or not, and keeps the rest', async () => {
      const store = make();
      const soon = () => new Date(Date.now() + 200);
      const a = await store.request({ ref: { queue: 'prune', id: 'a' }, message: 'x', expiresAt: soon() });
      const b = await store.request({ ref: { queue: 'prune', id: 'b' }, message: 'x', expiresAt: soon() });
      await store.resolve(b.request.id, 'terminated', 'w');
      const kept = await store.request({ ref: { queue: 'prune', id: 'c' }, message: 'x' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await store.prune()).toBeGreaterThanOrEqual(2);
      const left = await rows(`queue = 'prune'`);
      expect(left.map((r) => r.id)).toEqual([kept.request.id]);
      expect(a.request.id).not.toBe(kept.request.id);
    });
  });

  describe('delivery to a worker', () => {
    it('loads open requests at open, learns new ones by NOTIFY, and drops resolved ones everywhere', async () => {
      const requester = make({ receiveRequests: false });
      const early = await requester.request({ ref: { queue: 'w', id: 'early' }, message: 'before open' });
      // Delivered but never resolved (its worker died): still in force for the next worker.
      await requester.markDelivered(early.request.id, 'dead-worker');

      const one = await openWorker({ pollInterval: 60_000 });
      const two = await openWorker({ pollInterval: 60_000 });
      expect(one.received.map((r) => r.id)).toContain(early.request.id);
      expect(one.store.pendingFor({ queue: 'w', id: 'early' })?.id).toBe(early.request.id);

      const late = await requester.request({ ref: { queue: 'w', id: 'late' }, message: 'after open' });
      // Polling is off (60 s): this can only be NOTIFY.
      await until(() => two.received.some((r) => r.id === late.request.id), 'NOTIFY delivered the request');
      expect(two.store.pendingFor({ queue: 'w', id: 'late' })?.reason).toMatchObject({
        kind: 'kill',
        message: 'after open',
        requestId: late.request.id,
      });

      await one.store.resolve(late.request.id, 'terminated', 'one');
      expect(one.store.pendingFor({ queue: 'w', id: 'late' })).toBeUndefined();
      await until(() => two.store.pendingFor({ queue: 'w', id: 'late' }) === undefined, 'the other worker dropped it');
      expect(one.errors).toEqual([]);
      expect(two.errors).toEqual([]);
    });

    it('a forged or malformed NOTIFY does nothing but a debug line', async () => {
      const { logger, lines } = recordingLogger();
      const { store, received } = await openWorker({ logger, pollInterval: 60_000 });
      const requester = make({ receiveRequests: false });
      const real = await requester.request({ ref: { queue: 'forged', id: 'keep' }, message: 'real' });
      await until(() => received.some((r) => r.id === real.request.id), 'the real request arrived');
      received.length = 0;

      const notify = (channel: string, payload: string) => db.query('SELECT pg_notify($1, $2)', [channel, payload]);
      await notify(store.names.requestChannel, 'garbage; DROP TABLE jobterm.kill_requests');
      await notify(store.names.requestChannel, randomUUID());
      // A forged "resolved" for an open request must not drop it from the worker's memory.
      await notify(store.names.resolvedChannel, real.request.id);
      await notify(store.names.requestChannel, '');
      // A request sent after the forgeries arrives after them: once it is here, they were handled.
      const marker = await requester.request({ ref: { queue: 'forged', id: 'marker' }, message: 'marker' });
      await until(() => received.some((r) => r.id === marker.request.id), 'the marker arrived');

      expect(received.map((r) => r.id)).toEqual([marker.request.id]);
      expect(store.pendingFor({ queue: 'forged', id: 'keep' })?.id).toBe(real.request.id);
      expect(await rows('true')).not.toHaveLength(0);
      const debug = lines.filter((l) => l.level === 'debug').map((l) => l.message);
      expect(debug).toContain('ignored a NOTIFY whose payload is not a request id');
      expect(debug).toContain('ignored a NOTIFY naming no stored request');
      expect(lines.filter((l) => l.level !== 'debug' && l.level !== 'info')).toEqual([]);
    });

    it('polling reconciles what NOTIFY missed (a row written without announcing it)', async () => {
      const { store, received } = await openWorker({ pollInterval: 100 });
      const id = randomUUID();
      await db.query(
        `INSERT INTO jobterm.kill_requests (id, queue, job_id, reason_message, expires_at)
         VALUES ($1, 'poll', 'silent', 'no notify', now() + interval '1 hour')`,
        [id],
      );
      await until(() => received.some((r) => r.id === id), 'polling found the request');
      expect(store.pendingFor({ queue: 'poll', id: 'silent' })?.id).toBe(id);
      await db.query(`UPDATE jobterm.kill_requests SET status = 'resolved', outcome = 'terminated' WHERE id = $1`, [
        id,
      ]);
      await until(() => store.pendingFor({ queue: 'poll', id: 'silent' }) === undefined, 'polling dropped it');
      expect(received.filter((r) => r.id === id)).toHaveLength(1);
    });
  });

  describe('waitForResolution', () => {
    it('wakes by NOTIFY when another process resolves, in a store that never opened', async () => {
      const requester = make({ receiveRequests: false, pollInterval: 60_000 });
      const worker = make();
      const { request } = await requester.request({ ref: { queue: 'wait', id: '1' }, message: 'x' });
      const waiting = requester.waitForResolution(request.id, { timeout: 20_000 });
      // Let it LISTEN and look once; polling is off (60 s), so only NOTIFY can wake it.
      await until(
        async () =>
          (
            await db.query(
              `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'jobterm:listen'`,
            )
          ).length > 0,
        'the requester listens',
      );
      await worker.resolve(request.id, 'terminated', 'worker-x');
      expect(await waiting).toBe('terminated');
    });

    it('returns an outcome already recorded, and undefined on timeout or abort, leaving no listener behind', async () => {
      const store = make({ receiveRequests: false });
      const done = await store.request({ ref: { queue: 'wait', id: '2' }, message: 'x' });
      await store.resolve(done.request.id, 'already_finished', 'w');
      expect(await store.waitForResolution(done.request.id, { timeout: 5_000 })).toBe('already_finished');

      const open = await store.request({ ref: { queue: 'wait', id: '3' }, message: 'x' });
      expect(await store.waitForResolution(open.request.id, { timeout: 50 })).toBeUndefined();
      const controller = new AbortController();
      const aborted = store.waitForResolution(open.request.id, { timeout: 20_000, signal: controller.signal });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
      controller.abort();
      expect(await aborted).toBeUndefined();
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      expect(
        await store.waitForResolution(open.request.id, { timeout: 5_000, signal: controller.signal }),
      ).toBeUndefined();
    });
  });

  describe('lifecycle', () => {
    it('close() is safe twice, releases its connections and timers, and refuses further use', async () => {
      // Other code in this process (the test database's pool) may drop a timer meanwhile, never add one.
      const resources = () => {
        const active = process.getActiveResourcesInfo();
        return {
          timers: active.filter((r) => r === 'Timeout').length,
          sockets: active.filter((r) => r === 'TCPSocketWrap').length,
        };
      };
      const before = resources();
      const { store } = await openWorker({ pollInterval: 50, pruneInterval: 50 });
      const { request } = await store.request({ ref: { queue: 'close', id: '1' }, message: 'x' });
      const waiting = store.waitForResolution(request.id, { timeout: 20_000 });
      await new Promise((resolve) => setTimeout(resolve, 120));
      await Promise.all([store.close(), store.close()]);
      await store.close();
      expect(await waiting).toBeUndefined();
      await until(
        () => resources().timers <= before.timers && resources().sockets <= before.sockets,
        'timers and sockets are released',
        2_000,
      );
      await expect(store.request({ ref: { queue: 'close', id: '2' }, message: 'x' })).rejects.toThrow(/closed/);
      expect(store.pendingFor({ queue: 'close', id: '1' })).toBeUndefined();
    });

    it("borrows the user's pool without ending it, and listens with the pool's settings", async () => {
      const pool = new pg.Pool({ connectionString: db.url, max: 2 });
      try {
        const store = postgresStore({ pool, logger: recordingLogger().logger, pollInterval: 60_000 });
        const received: KillRequest[] = [];
        await store.open({ onRequest: (r) => received.push(r) });
        const other = make({ receiveRequests: false });
        const { request } = await other.request({ ref: { queue: 'pool', id: '1' }, message: 'x' });
        await until(() => received.some((r) => r.id === request.id), 'NOTIFY through the pool-configured listener');
        await store.close();
        expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      } finally {
        await pool.end();
      }
    });

    it('a store is opened by one terminator only', async () => {
      const { store } = await openWorker();
      await expect(store.open({ onRequest: () => {} })).rejects.toThrow(/already open/);
    });
  });
});
