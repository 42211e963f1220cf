// graphile-worker tasks run isolated (`isolatedTask()`), in a real worker
// process; this test process is the requester. For each runner: a deaf
// `while (true)` job is stopped by terminate() within killTimeout plus a
// margin while the worker runs other jobs, and its row ends for good; a
// shutdown escalation puts a stuck job back unspent; a thread's synchronous
// loop sees isTerminating(); each crash fails the attempt with its cause and
// the pool goes on; nothing of the pool outlives the shutdown.
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { graphileWorkerAdapter, jobRef } from '../../../src/adapters/graphile-worker/index.js';
import { silentLogger } from '../../../src/core/logger.js';
import { postgresStore } from '../../../src/stores/postgres/index.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';
import { killAllWorkers, spawnWorker, type WorkerMessage } from '../../support/processes.js';
import { forJob, type GraphileTestDatabase, prepareGraphileDatabase } from '../graphile-worker/setup.js';

const script = fileURLToPath(new URL('../../fixtures/isolation/graphile-worker.ts', import.meta.url));
const KILL_TIMEOUT = 300;
let gw: GraphileTestDatabase;
let requester: Terminator;
let closeAdapter: () => Promise<void>;

beforeAll(async () => {
  gw = await prepareGraphileDatabase();
  const adapter = graphileWorkerAdapter({ connectionString: gw.db.url });
  closeAdapter = () => adapter.close();
  const store = postgresStore({ connectionString: gw.db.url, receiveRequests: false, logger: silentLogger });
  await store.migrate();
  requester = createTerminator({ store, adapters: [adapter], logger: silentLogger });
  await requester.whenReady();
});
afterAll(async () => {
  await requester?.close();
  await closeAdapter?.();
  await gw?.close();
});
afterEach(async () => {
  await killAllWorkers();
  await gw.reset();
});

async function startWorker() {
  const worker = spawnWorker(script, { env: { DATABASE_URL: gw.db.url, JT_KILL_TIMEOUT: String(KILL_TIMEOUT) } });
  await worker.waitFor('ready', 30_000);
  return worker;
}
const add = async (runner: string, payload: object, maxAttempts = 3) =>
  String((await gw.utils.addJob(runner, payload, { maxAttempts })).id);
const done = async (id: string, timeout = 30_000) => {
  const until = Date.now() + timeout;
  while (Date.now() < until) {
    if ((await gw.row(id)) === undefined) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`job ${id} never completed: ${JSON.stringify(await gw.row(id))}`);
};
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

for (const runner of ['thread', 'process'] as const) {
  describe(`graphile-worker, isolatedTask({ runner: '${runner}' })`, () => {
    it('a while (true) job is stopped by terminate() from this process within killTimeout plus a margin; the worker runs other jobs meanwhile; the row ends for good', async () => {
      const worker = await startWorker();
      const stuck = await add(runner, { behave: 'spin' });
      const started = (await worker.waitFor(forJob('isolate-start', stuck), 30_000)) as WorkerMessage & { pid: number };
      // The worker's loop is free: another isolated job runs and completes beside the stuck one.
      const other = await add(runner, { behave: 'sum', n: 100 });
      await done(other);
      const asked = performance.now();
      const result = await requester.terminate(jobRef(stuck), { reason: 'runaway', wait: true, timeout: 15_000 });
      const took = performance.now() - asked;
      expect(result.status).toBe('terminated');
      expect(await worker.waitFor(forJob('escalated', stuck))).toMatchObject({ kind: 'kill', hardStopped: true });
      // About time: escalation waits killTimeout; the margin is for a loaded machine.
      expect(took).toBeLessThan(KILL_TIMEOUT + 5_000);
      expect(await gw.row(stuck)).toMatchObject({
        attempts: 3,
        max_attempts: 3,
        last_error: 'Terminated: runaway',
        locked_at: null,
      });
      if (runner === 'process') {
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(alive(started.pid)).toBe(false);
      }
      // The pool replaced the lost isolate: the next job runs.
      await done(await add(runner, { behave: 'sum' }));
    }, 90_000);

    it('a shutdown escalation stops an isolated stuck job and puts it back unspent; no thread or child outlives the pool', async () => {
      const worker = await startWorker();
      const stuck = await add(runner, { behave: 'spin' });
      await worker.waitFor(forJob('isolate-start', stuck), 30_000);
      worker.kill('SIGTERM');
      const end = await worker.waitFor('shutdown-end', 15_000);
      expect(end).toMatchObject({ workerThreads: 0, children: [] });
      expect(await worker.exited).toMatchObject({ code: 0 });
      expect(await gw.row(stuck)).toMatchObject({
        attempts: 0,
        locked_at: null,
        last_error: expect.stringMatching(/^Interrupted:/),
      });
    }, 90_000);

    it('a crash of each kind fails the attempt with its cause, and the pool goes on', async () => {
      const worker = await startWorker();
      const kinds: Array<[string, RegExp]> = [
        ['throw', /out of range in the isolate/],
        ['exit', /exited with code 3/],
        ['oom', /ran out of memory/],
      ];
      if (runner === 'process') kinds.push(['segfault', /killed by SIGSEGV/]);
      for (const [behave, cause] of kinds) {
        const id = await add(runner, { behave }, 1);
        await worker.waitFor(forJob('isolate-start', id), 30_000);
        const until = Date.now() + 30_000;
        let row = await gw.row(id);
        while (row?.last_error == null && Date.now() < until) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          row = await gw.row(id);
        }
        expect(row, behave).toMatchObject({ attempts: 1, max_attempts: 1, locked_at: null });
        expect(row?.last_error, behave).toMatch(cause);
      }
      await done(await add(runner, { behave: 'sum' }));
      expect(worker.messages.filter((m) => m.event === 'jobterm-error')).toEqual([]);
    }, 120_000);
  });
}

describe('graphile-worker, isolatedTask({ runner: thread }): the flag', () => {
  it('isTerminating() turns true inside a synchronous loop: the job stops itself, no escalation, ended for good', async () => {
    const worker = await startWorker();
    const id = await add('thread', { behave: 'sync' });
    await worker.waitFor(forJob('isolate-start', id), 30_000);
    expect((await requester.terminate(jobRef(id), { wait: true, timeout: 15_000 })).status).toBe('terminated');
    expect(await worker.waitFor(forJob('isolate-saw', id))).toMatchObject({ kind: 'kill' });
    expect(await worker.waitFor(forJob('terminated', id))).toMatchObject({ escalated: false });
    expect(worker.messages.filter((m) => m.event === 'escalated')).toEqual([]);
    expect(await gw.row(id)).toMatchObject({ attempts: 3, max_attempts: 3, locked_at: null });
  }, 60_000);
});
