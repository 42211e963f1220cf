import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { TerminatorEvents } from '../../../src/core/events.js';
import { silentLogger } from '../../../src/core/logger.js';
import { runInWorkerThread } from '../../../src/isolation/worker-thread.js';
import { createTerminator } from '../../../src/terminator/terminator.js';

const jobs = new URL('../../fixtures/isolation/jobs.mjs', import.meta.url);
const ref = { queue: 'test', id: 'isolated' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A lap counter the spinning thread increments; stopped when it no longer moves. */
function laps() {
  const buffer = new SharedArrayBuffer(4);
  const view = new Int32Array(buffer);
  return {
    buffer,
    count: () => Atomics.load(view, 0),
    /** Until the thread runs: a pooled thread starts on first use. */
    async running() {
      const until = Date.now() + 20_000;
      while (Atomics.load(view, 0) === 0 && Date.now() < until) await sleep(10);
    },
    async stopped() {
      const before = Atomics.load(view, 0);
      await sleep(150);
      return Atomics.load(view, 0) === before;
    },
  };
}

describe('runInWorkerThread() (now isolated() with a thread runner)', () => {
  it('returns the thread’s result, and a path works as well as a URL', async () => {
    const terminator = createTerminator({ logger: silentLogger });
    expect(await terminator.run(ref, () => runInWorkerThread(jobs, 100))).toEqual({ status: 'completed', value: 5050 });
    const byPath = await terminator.run(ref, () => runInWorkerThread<number>(fileURLToPath(jobs), 10));
    expect(byPath).toEqual({ status: 'completed', value: 55 });
  });

  it('brings the thread’s error back with its name and message: the job fails as usual', async () => {
    const terminator = createTerminator({ logger: silentLogger });
    const outcome = await terminator.run(ref, () => runInWorkerThread(jobs, null, { exportName: 'fails' }));
    expect(outcome.status).toBe('failed');
    if (outcome.status === 'failed') {
      expect(outcome.error).toMatchObject({ name: 'RangeError', message: 'out of range in the thread' });
    }
  });

  it('mirrors the job’s token into the thread: a cooperative function stops without escalation', async () => {
    const terminator = createTerminator({ logger: silentLogger, killTimeout: 10_000 });
    const running = terminator.run(ref, () => runInWorkerThread(jobs, null, { exportName: 'cooperative' }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await terminator.terminate(ref, { reason: 'stop, please' });
    const outcome = await running;
    expect(outcome).toMatchObject({ status: 'terminated', escalated: false, reason: { message: 'stop, please' } });
  });

  it('a CPU-bound loop that ignores its token is really stopped at killTimeout, and the event loop stayed free', async () => {
    const terminator = createTerminator({ logger: silentLogger, killTimeout: 200 });
    const escalated: TerminatorEvents['escalated'][] = [];
    const unresponsive: unknown[] = [];
    terminator.on('escalated', (e) => escalated.push(e));
    terminator.on('unresponsive', (e) => unresponsive.push(e));
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    const counter = laps();
    const running = terminator.run(ref, () =>
      runInWorkerThread(jobs, { laps: counter.buffer }, { exportName: 'spin' }),
    );
    await counter.running();
    expect(await counter.stopped()).toBe(false);
    const asked = Date.now();
    await terminator.terminate(ref);
    const outcome = await running;
    clearInterval(ticker);
    expect(outcome).toMatchObject({ status: 'terminated', escalated: true });
    // About time: escalation waits killTimeout (200 ms), generous upper bound.
    expect(Date.now() - asked).toBeGreaterThanOrEqual(190);
    expect(escalated).toMatchObject([{ ref, hardStopped: true }]);
    expect(unresponsive).toEqual([]);
    // The loop in the thread never blocked this one.
    expect(ticks).toBeGreaterThan(10);
    // The thread is gone, not left spinning.
    await sleep(50);
    expect(await counter.stopped()).toBe(true);
  });

  it('shutdown escalates a stuck thread the same way, and the job is interrupted (back in the queue)', async () => {
    const terminator = createTerminator({ logger: silentLogger });
    const counter = laps();
    const running = terminator.run(ref, () =>
      runInWorkerThread(jobs, { laps: counter.buffer }, { exportName: 'spin' }),
    );
    await counter.running();
    const report = await terminator.shutdown({ timeout: 150 });
    expect(await running).toMatchObject({ status: 'interrupted', escalated: true, resumable: true });
    expect(report.escalated).toBe(1);
    await sleep(50);
    expect(await counter.stopped()).toBe(true);
    expect(counter.count()).toBeGreaterThan(0);
  });

  it('explains bad input and where it must be called', async () => {
    await expect(runInWorkerThread(jobs)).rejects.toThrow(/inside a job/);
    const terminator = createTerminator({ logger: silentLogger });
    const outcome = await terminator.run(ref, () => runInWorkerThread('', null));
    expect(outcome.status === 'failed' && String(outcome.error)).toMatch(/Expected `module` to be a file URL/);
    const unknown = await terminator.run(ref, () => runInWorkerThread(jobs, null, { exportNmae: 'x' } as never));
    expect(unknown.status === 'failed' && String(unknown.error)).toMatch(/Unknown option `exportNmae`/);
    const missing = await terminator.run(ref, () => runInWorkerThread(jobs, null, { exportName: 'nope' }));
    expect(missing.status === 'failed' && String(missing.error)).toMatch(/Expected export `nope`/);
  });
});
