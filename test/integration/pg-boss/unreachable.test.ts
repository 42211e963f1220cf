// The queue write that ends a pg-boss job, made while PostgreSQL cannot be
// reached: pg-boss's pool reaches the real test server through a relay the
// test cuts (every connection ended, new ones refused) right when the job
// ends, and restores 1.5 s later.
import { setTimeout as sleep } from 'node:timers/promises';
import { PgBoss } from 'pg-boss';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pgBossJobterm } from '../../../src/adapters/pg-boss/index.js';
import { silentLogger } from '../../../src/core/logger.js';
import { createTerminator } from '../../../src/terminator/terminator.js';
import { jobRow, waitForRow } from '../../fixtures/pg-boss/rows.js';
import { cuttableProxy } from '../../support/cuttable-proxy.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';

const OUTAGE_MS = 1_500;
const FAST = { pollingIntervalSeconds: 0.5 } as const;

let db: TestDatabase;
const cleanups: Array<() => Promise<unknown>> = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(async () => {
  db = await createTestDatabase('jobterm_pgboss_down');
  process.on('unhandledRejection', onUnhandled);
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await db?.drop();
});

describe('pg-boss: the ending written while PostgreSQL is unreachable', () => {
  it('a kill: the cancel is retried until it lands, then `terminated`; the job ends cancelled, not active or completed', async () => {
    const proxy = await cuttableProxy(db.url);
    cleanups.push(() => proxy.close());
    const boss = new PgBoss({ connectionString: proxy.url, schedule: false, supervise: false });
    boss.on('error', () => {});
    await boss.start();
    cleanups.push(() => boss.stop({ graceful: false }));
    const terminator = createTerminator({ logger: silentLogger, killTimeout: 10_000 });
    cleanups.push(() => terminator.close());
    const seen: Array<{ event: string; at: number }> = [];
    for (const event of ['terminating', 'terminated', 'error'] as const) {
      terminator.on(event, () => seen.push({ event, at: Date.now() }));
    }
    const jt = pgBossJobterm({ boss, terminator, stopBoss: false });
    cleanups.push(async () => jt.dispose());
    await boss.createQueue('down');
    let markStarted!: () => void;
    const started = new Promise<void>((resolve) => {
      markStarted = resolve;
    });
    await boss.work(
      'down',
      FAST,
      jt.handler(async ([job]) => {
        markStarted();
        await new Promise((resolve) => job!.signal.addEventListener('abort', resolve, { once: true }));
        // Lingers, so the test cuts the connection before the write; then
        // stops as a job that saw its kill does (a listener alone would make
        // its return a completion: DESIGN.md, "Did the job see it?").
        await sleep(1_000);
        job!.token.throwIfTerminating();
        return 'late result';
      }),
    );
    const id = (await boss.send('down', {}))!;
    await started;
    const answer = await terminator.terminate({ queue: 'pg-boss', name: 'down', id }, { reason: 'stop now' });
    expect(answer.status).toBe('requested');
    await proxy.cut();
    await sleep(OUTAGE_MS);
    await proxy.restore();
    const back = Date.now();
    await waitForRow(db.pool, id, (row) => row.state !== 'active', 15_000);
    // pg-boss's own settle of the attempt follows the handler: it must change nothing.
    await sleep(1_500);
    expect(await jobRow(db.pool, id)).toMatchObject({ state: 'cancelled', retry_count: 0 });
    expect(unhandled).toEqual([]);
    const terminated = seen.find((e) => e.event === 'terminated');
    expect(terminated?.at).toBeGreaterThanOrEqual(back);
    expect(seen.filter((e) => e.event === 'error')).toEqual([]);
    await boss.offWork('down');
  });
});
