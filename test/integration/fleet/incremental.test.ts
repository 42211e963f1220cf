import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import type { KillRequest } from '../../../src/core/store.js';
import { type PostgresStore, postgresStore } from '../../../src/stores/postgres/index.js';
import { createTerminator } from '../../../src/terminator/terminator.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean | Promise<boolean>, what: string, timeout = 10_000): Promise<void> {
  for (const deadline = Date.now() + timeout; !(await check()); await sleep(10)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
  }
}

/** A pool that records every statement, to see what polls read. */
function countingPool(url: string): { pool: pg.Pool; statements: string[] } {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => {});
  const statements: string[] = [];
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    statements.push(typeof args[0] === 'string' ? args[0] : String((args[0] as { text?: string }).text));
    return query(...args);
  };
  return { pool, statements };
}

/** A request row written straight to the table, with no NOTIFY: only polling can find it. */
async function insertSilently(client: { query: (text: string, values: unknown[]) => Promise<unknown> }, id: string) {
  const requestId = randomUUID();
  await client.query(
    `INSERT INTO jobterm.kill_requests (id, queue, job_id, reason_message, expires_at)
     VALUES ($1, 'q', $2, 'silent', now() + interval '1 hour')`,
    [requestId, id],
  );
  return requestId;
}

const FULL_READ = /WHERE status <> 'resolved' AND expires_at > now\(\)(\s+LIMIT \$1)?$/;

describe('incremental polling of open requests (change_xid watermark)', () => {
  let db: TestDatabase;
  const stores: PostgresStore[] = [];
  const pools: pg.Pool[] = [];
  beforeAll(async () => {
    db = await createTestDatabase('jobterm_fleet_incremental');
    const owner = postgresStore({ connectionString: db.url, logger: silentLogger });
    await owner.migrate();
    await owner.close();
  });
  afterAll(async () => {
    for (const store of stores) await store.close();
    for (const pool of pools) await pool.end();
    await db?.drop();
  });

  it('after the full load, polls read only what changed, and a request committed late by an old transaction is still found', async () => {
    for (let i = 0; i < 50; i++) await insertSilently(db.pool, `before-${i}`);
    const { pool, statements } = countingPool(db.url);
    pools.push(pool);
    // The LISTEN connection is what a NOTIFY reaches; these rows are inserted without one, so polling must find them.
    const store = postgresStore({ pool, logger: silentLogger, pollInterval: 50 });
    stores.push(store);
    const received: KillRequest[] = [];
    await store.open({ onRequest: (r) => received.push(r) });
    expect(received).toHaveLength(50);
    const fullReadsAtStart = statements.filter((s) => FULL_READ.test(s.trim())).length;
    expect(fullReadsAtStart).toBe(1);

    // A transaction that got its xid before several polls, and commits after them.
    const late = new pg.Client({ connectionString: db.url });
    await late.connect();
    try {
      await late.query('BEGIN');
      const lateId = await insertSilently(late, 'late');
      const polls = statements.length;
      await until(() => statements.length > polls + 6, 'a few polls ran');
      await insertSilently(db.pool, 'meanwhile');
      await until(() => received.some((r) => r.ref.id === 'meanwhile'), 'the newer request arrived by polling');
      await late.query('COMMIT');
      await until(() => received.some((r) => r.id === lateId), 'the late-committed request arrived by polling');
    } finally {
      await late.end();
    }
    // Resolved elsewhere: polling forgets it.
    await db.query(
      `UPDATE jobterm.kill_requests SET status = 'resolved', outcome = 'terminated', resolved_at = now() WHERE job_id = 'before-0'`,
    );
    await until(() => store.pendingFor({ queue: 'q', id: 'before-0' }) === undefined, 'the resolution was polled');
    expect(statements.filter((s) => FULL_READ.test(s.trim())).length).toBe(fullReadsAtStart);
  });

  it('above maxOpenInMemory, a job checks the store at its start and is still stopped before it runs', async () => {
    const store = postgresStore({
      connectionString: db.url,
      logger: silentLogger,
      maxOpenInMemory: 5,
      schema: 'jobterm',
    });
    stores.push(store);
    const terminator = createTerminator({ store, logger: silentLogger, presence: false });
    await terminator.whenReady();
    const requestId = await insertSilently(db.pool, 'held-back');
    // Not in memory: the store holds at most 5 and there are more than that.
    expect(store.pendingFor({ queue: 'q', id: 'held-back' })).toBeUndefined();
    let ran = false;
    const outcome = await terminator.run({ queue: 'q', id: 'held-back' }, () => {
      ran = true;
    });
    expect(ran).toBe(false);
    expect(outcome).toMatchObject({ status: 'terminated', reason: { requestId } });
    await terminator.close();
  });
});
