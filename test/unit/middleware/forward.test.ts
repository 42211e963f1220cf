import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { forwardAbortTo, listenOnceFor } from '../../../src/middleware/forward.js';
import { createTerminator } from '../../../src/terminator/terminator.js';

// The two subscriptions with a callback for a target, returning a dispose: what most cases below need.
const forwardAbort = (signal: AbortSignal, onAbort: () => void) => {
  const subscription = forwardAbortTo(signal, { forwardedAbort: onAbort }, undefined);
  return () => subscription.dispose();
};
const listenOnce = (signal: AbortSignal, onAbort: () => void) => {
  const subscription = listenOnceFor(signal, { forwardedAbort: onAbort }, undefined);
  return () => subscription.dispose();
};

describe('forwarding one queue signal into many jobs', () => {
  it('50 jobs under one pool-wide signal put one listener on it, all 50 tokens fire on abort, none is left after', async () => {
    const terminator = createTerminator({ logger: silentLogger });
    const pool = new AbortController();
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      let started = 0;
      const jobs = Array.from({ length: 50 }, (_, i) =>
        terminator.run(
          { queue: 'forward', id: String(i) },
          async (token) => {
            started++;
            await new Promise((resolve) => token.onTerminate(resolve));
            token.throwIfTerminating();
          },
          { forward: [{ signal: pool.signal, kind: 'shutdown', message: 'pool stopping' }] },
        ),
      );
      while (started < 50) await new Promise((resolve) => setImmediate(resolve));
      // One listener however many jobs share the signal: Node 20 warned at 11
      // (MaxListenersExceededWarning), and the signal is not ours to re-limit.
      expect(getEventListeners(pool.signal, 'abort')).toHaveLength(1);
      pool.abort();
      const outcomes = await Promise.all(jobs);
      expect(outcomes.map((o) => o.status)).toEqual(Array(50).fill('interrupted'));
      expect(outcomes[0]).toMatchObject({ reason: { kind: 'shutdown', message: 'pool stopping' } });
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await terminator.close();
    }
  });

  it('the listener goes when the last job settles without an abort, and comes back for the next job', async () => {
    const terminator = createTerminator({ logger: silentLogger });
    const pool = new AbortController();
    const forward = [{ signal: pool.signal, kind: 'shutdown' as const }];
    const first = await Promise.all(
      [1, 2, 3].map((i) => terminator.run({ queue: 'forward', id: `a${i}` }, () => i, { forward })),
    );
    expect(first.map((o) => o.status)).toEqual(['completed', 'completed', 'completed']);
    expect(getEventListeners(pool.signal, 'abort')).toHaveLength(0);
    const later = terminator.run(
      { queue: 'forward', id: 'b' },
      async (token) => {
        expect(getEventListeners(pool.signal, 'abort')).toHaveLength(1);
        await new Promise((resolve) => token.onTerminate(resolve));
        token.throwIfTerminating();
      },
      { forward },
    );
    pool.abort();
    expect(await later).toMatchObject({ status: 'interrupted' });
    expect(getEventListeners(pool.signal, 'abort')).toHaveLength(0);
    await terminator.close();
  });

  it('forwardAbort(): an aborted signal calls at once; each subscription is its own; dispose is safe twice', () => {
    const aborted = AbortSignal.abort();
    let calls = 0;
    forwardAbort(aborted, () => calls++)();
    expect(calls).toBe(1);

    const controller = new AbortController();
    const fn = () => calls++;
    const one = forwardAbort(controller.signal, fn);
    const two = forwardAbort(controller.signal, fn);
    one();
    one();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort();
    expect(calls).toBe(2);
    two();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('forwardAbort(): subscribers leave in any order (first, middle, last); the rest fire in subscription order; the listener goes with the last', () => {
    const controller = new AbortController();
    const fired: number[] = [];
    const disposes = Array.from({ length: 6 }, (_, i) => forwardAbort(controller.signal, () => fired.push(i)));
    disposes[0]!();
    disposes[3]!();
    disposes[5]!();
    disposes[3]!();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort();
    expect(fired).toEqual([1, 2, 4]);
    // Disposing after the abort is a no-op, and nothing is left on the signal.
    for (const dispose of disposes) dispose();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);

    const other = new AbortController();
    const left = [forwardAbort(other.signal, () => fired.push(10)), forwardAbort(other.signal, () => fired.push(11))];
    left[1]!();
    left[0]!();
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(0);
    const again = forwardAbort(other.signal, () => fired.push(12));
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(1);
    other.abort();
    expect(fired).toEqual([1, 2, 4, 12]);
    again();
  });

  it('forwardAbort(): jobs switching between two signals each fire with their own; an ended fan-out is not reused', () => {
    const a = new AbortController();
    const b = new AbortController();
    const fired: string[] = [];
    const subscribed = [
      forwardAbort(a.signal, () => fired.push('a1')),
      forwardAbort(b.signal, () => fired.push('b1')),
      forwardAbort(a.signal, () => fired.push('a2')),
    ];
    expect(getEventListeners(a.signal, 'abort')).toHaveLength(1);
    expect(getEventListeners(b.signal, 'abort')).toHaveLength(1);
    b.abort();
    expect(fired).toEqual(['b1']);
    a.abort();
    expect(fired).toEqual(['b1', 'a1', 'a2']);
    for (const dispose of subscribed) dispose();
    // The signal seen last ended with its fan-out: a new one is made for it.
    const c = new AbortController();
    forwardAbort(c.signal, () => fired.push('c1'))();
    forwardAbort(c.signal, () => fired.push('c2'));
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(1);
    c.abort();
    expect(fired).toEqual(['b1', 'a1', 'a2', 'c2']);
  });

  it("an exclusive signal (pg-boss's per-job job.signal) is listened on directly, and nothing is left after the job", async () => {
    const terminator = createTerminator({ logger: silentLogger });
    const own = new AbortController();
    const seenWhileRunning: number[] = [];
    const completed = await terminator.run(
      { queue: 'forward', id: 'exclusive-done' },
      () => {
        seenWhileRunning.push(getEventListeners(own.signal, 'abort').length);
        return 'ok';
      },
      { forward: [{ signal: own.signal, kind: 'timeout', exclusive: true }] },
    );
    expect(completed).toEqual({ status: 'completed', value: 'ok' });
    expect(seenWhileRunning).toEqual([1]);
    expect(getEventListeners(own.signal, 'abort')).toHaveLength(0);

    const stopped = new AbortController();
    const run = terminator.run(
      { queue: 'forward', id: 'exclusive-aborted' },
      async (token) => {
        await new Promise((resolve) => token.onTerminate(resolve));
        token.throwIfTerminating();
      },
      { forward: [{ signal: stopped.signal, kind: 'timeout', message: 'expired', exclusive: true }] },
    );
    stopped.abort();
    expect(await run).toMatchObject({ status: 'interrupted', reason: { kind: 'timeout', message: 'expired' } });
    expect(getEventListeners(stopped.signal, 'abort')).toHaveLength(0);
    await terminator.close();
  });

  it('listenOnce(): an aborted signal calls at once; dispose is safe twice and after the abort', () => {
    let calls = 0;
    listenOnce(AbortSignal.abort(), () => calls++)();
    expect(calls).toBe(1);
    const controller = new AbortController();
    const dispose = listenOnce(controller.signal, () => calls++);
    controller.abort();
    controller.abort();
    expect(calls).toBe(2);
    dispose();
    dispose();
    const removed = new AbortController();
    const early = listenOnce(removed.signal, () => calls++);
    early();
    removed.abort();
    expect(calls).toBe(2);
    expect(getEventListeners(removed.signal, 'abort')).toHaveLength(0);
  });

  it('a classify entry names the kind when the signal aborts, once for every job sharing it; no listener is left', async () => {
    const terminator = createTerminator({ logger: silentLogger, killTimeout: 50 });
    const queue = new AbortController();
    let classified = 0;
    const classify = (signal: AbortSignal) => {
      classified++;
      return { kind: 'timeout' as const, message: `expired: ${String((signal.reason as Error).message)}` };
    };
    const shared = [{ signal: queue.signal, classify }];
    let started = 0;
    const jobs = Array.from({ length: 3 }, (_, i) =>
      terminator.run(
        { queue: 'classify', id: String(i) },
        async (token) => {
          started++;
          await new Promise((resolve) => token.onTerminate(resolve));
          token.throwIfTerminating();
        },
        { forward: shared },
      ),
    );
    while (started < 3) await new Promise((resolve) => setImmediate(resolve));
    queue.abort(new Error('15 min'));
    const outcomes = await Promise.all(jobs);
    expect(outcomes.map((o) => o.status)).toEqual(['interrupted', 'interrupted', 'interrupted']);
    expect(outcomes[2]).toMatchObject({ reason: { kind: 'timeout', message: 'expired: 15 min' } });
    // Called per job here (the caller memoizes if it wants one answer, as pg-boss's does).
    expect(classified).toBe(3);
    expect(getEventListeners(queue.signal, 'abort')).toHaveLength(0);
    await terminator.close();
  });

  it('context: false runs the job outside its async context; the token still works', async () => {
    const { currentToken } = await import('../../../src/core/context.js');
    const terminator = createTerminator({ logger: silentLogger });
    const seen: Array<unknown> = [];
    const outcome = await terminator.run(
      { queue: 'ctx', id: '1' },
      (token) => {
        seen.push(currentToken(), token.isTerminating());
        return 'done';
      },
      { context: false },
    );
    expect(outcome).toEqual({ status: 'completed', value: 'done' });
    expect(seen).toEqual([undefined, false]);
    const inside = await terminator.run({ queue: 'ctx', id: '2' }, (token) => currentToken() === token);
    expect(inside).toEqual({ status: 'completed', value: true });
    await terminator.close();
  });
});

describe('subscriptions told through their target (what a running job uses)', () => {
  const recorder = () => {
    const told: string[] = [];
    return { told, target: { forwardedAbort: (entry: string) => told.push(entry) } };
  };

  it('forwardAbortTo(): one shared listener; each target told once with its own entry, oldest first; dispose is safe twice', () => {
    const controller = new AbortController();
    const { told, target } = recorder();
    const a = forwardAbortTo(controller.signal, target, 'a');
    const b = forwardAbortTo(controller.signal, target, 'b');
    const c = forwardAbortTo(controller.signal, target, 'c');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    b.dispose();
    b.dispose();
    controller.abort();
    expect(told).toEqual(['a', 'c']);
    a.dispose();
    c.dispose();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    // An aborted signal tells at once, and leaves nothing to remove.
    forwardAbortTo(controller.signal, target, 'late').dispose();
    expect(told).toEqual(['a', 'c', 'late']);
  });

  it('forwardAbortTo(): the last dispose removes the listener; a new subscription puts it back', () => {
    const controller = new AbortController();
    const { told, target } = recorder();
    const subscriptions = ['x', 'y'].map((entry) => forwardAbortTo(controller.signal, target, entry));
    for (const subscription of subscriptions) subscription.dispose();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    forwardAbortTo(controller.signal, target, 'z');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort();
    expect(told).toEqual(['z']);
  });

  it('listenOnceFor(): a listener of its own, told once; dispose removes it and is safe twice', () => {
    const { told, target } = recorder();
    const kept = new AbortController();
    const gone = new AbortController();
    listenOnceFor(kept.signal, target, 'kept');
    const disposed = listenOnceFor(gone.signal, target, 'gone');
    expect(getEventListeners(gone.signal, 'abort')).toHaveLength(1);
    disposed.dispose();
    disposed.dispose();
    expect(getEventListeners(gone.signal, 'abort')).toHaveLength(0);
    gone.abort();
    kept.abort();
    kept.signal.dispatchEvent(new Event('abort'));
    expect(told).toEqual(['kept']);
    listenOnceFor(AbortSignal.abort(), target, 'at once').dispose();
    expect(told).toEqual(['kept', 'at once']);
  });
});
