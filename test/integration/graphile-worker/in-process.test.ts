// graphile-worker runners inside the test process, for the shutdown races
// that need a hand on the terminator: jobs ending after their pool stopped
// fetching but before their token fired, and graphile's forceful shutdown
// (`runner.kill()`).
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger, type Runner, run, runTaskList } from 'graphile-worker';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeJobtermPreset } from '../../../src/adapters/graphile-worker/index.js';
import { makeDeferred } from '../../../src/core/deferred.js';
import { silentLogger } from '../../../src/core/logger.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';
import { type GraphileTestDatabase, makeTestPool, prepareGraphileDatabase } from './setup.js';

let gw: GraphileTestDatabase;
beforeAll(async () => {
  gw = await prepareGraphileDatabase();
});
afterAll(() => gw?.close());

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  await gw.reset();
});

const quiet = new Logger(() => () => {});

function makePool(): pg.Pool {
  return makeTestPool(gw.db.url, 6);
}

async function startRunner(
  terminator: Terminator,
  work: (payload: { ms: number; fail?: boolean }) => Promise<void>,
  concurrency = 1,
) {
  // A pool of our own, ended before the database is dropped (graphile ends the
  // pools it makes without awaiting them, and without error handlers).
  const pgPool = makePool();
  cleanups.push(() => pgPool.end());
  const runner: Runner = await run({
    pgPool,
    concurrency,
    pollInterval: 100,
    // The terminator here does not handle signals, so graphile must not either (this is the test process).
    noHandleSignals: true,
    logger: quiet,
    taskList: { work: (payload) => work(payload as { ms: number; fail?: boolean }) },
    preset: makeJobtermPreset({ terminator }),
  });
  cleanups.push(() => runner.stop());
  return runner;
}

describe('graphile-worker in-process: shutdown races', () => {
  it('jobs that end after their pool stopped fetching get graphile’s own write from jobterm, awaited before stop() resolves', async () => {
    const terminator = createTerminator({ logger: silentLogger, shutdownTimeout: 5_000 });
    cleanups.push(() => terminator.close());
    // Another participant that is slow to stop: tokens fire only after it, so
    // the jobs below end on their own while their pool no longer fetches.
    terminator.addShutdownParticipant({ beforeJobs: () => sleep(500) });
    let started = 0;
    const bothStarted = makeDeferred<void>();
    const runner = await startRunner(
      terminator,
      async ({ ms, fail }) => {
        if (++started === 2) bothStarted.resolve();
        await sleep(ms);
        if (fail) throw new Error('boom');
      },
      2,
    );
    const completes = await gw.addJob({ ms: 150 });
    const fails = await gw.addJob({ ms: 150, fail: true }, { maxAttempts: 3 });
    await bothStarted.promise;
    await runner.stop();
    // graphile fires these writes without awaiting them; at this point they
    // must have landed (jobterm made them and awaited them).
    expect(await gw.row(completes)).toBeUndefined();
    const failed = await gw.row(fails);
    expect(failed).toMatchObject({
      attempts: 1,
      max_attempts: 3,
      last_error: 'boom',
      locked_at: null,
      locked_by: null,
    });
    expect(failed!.run_at.getTime()).toBeGreaterThan(failed!.now.getTime());
    expect(await gw.locked()).toEqual({ jobs: 0, queues: 0 });
    expect(terminator.running()).toEqual([]);
  });

  it('graphile’s forceful shutdown escalates jobterm’s shutdown first: the job goes back unspent instead of failing', async () => {
    const terminator = createTerminator({ logger: silentLogger, shutdownTimeout: 60_000 });
    cleanups.push(() => terminator.close());
    const escalated: string[] = [];
    terminator.on('escalated', ({ ref }) => escalated.push(ref.id));
    const started = makeDeferred<void>();
    const pgPool = makePool();
    cleanups.push(() => pgPool.end());
    // runTaskList hands back graphile's WorkerPool, whose forcefulShutdown() is
    // what graphile's second signal calls (runner.kill() only goes forceful if
    // the pool is still active after its graceful start, which it never is).
    const workerPool = runTaskList(
      { noHandleSignals: true, pollInterval: 100, logger: quiet, preset: makeJobtermPreset({ terminator }) },
      {
        work: async () => {
          started.resolve();
          await sleep(5_000); // ignores its token
        },
      },
      pgPool,
    );
    const id = await gw.addJob({ ms: 0 }, { maxAttempts: 3 });
    await started.promise;
    const at = Date.now();
    await workerPool.forcefulShutdown('test: forceful');
    // Far below the 60 s shutdownTimeout: the forceful path escalated it.
    expect(Date.now() - at).toBeLessThan(5_000);
    expect(escalated).toEqual([id]);
    const row = await gw.row(id);
    // Without jobterm, graphile's forceful path would fail it with its message and an attempt spent.
    expect(row).toMatchObject({
      attempts: 0,
      locked_at: null,
      locked_by: null,
      last_error: 'Interrupted: worker shutting down',
    });
    expect(row!.run_at.getTime()).toBeLessThanOrEqual(row!.now.getTime());
    expect(await gw.locked()).toEqual({ jobs: 0, queues: 0 });
    expect(terminator.running()).toEqual([]);
  });
});
