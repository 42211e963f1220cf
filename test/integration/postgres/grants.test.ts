import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import type { KillRequest } from '../../../src/core/store.js';
import { postgresStore } from '../../../src/stores/postgres/index.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';

/**
 * The GRANTs docs/postgres-store.md gives for a worker role and a requester
 * role, applied to real roles: each can do its part and nothing more, and the
 * database (not jobterm's code) is what stops a worker from redirecting a kill
 * (issue 10, item 7).
 */
describe('least-privilege roles (the GRANTs in the docs)', () => {
  let db: TestDatabase;
  const suffix = randomBytes(4).toString('hex');
  const worker = `jobterm_worker_${suffix}`;
  const requester = `jobterm_requester_${suffix}`;
  const legacy = `jobterm_legacy_${suffix}`;
  const urlFor = (role: string) => {
    const url = new URL(db.url);
    url.username = role;
    url.password = 'pw';
    return url.toString();
  };
  const pools: pg.Pool[] = [];
  /** A plain connection as `role`, for the statements jobterm itself never sends. */
  const sqlAs = (role: string) => {
    const pool = new pg.Pool({ connectionString: urlFor(role), max: 1 });
    pool.on('error', () => {});
    pools.push(pool);
    return (text: string, values?: unknown[]) => pool.query(text, values);
  };
  const row = async (id: string) => (await db.query('SELECT * FROM jobterm.kill_requests WHERE id = $1', [id]))[0];

  beforeAll(async () => {
    db = await createTestDatabase('jobterm_pg_grants');
    const owner = postgresStore({ connectionString: db.url, logger: silentLogger });
    await owner.migrate();
    await owner.close();
    for (const role of [worker, requester, legacy]) {
      await db.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pw'`);
      await db.query(`GRANT CONNECT ON DATABASE "${db.name}" TO ${role}`);
      await db.query(`GRANT USAGE ON SCHEMA jobterm TO ${role}`);
      await db.query(`GRANT SELECT ON jobterm.migrations TO ${role}`);
    }
    // As documented: workers read requests and write only through the two functions.
    await db.query(`GRANT SELECT ON jobterm.kill_requests TO ${worker}`);
    await db.query(
      `GRANT EXECUTE ON FUNCTION jobterm.mark_delivered(uuid, text), jobterm.resolve_request(uuid, text, text, boolean) TO ${worker}`,
    );
    await db.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON jobterm.progress TO ${worker}`);
    // Requesters insert (and take over expired rows), and resolve what they learn from the queue.
    await db.query(`GRANT SELECT, INSERT, UPDATE ON jobterm.kill_requests TO ${requester}`);
    await db.query(`GRANT EXECUTE ON FUNCTION jobterm.resolve_request(uuid, text, text, boolean) TO ${requester}`);
    // The worker grant documented before migration 3: UPDATE on the table.
    await db.query(`GRANT SELECT, UPDATE ON jobterm.kill_requests TO ${legacy}`);
  });
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end().catch(() => undefined)));
    await db?.drop();
    // Roles are cluster-wide: drop them once the database that references them is gone.
    const admin = await createTestDatabase('jobterm_pg_grants_cleanup');
    for (const role of [worker, requester, legacy]) await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.drop();
  });

  it('a requester terminates and waits; a worker receives, marks delivered and resolves; neither can do the other’s part', async () => {
    const asWorker = postgresStore({ connectionString: urlFor(worker), logger: silentLogger, pollInterval: 60_000 });
    const asRequester = postgresStore({
      connectionString: urlFor(requester),
      logger: silentLogger,
      receiveRequests: false,
    });
    try {
      const received: KillRequest[] = [];
      const errors: unknown[] = [];
      await asWorker.open({ onRequest: (r) => received.push(r), onError: (e) => errors.push(e) });
      const { request } = await asRequester.request({ ref: { queue: 'q', id: 'granted' }, message: 'x' });
      const waiting = asRequester.waitForResolution(request.id, { timeout: 10_000 });
      for (const deadline = Date.now() + 10_000; !received.some((r) => r.id === request.id); ) {
        if (Date.now() > deadline) throw new Error('the worker role never received the request');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await asWorker.markDelivered(request.id, 'w');
      await asWorker.resolve(request.id, 'terminated', 'w');
      expect(await waiting).toBe('terminated');
      expect(errors).toEqual([]);
      expect(await row(request.id)).toMatchObject({
        status: 'resolved',
        outcome: 'terminated',
        delivered_by: 'w',
        resolved_by: 'w',
      });

      await expect(asWorker.request({ ref: { queue: 'q', id: 'not-allowed' }, message: 'x' })).rejects.toMatchObject({
        code: '42501',
      });
      await expect(asRequester.prune()).rejects.toMatchObject({ code: '42501' });

      // iterate()'s cursors: the worker keeps them, the requester cannot touch them.
      const job = { queue: 'q', id: 'iterating' };
      await asWorker.progress.save(job, { after: 7 });
      expect(await asWorker.progress.load(job)).toEqual({ after: 7 });
      await asWorker.progress.clear(job);
      expect(await asWorker.progress.load(job)).toBeUndefined();
      await expect(asRequester.progress.save(job, 1)).rejects.toMatchObject({ code: '42501' });
      await expect(asRequester.migrate()).resolves.toMatchObject({ applied: [] });
    } finally {
      await asWorker.close();
      await asRequester.close();
    }
  });

  it('the worker role cannot create a request, nor change its job, reason, requester or times (no UPDATE at all)', async () => {
    const asRequester = postgresStore({
      connectionString: urlFor(requester),
      logger: silentLogger,
      receiveRequests: false,
    });
    try {
      const { request } = await asRequester.request({
        ref: { queue: 'q', id: 'victim-1' },
        message: 'why',
        requestedBy: 'alice',
      });
      const before = await row(request.id);
      const asWorkerSql = sqlAs(worker);
      await expect(
        asWorkerSql(
          `INSERT INTO jobterm.kill_requests (id, queue, job_id, reason_message, expires_at) VALUES (gen_random_uuid(), 'q', 'x', 'm', now() + interval '1 day')`,
        ),
      ).rejects.toMatchObject({ code: '42501' });
      for (const set of [
        `job_id = 'someone-else'`,
        `queue_name = 'other'`,
        `reason_message = 'rewritten'`,
        `requested_by = 'mallory'`,
        `requested_at = now() - interval '1 day'`,
        `expires_at = now() + interval '10 years'`,
        `status = 'pending', outcome = NULL`,
      ]) {
        await expect(
          asWorkerSql(`UPDATE jobterm.kill_requests SET ${set} WHERE id = $1`, [request.id]),
          set,
        ).rejects.toMatchObject({
          code: '42501',
        });
      }
      await expect(asWorkerSql('DELETE FROM jobterm.kill_requests WHERE id = $1', [request.id])).rejects.toMatchObject({
        code: '42501',
      });
      expect(await row(request.id)).toEqual(before);
    } finally {
      await asRequester.close();
    }
  });

  it('through the functions a request moves pending -> delivered -> resolved once each: never reopened, never re-resolved, its deliverer never rewritten', async () => {
    const asRequester = postgresStore({
      connectionString: urlFor(requester),
      logger: silentLogger,
      receiveRequests: false,
    });
    const asWorker = postgresStore({ connectionString: urlFor(worker), logger: silentLogger, receiveRequests: false });
    try {
      const { request } = await asRequester.request({ ref: { queue: 'q', id: 'victim-2' }, message: 'why' });
      await asWorker.markDelivered(request.id, 'first');
      await asWorker.markDelivered(request.id, 'second');
      expect(await row(request.id)).toMatchObject({ status: 'delivered', delivered_by: 'first' });
      await asWorker.resolve(request.id, 'terminated', 'first');
      const resolved = await row(request.id);
      expect(resolved).toMatchObject({ status: 'resolved', outcome: 'terminated', resolved_by: 'first' });

      // Again through the store, and straight through the functions.
      await asWorker.resolve(request.id, 'already_finished', 'second');
      const asWorkerSql = sqlAs(worker);
      expect(
        (await asWorkerSql('SELECT jobterm.resolve_request($1, $2, $3) AS done', [request.id, 'not_found', 'mallory']))
          .rows,
      ).toEqual([{ done: false }]);
      expect(
        (await asWorkerSql('SELECT jobterm.mark_delivered($1, $2) AS done', [request.id, 'mallory'])).rows,
      ).toEqual([{ done: false }]);
      // An outcome the table does not know is refused by its CHECK, inside the function.
      const { request: other } = await asRequester.request({ ref: { queue: 'q', id: 'victim-3' }, message: 'why' });
      await expect(
        asWorkerSql('SELECT jobterm.resolve_request($1, $2, $3)', [other.id, 'pending', 'mallory']),
      ).rejects.toMatchObject({ code: '23514' });
      expect(await row(request.id)).toEqual(resolved);
    } finally {
      await asRequester.close();
      await asWorker.close();
    }
  });

  it('the functions are not PUBLIC: a role without EXECUTE cannot record a delivery', async () => {
    const asRequester = postgresStore({
      connectionString: urlFor(requester),
      logger: silentLogger,
      receiveRequests: false,
    });
    try {
      const { request } = await asRequester.request({ ref: { queue: 'q', id: 'victim-4' }, message: 'why' });
      await expect(asRequester.markDelivered(request.id, 'requester')).rejects.toMatchObject({ code: '42501' });
      expect(await row(request.id)).toMatchObject({ status: 'pending', delivered_by: null });
    } finally {
      await asRequester.close();
    }
  });

  it('a role still holding the UPDATE grant of older docs (or the owner) cannot redirect a request to another job or rewrite a resolved one', async () => {
    const asRequester = postgresStore({
      connectionString: urlFor(requester),
      logger: silentLogger,
      receiveRequests: false,
    });
    try {
      const { request } = await asRequester.request({ ref: { queue: 'q', id: 'victim-5' }, message: 'why' });
      await asRequester.resolve(request.id, 'already_finished', 'requester');
      const resolved = await row(request.id);
      for (const as of [sqlAs(legacy), (text: string, values?: unknown[]) => db.pool.query(text, values)]) {
        await expect(
          as(
            `UPDATE jobterm.kill_requests SET job_id = 'another-job', status = 'pending', outcome = NULL WHERE id = $1`,
            [request.id],
          ),
        ).rejects.toThrow(/a kill request never changes job/);
        await expect(
          as(
            `UPDATE jobterm.kill_requests SET status = 'pending', outcome = NULL, resolved_by = NULL, resolved_at = NULL WHERE id = $1`,
            [request.id],
          ),
        ).rejects.toThrow(/a resolved kill request is never changed/);
        await expect(
          as(`UPDATE jobterm.kill_requests SET reason_message = 'rewritten' WHERE id = $1`, [request.id]),
        ).rejects.toThrow(/a resolved kill request is never changed/);
      }
      expect(await row(request.id)).toEqual(resolved);
    } finally {
      await asRequester.close();
    }
  });
});
