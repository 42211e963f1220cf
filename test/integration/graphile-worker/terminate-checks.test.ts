// What terminate() checks before it stores a graphile-worker request (issue 10,
// items 4, 5 and 8): the id in graphile's canonical form, a job graphile
// holds, jobterm's own errors when graphile's tables cannot be read or the
// database drops the adapter's connection, and nothing stored in either case.
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { graphileWorkerAdapter, jobRef } from '../../../src/adapters/graphile-worker/index.js';
import { silentLogger } from '../../../src/core/logger.js';
import { postgresStore } from '../../../src/stores/postgres/index.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { type GraphileTestDatabase, makeTestPool, prepareGraphileDatabase } from './setup.js';

let gw: GraphileTestDatabase;
let bare: TestDatabase;
beforeAll(async () => {
  gw = await prepareGraphileDatabase();
  bare = await createTestDatabase('jobterm_gw_bare');
  for (const url of [gw.db.url, bare.url]) {
    const owner = postgresStore({ connectionString: url, logger: silentLogger });
    await owner.migrate();
    await owner.close();
  }
});
afterAll(async () => {
  await gw?.close();
  await bare?.drop();
});
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  await gw.reset();
});

function requester(url: string, adapterOptions: { schema?: string; pool?: pg.Pool } = {}): Terminator {
  const adapter =
    adapterOptions.pool === undefined
      ? graphileWorkerAdapter({ connectionString: url, ...adapterOptions })
      : graphileWorkerAdapter({
          pool: adapterOptions.pool,
          ...(adapterOptions.schema ? { schema: adapterOptions.schema } : {}),
        });
  const terminator = createTerminator({
    store: postgresStore({ connectionString: url, receiveRequests: false, logger: silentLogger }),
    adapters: [adapter],
    logger: silentLogger,
  });
  cleanups.push(async () => {
    await terminator.close();
    await adapter.close();
  });
  return terminator;
}

const requests = async (db: TestDatabase) =>
  db.query<{ job_id: string; status: string }>(
    'SELECT job_id, status FROM jobterm.kill_requests ORDER BY requested_at',
  );

describe('terminate() of graphile-worker jobs', () => {
  it('takes an id with leading zeros as graphile’s own (`0042` is job 42) and stores the canonical id', async () => {
    const id = await gw.addJob({}, { runAt: new Date(Date.now() + 3_600_000) });
    const result = await requester(gw.db.url).terminate({ queue: 'graphile-worker', id: `000${id}` });
    expect(result).toMatchObject({ status: 'terminated', ref: { queue: 'graphile-worker', id } });
    expect(await gw.db.query('SELECT job_id FROM jobterm.kill_requests WHERE job_id LIKE $1', [`%${id}`])).toEqual([
      { job_id: id },
    ]);
    expect(jobRef(`0${id}`)).toEqual({ queue: 'graphile-worker', id });
    await gw.db.query('DELETE FROM jobterm.kill_requests');
  });

  it.each([['0'], ['-1'], ['4.2'], ['42abc'], [' 42'], ['99999999999999999999']])(
    'refuses %j as a usage error, before anything is stored',
    async (id) => {
      await expect(requester(gw.db.url).terminate({ queue: 'graphile-worker', id })).rejects.toThrow(
        /Expected `job.id` to be a graphile-worker job id/,
      );
      expect(await requests(gw.db)).toEqual([]);
    },
  );

  it('stores nothing for a job graphile never had (a job created later with that id is never killed)', async () => {
    const result = await requester(gw.db.url).terminate({ queue: 'graphile-worker', id: '999999' }, { wait: true });
    expect(result.status).toBe('not_found');
    expect(await requests(gw.db)).toEqual([]);
  });

  it('graphile’s tables missing (wrong database or schema): a QueueUnreadableError naming the queue, the schema and what to check; nothing stored', async () => {
    for (const [url, schema] of [
      [bare.url, undefined],
      [gw.db.url, 'graphile_wrong'],
    ] as const) {
      const attempt = requester(url, schema === undefined ? {} : { schema }).terminate(
        { queue: 'graphile-worker', id: '999999' },
        { wait: true, timeout: 30_000 },
      );
      await expect(attempt).rejects.toMatchObject({ name: 'QueueUnreadableError' });
      await expect(attempt).rejects.toThrow(
        new RegExp(
          `^jobterm: could not read graphile-worker's jobs in schema "${schema ?? 'graphile_worker'}" at 127\\.0\\.0\\.1:\\d+/\\w+ \\(relation "${schema ?? 'graphile_worker'}\\.jobs" does not exist\\): check that this is graphile-worker's database`,
        ),
      );
    }
    expect(await requests(bare)).toEqual([]);
    expect(await requests(gw.db)).toEqual([]);
  });

  it('a connection the server ends mid-query: DatabaseUnavailableError from the adapter, not the driver’s raw error; nothing stored', async () => {
    const pool = makeTestPool(gw.db.url, 1);
    cleanups.push(() => pool.end());
    await pool.query(`SET application_name = 'adapter-under-test'`);
    const id = await gw.addJob({});
    // Hold the adapter's read, then end its backend as an administrator (or a restart) would.
    const holder = new pg.Client({ connectionString: gw.db.url });
    holder.on('error', () => {});
    await holder.connect();
    cleanups.push(() => holder.end());
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE graphile_worker._private_jobs IN ACCESS EXCLUSIVE MODE');
    const attempt = requester(gw.db.url, { pool }).terminate(jobRef(id));
    // Its rejection can come while the loop below still polls: handled now, asserted after.
    attempt.catch(() => {});
    for (;;) {
      const [row] = await gw.db.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE application_name = 'adapter-under-test' AND wait_event_type = 'Lock'`,
      );
      if (row !== undefined) {
        await gw.db.query('SELECT pg_terminate_backend($1)', [row.pid]);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await expect(attempt).rejects.toMatchObject({ name: 'DatabaseUnavailableError' });
    await expect(attempt).rejects.toThrow(
      /^jobterm: could not reach PostgreSQL at 127\.0\.0\.1:\d+\/\w+: terminating connection due to administrator command/,
    );
    await holder.query('ROLLBACK');
    expect(await requests(gw.db)).toEqual([]);
  });

  it('a database that is down: the adapters’ own pools fail with DatabaseUnavailableError too', async () => {
    const adapter = graphileWorkerAdapter({ connectionString: 'postgres://postgres:secret@127.0.0.1:1/nowhere' });
    cleanups.push(() => adapter.close());
    const attempt = adapter.jobState(jobRef('1'));
    await expect(attempt).rejects.toMatchObject({ name: 'DatabaseUnavailableError' });
    await expect(attempt).rejects.toThrow(/^jobterm: could not reach PostgreSQL at 127\.0\.0\.1:1\/nowhere: /);
    await expect(adapter.jobState(jobRef('1'))).rejects.not.toThrow(/secret/);
  });
});
