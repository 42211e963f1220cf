// pg-boss handlers run isolated (`jt.handler(module, options)`), in a real
// worker process; this test process is the requester. The same cases as
// graphile-worker.test.ts, asserted on pg-boss's own job rows.
import { fileURLToPath } from 'node:url';
import { PgBoss } from 'pg-boss';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pgBossAdapter } from '../../../src/adapters/pg-boss/index.js';
import { silentLogger } from '../../../src/core/logger.js';
import { postgresStore } from '../../../src/stores/postgres/index.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';
import { jobRow, waitForRow } from '../../fixtures/pg-boss/rows.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { killAllWorkers, spawnWorker, type WorkerMessage } from '../../support/processes.js';

const script = fileURLToPath(new URL('../../fixtures/isolation/pg-boss.ts', import.meta.url));
const KILL_TIMEOUT = 300;
let db: TestDatabase;
let boss: PgBoss;
let requester: Terminator;
let closeAdapter: () => Promise<void>;
let seq = 0;

beforeAll(async () => {
  db = await createTestDatabase('jobterm_isolation_pgboss');
  boss = new PgBoss({ connectionString: db.url, schedule: false, supervise: false });
  boss.on('error', () => {});
  await boss.start();
  const store = postgresStore({ connectionString: db.url, receiveRequests: false, logger: silentLogger });
  await store.migrate();
  const adapter = pgBossAdapter({ connectionString: db.url });
  closeAdapter = () => adapter.close();
  requester = createTerminator({ store, adapters: [adapter], logger: silentLogger });
  await requester.whenReady();
});
afterAll(async () => {
  await requester?.close();
  await closeAdapter?.();
  await boss?.stop({ graceful: false }).catch(() => undefined);
  await db?.drop();
});
afterEach(killAllWorkers);

async function startWorker() {
  const queue = `iso${++seq}`;
  for (const runner of ['thread', 'process']) {
    await boss.createQueue(`${queue}-${runner}`, { retryLimit: 0 });
  }
  const worker = spawnWorker(script, {
    env: { DATABASE_URL: db.url, QUEUE: queue, KILL_TIMEOUT: String(KILL_TIMEOUT) },
  });
  await worker.waitFor('ready', 30_000);
  return { worker, queue };
}
const about = (event: string, id: string) => (m: WorkerMessage) => m.event === event && m.id === id;
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

for (const runner of ['thread', 'process'] as const) {
  describe(`pg-boss, jt.handler(module, { runner: '${runner}' })`, () => {
    it('a while (true) job is stopped by terminate() from this process within killTimeout plus a margin; other jobs run meanwhile; cancelled for good', async () => {
      const { worker, queue } = await startWorker();
      const name = `${queue}-${runner}`;
      const stuck = (await boss.send(name, { behave: 'spin' }))!;
      const started = (await worker.waitFor(about('isolate-start', stuck), 30_000)) as WorkerMessage & { pid: number };
      const other = (await boss.send(name, { behave: 'sum', n: 100 }))!;
      expect(await waitForRow(db.pool, other, (row) => row.state === 'completed', 30_000)).toMatchObject({
        output: { sum: 5050 },
      });
      const asked = performance.now();
      const result = await requester.terminate(
        { queue: 'pg-boss', name, id: stuck },
        { reason: 'runaway', wait: true, timeout: 15_000 },
      );
      const took = performance.now() - asked;
      expect(result.status).toBe('terminated');
      expect(await worker.waitFor(about('escalated', stuck))).toMatchObject({ kind: 'kill', hardStopped: true });
      // About time: escalation waits killTimeout; the margin is for a loaded machine.
      expect(took).toBeLessThan(KILL_TIMEOUT + 5_000);
      expect(await jobRow(db.pool, stuck)).toMatchObject({ state: 'cancelled', retry_count: 0 });
      if (runner === 'process') {
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(alive(started.pid)).toBe(false);
      }
      const next = (await boss.send(name, { behave: 'sum' }))!;
      await waitForRow(db.pool, next, (row) => row.state === 'completed', 30_000);
    }, 90_000);

    it('a shutdown escalation stops an isolated stuck job and puts it back unspent; no thread or child outlives the pool', async () => {
      const { worker, queue } = await startWorker();
      const stuck = (await boss.send(`${queue}-${runner}`, { behave: 'spin' }))!;
      await worker.waitFor(about('isolate-start', stuck), 30_000);
      worker.kill('SIGTERM');
      expect(await worker.waitFor('shutdown-end', 15_000)).toMatchObject({ workerThreads: 0, children: [] });
      expect(await worker.exited).toMatchObject({ code: 0 });
      expect(await jobRow(db.pool, stuck)).toMatchObject({ state: 'created', retry_count: 0 });
    }, 90_000);

    it('a crash of each kind fails the job with its cause, and the pool goes on', async () => {
      const { worker, queue } = await startWorker();
      const name = `${queue}-${runner}`;
      const kinds: Array<[string, RegExp]> = [
        ['throw', /out of range in the isolate/],
        ['exit', /exited with code 3/],
        ['oom', /ran out of memory/],
      ];
      if (runner === 'process') kinds.push(['segfault', /killed by SIGSEGV/]);
      for (const [behave, cause] of kinds) {
        const id = (await boss.send(name, { behave }))!;
        const row = await waitForRow(db.pool, id, (r) => r.state === 'failed', 30_000);
        expect(JSON.stringify(row.output), behave).toMatch(cause);
      }
      const next = (await boss.send(name, { behave: 'sum' }))!;
      await waitForRow(db.pool, next, (row) => row.state === 'completed', 30_000);
      expect(worker.messages.filter((m) => m.event === 'jobterm-error')).toEqual([]);
    }, 120_000);
  });
}

describe('pg-boss, jt.handler(module, { runner: thread }): the flag', () => {
  it('isTerminating() turns true inside a synchronous loop: the job stops itself, no escalation, cancelled', async () => {
    const { worker, queue } = await startWorker();
    const name = `${queue}-thread`;
    const id = (await boss.send(name, { behave: 'sync' }))!;
    await worker.waitFor(about('isolate-start', id), 30_000);
    const result = await requester.terminate({ queue: 'pg-boss', name, id }, { wait: true, timeout: 15_000 });
    expect(result.status).toBe('terminated');
    expect(await worker.waitFor(about('isolate-saw', id))).toMatchObject({ kind: 'kill' });
    expect(await worker.waitFor(about('terminated', id))).toMatchObject({ escalated: false });
    expect(worker.messages.filter((m) => m.event === 'escalated')).toEqual([]);
    expect(await jobRow(db.pool, id)).toMatchObject({ state: 'cancelled' });
  }, 60_000);
});
