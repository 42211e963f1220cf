import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import type { PresenceRecord } from '../../../src/core/presence.js';
import { postgresStore } from '../../../src/stores/postgres/index.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';

/** The GRANTs docs/fleet.md gives, on real roles: each role does its part of presence and nothing more. */
describe('presence grants (docs/fleet.md)', () => {
  let db: TestDatabase;
  const suffix = randomBytes(4).toString('hex');
  const worker = `jt_fleet_worker_${suffix}`;
  const reader = `jt_fleet_reader_${suffix}`;
  const urlFor = (role: string) => {
    const url = new URL(db.url);
    url.username = role;
    url.password = 'pw';
    return url.toString();
  };
  beforeAll(async () => {
    db = await createTestDatabase('jobterm_fleet_grants');
    const owner = postgresStore({ connectionString: db.url, logger: silentLogger });
    await owner.migrate();
    await owner.close();
    for (const role of [worker, reader]) {
      await db.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pw'`);
      await db.query(`GRANT CONNECT ON DATABASE "${db.name}" TO ${role}`);
      await db.query(`GRANT USAGE ON SCHEMA jobterm TO ${role}`);
      await db.query(`GRANT SELECT ON jobterm.migrations TO ${role}`);
      await db.query(`GRANT SELECT ON jobterm.fleet_workers, jobterm.kill_requests, jobterm.progress TO ${role}`);
    }
    await db.query(`GRANT EXECUTE ON FUNCTION jobterm.presence_heartbeat(uuid, text, jsonb),
      jobterm.presence_deregister(uuid, text), jobterm.presence_claim_dead(text, text[], integer, integer),
      jobterm.presence_complete_rescue(uuid, text), jobterm.kill_request_escalated(uuid, text) TO ${worker}`);
  });
  afterAll(async () => {
    await db?.drop();
    const admin = await createTestDatabase('jobterm_fleet_grants_cleanup');
    for (const role of [worker, reader]) await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.drop();
  });

  it('a worker heartbeats and claims only through the functions; a reader only reads', async () => {
    const asWorker = postgresStore({ connectionString: urlFor(worker), logger: silentLogger, receiveRequests: false });
    const asReader = postgresStore({ connectionString: urlFor(reader), logger: silentLogger, receiveRequests: false });
    try {
      const record: PresenceRecord = {
        instanceId: randomUUID(),
        workerId: 'granted',
        host: 'h',
        pid: 1,
        queues: [],
        versions: { jobterm: '0', node: '24' },
        startedAt: new Date(),
        heartbeatInterval: 100,
        deadAfter: 400,
        jobs: [],
      };
      const secret = 'x'.repeat(64);
      expect(await asWorker.heartbeat(record, secret)).toBe('created');
      expect((await asReader.fleet()).workers.map((w) => w.workerId)).toEqual(['granted']);
      // No direct write, and the secret's hash is not readable: only the functions touch the table.
      await expect(
        db.pool.query(`SET ROLE ${worker}; UPDATE jobterm.workers SET last_seen_at = now()`),
      ).rejects.toMatchObject({
        code: '42501',
      });
      await db.pool.query('RESET ROLE');
      await expect(asReader.heartbeat({ ...record, instanceId: randomUUID() }, secret)).rejects.toMatchObject({
        code: '42501',
      });
      await expect(asReader.claimDead('reader', { lease: 1_000, limit: 1, queues: [] })).rejects.toMatchObject({
        code: '42501',
      });
      await asWorker.deregister(record.instanceId, secret);
      expect((await asReader.fleet()).workers).toEqual([]);
    } finally {
      await asWorker.close();
      await asReader.close();
    }
  });
});
