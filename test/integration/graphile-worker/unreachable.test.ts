// The queue write that ends a job, made while PostgreSQL cannot be reached:
// graphile's pool reaches the real test server through a relay the test cuts
// (every connection ended, new ones refused: ECONNREFUSED, as during a
// restart) right when the job ends, and restores 1.5 s later. The kill store
// connects directly, so only the queue write meets the outage.
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger, type Runner, run } from 'graphile-worker';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeJobtermPreset } from '../../../src/adapters/graphile-worker/index.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { TerminationToken } from '../../../src/core/token.js';
import { postgresStore } from '../../../src/stores/postgres/index.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';
import { type CuttableProxy, cuttableProxy } from '../../support/cuttable-proxy.js';
import { type GraphileTestDatabase, makeTestPool, prepareGraphileDatabase } from './setup.js';

const OUTAGE_MS = 1_500;

let gw: GraphileTestDatabase;
beforeAll(async () => {
  gw = await prepareGraphileDatabase();
});
afterAll(() => gw?.close());

const cleanups: Array<() => Promise<unknown>> = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  unhandled.length = 0;
  await gw.reset();
});

const quiet = new Logger(() => () => {});

interface Setup {
  proxy: CuttableProxy;
  terminator: Terminator;
  runner: Runner;
  /** Each event with the time it was emitted. */
  seen: Array<{ event: string; at: number; during?: string }>;
  started: Promise<void>;
}

/** A runner whose one task waits for its token, lingers 1 s (so the test can cut first), then throws. */
async function setup(): Promise<Setup> {
  const proxy = await cuttableProxy(gw.db.url);
  cleanups.push(() => proxy.close());
  const store = postgresStore({ connectionString: gw.db.url, logger: silentLogger });
  const terminator = createTerminator({ store, logger: silentLogger, killTimeout: 10_000, shutdownTimeout: 10_000 });
  cleanups.push(() => terminator.close());
  const seen: Setup['seen'] = [];
  for (const event of ['terminating', 'terminated', 'interrupted'] as const) {
    terminator.on(event, () => seen.push({ event, at: Date.now() }));
  }
  terminator.on('error', ({ during }) => seen.push({ event: 'error', at: Date.now(), during }));
  const pgPool = makeTestPool(proxy.url, 6);
  cleanups.push(() => pgPool.end());
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => {
    markStarted = resolve;
  });
  const runner = await run({
    pgPool,
    concurrency: 1,
    pollInterval: 100,
    noHandleSignals: true,
    logger: quiet,
    taskList: {
      work: async (_payload, helpers) => {
        const token: TerminationToken = helpers.jobterm.token;
        markStarted();
        await new Promise((resolve) => token.signal.addEventListener('abort', resolve, { once: true }));
        await sleep(1_000);
        token.throwIfTerminating();
      },
    },
    preset: makeJobtermPreset({ terminator }),
  });
  cleanups.push(() => runner.stop());
  return { proxy, terminator, runner, seen, started };
}

/** Cuts the relay now and restores it after OUTAGE_MS; resolves to the time it came back. */
function outage(proxy: CuttableProxy): Promise<number> {
  return proxy.cut().then(async () => {
    await sleep(OUTAGE_MS);
    await proxy.restore();
    return Date.now();
  });
}

describe('graphile-worker: the ending written while PostgreSQL is unreachable', () => {
  it('a kill: the write is retried until it lands, then `terminated` and the request resolved; no unhandled rejection', async () => {
    const { proxy, terminator, seen, started } = await setup();
    const id = await gw.addJob({}, { maxAttempts: 5 });
    await started;
    const answer = terminator.terminate(
      { queue: 'graphile-worker', id },
      { reason: 'stop now', wait: true, timeout: 20_000 },
    );
    await expect.poll(() => seen.some((e) => e.event === 'terminating')).toBe(true);
    const back = await outage(proxy);
    expect((await answer).status).toBe('terminated');
    // graphile's own fail write follows the task, unawaited: it must land (as a no-op), not reject.
    await sleep(1_000);
    expect(await gw.row(id)).toMatchObject({
      attempts: 5,
      max_attempts: 5,
      last_error: 'Terminated: stop now',
      locked_at: null,
      locked_by: null,
    });
    expect(await gw.locked()).toEqual({ jobs: 0, queues: 0 });
    expect(unhandled).toEqual([]);
    const terminated = seen.find((e) => e.event === 'terminated');
    // Emitted only once the write landed, which it could only after the outage.
    expect(terminated?.at).toBeGreaterThanOrEqual(back);
    expect(seen.filter((e) => e.event === 'error')).toEqual([]);
  });

  it('a shutdown: the job is put back once the database is back, and nothing is left locked', async () => {
    const { proxy, terminator, runner, seen, started } = await setup();
    const id = await gw.addJob({}, { maxAttempts: 5 });
    await started;
    await proxy.cut();
    const restored = sleep(OUTAGE_MS).then(async () => {
      await proxy.restore();
      return Date.now();
    });
    const report = await terminator.shutdown();
    const back = await restored;
    await runner.stop().catch(() => undefined);
    await sleep(1_000);
    expect(await gw.row(id)).toMatchObject({ attempts: 0, locked_at: null, locked_by: null });
    expect(await gw.locked()).toEqual({ jobs: 0, queues: 0 });
    expect(unhandled).toEqual([]);
    expect(report.jobs).toMatchObject([{ ref: { id }, status: 'interrupted' }]);
    const interrupted = seen.find((e) => e.event === 'interrupted');
    expect(interrupted?.at).toBeGreaterThanOrEqual(back);
    expect(seen.filter((e) => e.event === 'error')).toEqual([]);
  });
});
