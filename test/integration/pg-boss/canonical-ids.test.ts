// Issue 10, item 4: a pg-boss id in upper case, in braces or without hyphens
// names the same job as pg-boss's own lower-case id. Before the fix it was
// found in the queue, stored as written, and never matched the running job's
// token: `timed_out`, the job ran on, and a correctly written request opened a
// second row. Now every spelling is stored as pg-boss writes it and reaches
// the job; what cannot be a UUID is a usage error, and nothing is stored.
import { PgBoss } from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgBossAdapter, pgBossJobterm } from '../../../src/adapters/pg-boss/index.js';
import { makeDeferred } from '../../../src/core/deferred.js';
import { silentLogger } from '../../../src/core/logger.js';
import { postgresStore } from '../../../src/stores/postgres/index.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';
import { waitForRow } from '../../fixtures/pg-boss/rows.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';

const FAST = { pollingIntervalSeconds: 0.5, notifyPollingIntervalSeconds: 0.5, localConcurrency: 4 } as const;
const QUEUE = 'spellings';

async function until(check: () => Promise<boolean>) {
  for (const deadline = Date.now() + 10_000; !(await check()); ) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('pg-boss ids in any spelling', () => {
  let db: TestDatabase;
  let boss: PgBoss;
  let worker: Terminator;
  let requester: Terminator;
  let adapter: ReturnType<typeof pgBossAdapter>;
  let jt: ReturnType<typeof pgBossJobterm>;
  let gate = makeDeferred<void>();

  beforeAll(async () => {
    db = await createTestDatabase('jobterm_pgboss_ids');
    boss = new PgBoss({ connectionString: db.url, schedule: false, supervise: false, useListenNotify: true });
    boss.on('error', () => {});
    await boss.start();
    await boss.createQueue(QUEUE, { notify: true });
    worker = createTerminator({
      store: postgresStore({ connectionString: db.url, logger: silentLogger }),
      logger: silentLogger,
      workerId: 'worker',
    });
    await worker.whenReady();
    jt = pgBossJobterm({ boss, terminator: worker, stopBoss: false });
    await boss.work(
      QUEUE,
      FAST,
      jt.handler(async ([job]) => {
        await new Promise<void>((resolve) => job!.signal.addEventListener('abort', () => resolve(), { once: true }));
        // Held until the test has made its second request, so both find the job still running.
        await gate.promise;
        job!.token.throwIfTerminating();
      }),
    );
    adapter = pgBossAdapter({ connectionString: db.url });
    requester = createTerminator({
      store: postgresStore({ connectionString: db.url, receiveRequests: false, logger: silentLogger }),
      adapters: [adapter],
      logger: silentLogger,
      workerId: 'requester',
    });
  });
  afterAll(async () => {
    gate.resolve();
    await requester?.close();
    await adapter?.close();
    await boss?.offWork(QUEUE).catch(() => undefined);
    jt?.dispose();
    await worker?.close();
    await boss?.stop({ graceful: false }).catch(() => undefined);
    await db?.drop();
  });

  const spellings: Array<[string, (id: string) => string]> = [
    ['upper case', (id) => id.toUpperCase()],
    ['braces', (id) => `{${id}}`],
    ['no hyphens', (id) => id.replaceAll('-', '')],
    ['braces, upper case, no hyphens', (id) => `{${id.replaceAll('-', '').toUpperCase()}}`],
  ];

  it.each(spellings)(
    '%s: the running job is terminated and one request is stored, under pg-boss’s id',
    async (_what, spell) => {
      const id = (await boss.send(QUEUE, {}))!;
      await waitForRow(db.pool, id, (r) => r.state === 'active');
      gate = makeDeferred<void>();
      const first = await requester.terminate({ queue: 'pg-boss', name: QUEUE, id: spell(id) });
      // The job's own spelling afterwards finds the same request, not a second one.
      const second = requester.terminate({ queue: 'pg-boss', name: QUEUE, id }, { wait: true, timeout: 10_000 });
      await until(
        async () =>
          (await db.query('SELECT 1 FROM jobterm.kill_requests WHERE delivered_by IS NOT NULL AND job_id = $1', [id]))
            .length > 0,
      );
      // The job saw its token (delivered); it stops once the second request is in.
      await new Promise((resolve) => setTimeout(resolve, 200));
      gate.resolve();
      expect(first).toMatchObject({ status: 'requested', ref: { queue: 'pg-boss', name: QUEUE, id } });
      expect(await second).toMatchObject({ status: 'terminated', requestId: first.requestId });
      expect((await waitForRow(db.pool, id, (r) => r.state === 'cancelled')).state).toBe('cancelled');
      expect(
        await db.query(
          'SELECT job_id, outcome FROM jobterm.kill_requests WHERE lower(replace(job_id, $2, $3)) LIKE $1',
          [`%${id.replaceAll('-', '')}%`, '-', ''],
        ),
      ).toEqual([{ job_id: id, outcome: 'terminated' }]);
    },
  );

  it.each([
    ['123'],
    ['not-a-uuid'],
    ['{0b7e8f52-8d2b-4c5e-9a3e-1f2a3b4c5d6e'],
    ['0b7e8f52-8d2b-4c5e-9a3e-1f2a3b4c5d6'],
  ])('refuses %j with a TypeError naming job.id; nothing stored', async (id) => {
    const before = await db.query('SELECT count(*)::int AS n FROM jobterm.kill_requests');
    await expect(requester.terminate({ queue: 'pg-boss', name: QUEUE, id })).rejects.toThrow(
      /Expected `job.id` to be a pg-boss job id \(a UUID\)/,
    );
    expect(await db.query('SELECT count(*)::int AS n FROM jobterm.kill_requests')).toEqual(before);
  });

  it('refuses a queue name pg-boss itself would refuse', async () => {
    await expect(
      requester.terminate({ queue: 'pg-boss', name: 'no spaces', id: '0b7e8f52-8d2b-4c5e-9a3e-1f2a3b4c5d6e' }),
    ).rejects.toThrow(/Expected `job.name` to be a pg-boss queue name/);
  });
});
