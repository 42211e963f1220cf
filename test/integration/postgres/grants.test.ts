import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import type { KillRequest } from '../../../src/core/store.js';
import { postgresStore } from '../../../src/stores/postgres/index.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';

/**
 * The GRANTs docs/postgres-store.md gives for a worker role and a requester
 * role, applied to real roles: each can do its part and nothing more.
 */
describe('least-privilege roles (the GRANTs in the docs)', () => {
  let db: TestDatabase;
  const suffix = randomBytes(4).toString('hex');
  const worker = `jobterm_worker_${suffix}`;
  const requester = `jobterm_requester_${suffix}`;
  const urlFor = (role: string) => {
    const url = new URL(db.url);
    url.username = role;
    url.password = 'pw';
    return url.toString();
  };

  beforeAll(async () => {
    db = await createTestDatabase('jobterm_pg_grants');
    const owner = postgresStore({ connectionString: db.url, logger: silentLogger });
    await owner.migrate();
    await owner.close();
    for (const role of [worker, requester]) {
      await db.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pw'`);
      await db.query(`GRANT CONNECT ON DATABASE "${db.name}" TO ${role}`);
      await db.query(`GRANT USAGE ON SCHEMA jobterm TO ${role}`);
      await db.query(`GRANT SELECT ON jobterm.migrations TO ${role}`);
    }
    // As documented: workers read and update requests; requesters also insert them.
    await db.query(`GRANT SELECT, UPDATE ON jobterm.kill_requests TO ${worker}`);
    await db.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON jobterm.progress TO ${worker}`);
    await db.query(`GRANT SELECT, INSERT, UPDATE ON jobterm.kill_requests TO ${requester}`);
  });
  afterAll(async () => {
    await db?.drop();
    // Roles are cluster-wide: drop them once the database that references them is gone.
    const admin = await createTestDatabase('jobterm_pg_grants_cleanup');
    for (const role of [worker, requester]) await admin.query(`DROP ROLE IF EXISTS ${role}`);
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
});
