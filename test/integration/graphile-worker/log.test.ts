// What graphile-worker logs for the endings jobterm writes. graphile logs any
// task that throws as `ERROR: Failed task ...`; a put-back and a requested
// kill are not failures, so under the plugin they read as what they are, at
// `info`, while a task's own failure keeps graphile's line unchanged.
import { Logger, type LogLevel, type Runner, run } from 'graphile-worker';
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

interface Line {
  level: LogLevel;
  message: string;
  meta: Record<string, unknown>;
}

/** A graphile logger that keeps every line, as a user's own logger passed to `run()` would receive them. */
function recordingLogger(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const logger = new Logger(() => (level, message, meta) => {
    lines.push({ level, message, meta: (meta ?? {}) as Record<string, unknown> });
  });
  return { logger, lines };
}

type Behaviour = 'wait-for-token' | 'fail';

async function startRunner(terminator: Terminator, logger: Logger, started: (id: string) => void): Promise<Runner> {
  const pgPool = makeTestPool(gw.db.url, 6);
  cleanups.push(() => pgPool.end());
  const runner = await run({
    pgPool,
    concurrency: 1,
    pollInterval: 100,
    noHandleSignals: true,
    logger,
    taskList: {
      work: async (payload, helpers) => {
        started(String(helpers.job.id));
        if ((payload as { behave: Behaviour }).behave === 'fail') throw new Error('boom');
        const token = helpers.jobterm.token;
        if (!token.isTerminating()) await new Promise((resolve) => token.onTerminate(resolve));
        token.throwIfTerminating();
      },
    },
    preset: makeJobtermPreset({ terminator }),
  });
  cleanups.push(() => runner.stop());
  return runner;
}

/** The lines about how job `id` ended (graphile's debug `Found task` line left out). */
function linesFor(lines: Line[], id: string): Line[] {
  return lines.filter((line) => line.level !== 'debug' && line.message.includes(`task ${id} `));
}

describe('graphile-worker log lines under the plugin', () => {
  it('a put-back, a kill and a real failure: info for the first two, graphile’s own ERROR for the last', async () => {
    const terminator = createTerminator({ logger: silentLogger, shutdownTimeout: 5_000 });
    cleanups.push(() => terminator.close());
    const { logger, lines } = recordingLogger();
    const ownKeys = Object.keys(logger);
    const starts = new Map<string, ReturnType<typeof makeDeferred<void>>>();
    const startOf = (id: string) => {
      const deferred = starts.get(id) ?? makeDeferred<void>();
      starts.set(id, deferred);
      return deferred;
    };
    const runner = await startRunner(terminator, logger, (id) => startOf(id).resolve());

    const failing = await gw.addJob({ behave: 'fail' }, { maxAttempts: 3 });
    await startOf(failing).promise;
    const killed = await gw.addJob({ behave: 'wait-for-token' });
    await startOf(killed).promise;
    const result = await terminator.terminate(
      { queue: 'graphile-worker', id: killed },
      { reason: 'customer cancelled', requestedBy: 'alice', wait: true },
    );
    expect(result.status).toBe('terminated');

    const putBack = await gw.addJob({ behave: 'wait-for-token' });
    await startOf(putBack).promise;
    await runner.stop();

    // graphile's own line for a task that failed by itself, unchanged.
    expect(linesFor(lines, failing)).toEqual([
      expect.objectContaining({
        level: 'error',
        message: expect.stringMatching(/^Failed task \d+ \(work, [\d.]+ms, attempt 1 of 3\) with error 'boom'/),
        meta: expect.objectContaining({ failure: true }),
      }),
    ]);
    const [kill] = linesFor(lines, killed);
    expect(linesFor(lines, killed)).toHaveLength(1);
    expect(kill).toMatchObject({
      level: 'info',
      message: expect.stringMatching(
        /^Terminated task \d+ \(work, [\d.]+ms\): ended for good, not retried \('Terminated: customer cancelled \(by alice\)'\)$/,
      ),
      meta: { jobterm: 'ended' },
    });
    expect(kill!.meta).not.toHaveProperty('failure');
    const [back] = linesFor(lines, putBack);
    expect(linesFor(lines, putBack)).toHaveLength(1);
    expect(back).toMatchObject({
      level: 'info',
      message: expect.stringMatching(
        /^Put back task \d+ \(work, [\d.]+ms\): back in the queue at once, attempt not spent \('Interrupted: .+'\)$/,
      ),
      meta: { jobterm: 'put_back' },
    });
    expect(back!.meta).not.toHaveProperty('failure');
    expect(lines.filter((line) => line.level === 'error')).toHaveLength(1);

    // The rows say the same as the lines.
    expect(await gw.row(killed)).toMatchObject({ last_error: 'Terminated: customer cancelled (by alice)' });
    expect(await gw.row(putBack)).toMatchObject({
      attempts: 0,
      locked_at: null,
      last_error: expect.stringMatching(/^Interrupted: /),
    });
    // The caller's logger is not modified: the plugin wraps it.
    expect(Object.keys(logger)).toEqual(ownKeys);
    expect(Object.hasOwn(logger, 'error')).toBe(false);
  });
});
