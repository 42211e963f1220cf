import { getEventListeners } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { TerminatorEvents } from '../../../src/core/events.js';
import { silentLogger } from '../../../src/core/logger.js';
import { FLAG } from '../../../src/isolation/flag.js';
import { type IsolatedOptions, isolated, isolationStats } from '../../../src/isolation/index.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';

const jobs = new URL('../../fixtures/isolation/isolated-jobs.ts', import.meta.url);
// The fixture imports jobterm's sources: the isolates need tsx's loader.
const tsx = { execArgv: ['--import', 'tsx'] } as const;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let nextId = 0;
const newRef = () => ({ queue: 'test', id: `isolated-${++nextId}` });

function terminator(options: { killTimeout?: number } = {}): Terminator {
  return createTerminator({ logger: silentLogger, killTimeout: options.killTimeout ?? 5_000 });
}

function fn<P = unknown, R = unknown>(
  runner: 'thread' | 'process',
  exportName: string,
  extra: Partial<IsolatedOptions> = {},
) {
  return isolated<P, R>(jobs, { runner, exportName, size: 2, ...tsx, ...extra });
}

const dir = mkdtempSync(join(tmpdir(), 'jobterm-isolated-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A payload whose export writes a file when it starts, and a wait for that file. */
function startMarker() {
  const marker = join(dir, `started-${++nextId}`);
  return {
    payload: { marker },
    async started(timeout = 20_000) {
      const until = Date.now() + timeout;
      while (!existsSync(marker)) {
        if (Date.now() > until) throw new Error('the isolated export never started');
        await sleep(10);
      }
      return Number(readFileSync(marker, 'utf8'));
    },
  };
}

/** Node worker threads alive in this process: OS threads Node names `WorkerThread`. */
const threadCount = () =>
  readdirSync('/proc/self/task').filter((task) => {
    try {
      return readFileSync(`/proc/self/task/${task}/comm`, 'utf8').trim() === 'WorkerThread';
    } catch {
      return false;
    }
  }).length;
const alive = (pid: number) => {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');
  } catch {
    return false;
  }
};

describe('isolated(): bad input', () => {
  it('names what was wrong before anything starts', () => {
    expect(() => isolated(jobs, {} as IsolatedOptions)).toThrow(
      /Expected `runner` to be 'thread' or 'process', got undefined/,
    );
    expect(() => isolated(jobs, { runner: 'thread', size: 0 })).toThrow(
      /Expected `size` to be an integer from 1 to 1024, got 0/,
    );
    expect(() => isolated(jobs, { runner: 'thread', sise: 2 } as IsolatedOptions)).toThrow(/Unknown option `sise`/);
    expect(() => isolated('', { runner: 'thread' })).toThrow(/Expected `module` to be a file URL/);
    expect(() => isolated(jobs, { runner: 'process', resourceLimits: { maxOldGenerationSizeMb: -1 } })).toThrow(
      /resourceLimits.maxOldGenerationSizeMb/,
    );
  });

  it('refuses to run outside a job', async () => {
    await expect(fn('thread', 'default')(1)).rejects.toThrow(/must be called inside a job run by a terminator/);
  });

  it('the flag layout is the same on both sides', () => {
    const runtime = createRequire(import.meta.url)(
      fileURLToPath(new URL('../../../src/isolation/isolate-runtime.cjs', import.meta.url)),
    );
    expect(runtime.FLAG).toEqual(FLAG);
  });
});

for (const runner of ['thread', 'process'] as const) {
  describe(`isolated({ runner: '${runner}' })`, () => {
    it('returns the export’s result; a second call reuses the pool’s isolate', async () => {
      const t = terminator();
      const where = fn<undefined, { pid: number; threadId: number }>(runner, 'pid');
      const first = await t.run(newRef(), () => where(undefined));
      const second = await t.run(newRef(), () => where(undefined));
      expect(first).toMatchObject({ status: 'completed' });
      expect(second).toEqual(first);
      if (first.status === 'completed') {
        if (runner === 'process') expect(first.value.pid).not.toBe(process.pid);
        else expect(first.value.threadId).toBeGreaterThan(0);
      }
      expect(await t.run(newRef(), () => fn<number, number>(runner, 'default')(100))).toEqual({
        status: 'completed',
        value: 5050,
      });
      await t.shutdown();
    });

    it('mirrors the token: a cooperative export stops without escalation, the reason readable inside', async () => {
      const t = terminator();
      const ref = newRef();
      const start = startMarker();
      const running = t.run(ref, () => fn(runner, 'cooperative')(start.payload));
      await start.started();
      await t.terminate(ref, { reason: 'stop, please' });
      const outcome = await running;
      expect(outcome).toMatchObject({ status: 'terminated', escalated: false, reason: { message: 'stop, please' } });
      await t.shutdown();
    });

    it('a call still waiting for a free isolate when its job is killed never starts', async () => {
      const t = terminator();
      const busy = startMarker();
      const first = t.run(newRef(), () =>
        fn<object, string>(runner, 'ignores', { size: 1 })({ ms: 1_500, ...busy.payload }),
      );
      await busy.started();
      const waiting = newRef();
      const queued = startMarker();
      const second = t.run(waiting, () => fn(runner, 'ignores', { size: 1 })({ ms: 10, ...queued.payload }));
      await sleep(50);
      await t.terminate(waiting, { reason: 'not needed' });
      expect(await second).toMatchObject({ status: 'terminated', escalated: false, reason: { message: 'not needed' } });
      expect(await first).toEqual({ status: 'completed', value: 'done anyway' });
      expect(existsSync(queued.payload.marker)).toBe(false);
      await t.shutdown();
    });

    it('a crash of each kind fails the job with its cause, and the pool goes on', async () => {
      const t = terminator();
      const expectFailed = async (
        exportName: string,
        payload: unknown,
        match: object,
        extra?: Partial<IsolatedOptions>,
      ) => {
        const outcome = await t.run(newRef(), () => fn(runner, exportName, extra)(payload));
        expect(outcome.status, exportName).toBe('failed');
        if (outcome.status === 'failed') expect(outcome.error, exportName).toMatchObject(match);
        return outcome;
      };
      await expectFailed('throws', undefined, { name: 'RangeError', message: 'out of range in the isolate' });
      await expectFailed('exits', { code: 3 }, { name: 'IsolateCrashError', kind: 'exit', exitCode: 3 });
      await expectFailed(
        'outOfMemory',
        undefined,
        { name: 'IsolateCrashError', kind: 'out_of_memory', message: expect.stringMatching(/ran out of memory/) },
        { resourceLimits: { maxOldGenerationSizeMb: 48 } },
      );
      const late = await expectFailed('lateThrow', undefined, { name: 'IsolateCrashError' });
      if (late.status === 'failed') {
        const cause = (late.error as Error).cause as Error;
        expect(`${(late.error as Error).message} ${cause?.message}`).toMatch(/thrown from a timer in the isolate/);
      }
      if (runner === 'process') {
        await expectFailed('segfault', undefined, { name: 'IsolateCrashError', kind: 'signal', signal: 'SIGSEGV' });
      }
      // The same pool still runs jobs.
      expect(await t.run(newRef(), () => fn<number, number>(runner, 'default')(10))).toEqual({
        status: 'completed',
        value: 55,
      });
      await t.shutdown();
    }, 60_000);

    it('a payload or result that cannot cross fails with what could not, and the pool goes on', async () => {
      const t = terminator();
      const payload = await t.run(newRef(), () => fn(runner, 'default')({ rows: [1, 2], format: () => 'x' }));
      expect(payload).toMatchObject({
        status: 'failed',
        error: { name: 'IsolateCloneError', side: 'payload', path: 'payload.format' },
      });
      if (payload.status === 'failed')
        expect((payload.error as Error).message).toMatch(/payload\.format is a function/);
      const result = await t.run(newRef(), () => fn(runner, 'uncloneableResult')(undefined));
      expect(result).toMatchObject({
        status: 'failed',
        error: { name: 'IsolateCloneError', message: expect.stringMatching(/result cannot be sent back/) },
      });
      expect(await t.run(newRef(), () => fn<number, number>(runner, 'default')(3))).toEqual({
        status: 'completed',
        value: 6,
      });
      await t.shutdown();
    });

    it('a CPU-bound loop deaf to its token is really stopped at killTimeout; the other slot’s job is not disturbed', async () => {
      const t = terminator({ killTimeout: 200 });
      const escalated: TerminatorEvents['escalated'][] = [];
      t.on('escalated', (event) => escalated.push(event));
      const stuck = newRef();
      const other = newRef();
      const start = startMarker();
      const otherStart = startMarker();
      const spinning = t.run(stuck, () => fn(runner, 'spin')(start.payload));
      const patient = t.run(other, () =>
        fn<{ ms: number }, string>(runner, 'ignores')({ ms: 2_500, ...otherStart.payload }),
      );
      const pid = await start.started();
      await otherStart.started();
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 10);
      await t.terminate(stuck, { reason: 'runaway' });
      expect(await spinning).toMatchObject({ status: 'terminated', escalated: true, reason: { message: 'runaway' } });
      clearInterval(ticker);
      expect(escalated).toMatchObject([{ ref: stuck, hardStopped: true }]);
      // This process's loop was free throughout.
      expect(ticks).toBeGreaterThan(5);
      expect(await patient).toEqual({ status: 'completed', value: 'done anyway' });
      if (runner === 'process') expect(alive(pid)).toBe(false);
      expect(await t.run(newRef(), () => fn<number, number>(runner, 'default')(4))).toEqual({
        status: 'completed',
        value: 10,
      });
      await t.shutdown();
    }, 30_000);

    it('a shutdown escalation stops an isolated stuck job (interrupted, back in the queue), and nothing outlives the pool', async () => {
      const threadsBefore = threadCount();
      const t = terminator();
      const threadsRunning = () => threadCount() - threadsBefore;
      let pids: readonly number[] = [];
      const start = startMarker();
      const running = t.run(newRef(), async () => {
        const call = fn(runner, 'spin')(start.payload);
        await start.started();
        pids = isolationStats().flatMap((stats) => stats.pids ?? []);
        return call;
      });
      await start.started();
      if (runner === 'thread') expect(threadsRunning()).toBeGreaterThanOrEqual(1);
      const report = await t.shutdown({ timeout: 200 });
      expect(await running).toMatchObject({ status: 'interrupted', escalated: true, resumable: true });
      expect(report).toMatchObject({ escalated: 1 });
      if (runner === 'process') {
        expect(pids).toHaveLength(1);
        for (const pid of pids) expect(alive(pid)).toBe(false);
      } else {
        // Worker threads are OS threads of this process; they are gone once shutdown resolves.
        expect(threadCount()).toBe(threadsBefore);
      }
    }, 30_000);
  });
}

describe('isolated(): no leaks', () => {
  it('leaves no listener on the job’s signal and no pool busy once the call settled', async () => {
    const t = terminator();
    const outcome = await t.run(newRef(), async (token) => {
      const value = await fn<number, number>('thread', 'default')(5);
      return { value, listeners: getEventListeners(token.signal, 'abort').length, stats: isolationStats() };
    });
    expect(outcome).toMatchObject({
      status: 'completed',
      value: { value: 15, listeners: 0, stats: [{ runner: 'thread', running: 0, queued: 0 }] },
    });
    await t.shutdown();
  });
});

describe('isolated({ runner: thread }): the flag a synchronous loop reads', () => {
  it('isTerminating() (jobterm’s free function) turns true inside a synchronous loop; currentToken() and currentJob() work', async () => {
    const t = terminator({ killTimeout: 10_000 });
    const ref = newRef();
    const start = startMarker();
    const running = t.run(ref, () => fn(runner(), 'syncUntilTerminating')(start.payload));
    await start.started();
    const asked = performance.now();
    await t.terminate(ref, { reason: 'enough' });
    const outcome = await running;
    // Not escalated: the loop saw the flag and returned (about time: far below killTimeout).
    expect(performance.now() - asked).toBeLessThan(5_000);
    expect(outcome).toMatchObject({ status: 'terminated', escalated: false });
    await t.shutdown();
  });

  it('the value the loop returned carries what it read inside the isolate', async () => {
    const t = terminator({ killTimeout: 10_000 });
    const ref = newRef();
    let value: unknown;
    const start = startMarker();
    const running = t.run(ref, async () => {
      value = await fn(runner(), 'syncUntilTerminating')(start.payload);
      return value;
    });
    await start.started();
    await t.terminate(ref);
    await running;
    expect(value).toMatchObject({ kind: 'kill', ref, laps: expect.any(Number) });
    await t.shutdown();
  });
});

function runner(): 'thread' {
  return 'thread';
}
