import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { isJobTerminatedError } from '../../../src/core/errors.js';
import type { TerminatorEvents } from '../../../src/core/events.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { JobOutcome } from '../../../src/core/outcome.js';
import type { TerminationToken } from '../../../src/core/token.js';
import { markProgressSaved } from '../../../src/middleware/run-job.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';

const ref = (id: string) => ({ queue: 'test', id });
const terminators: Terminator[] = [];

function make(options: Parameters<typeof createTerminator>[0] = {}) {
  const terminator = createTerminator({ logger: silentLogger, ...options });
  terminators.push(terminator);
  return terminator;
}

function record<K extends keyof TerminatorEvents>(terminator: Terminator, event: K) {
  const seen: TerminatorEvents[K][] = [];
  terminator.on(event, (payload) => seen.push(payload));
  return seen;
}

/** A job that waits for its token, then reacts as told. */
function waitsForSignal(react: (token: TerminationToken) => unknown) {
  return (token: TerminationToken) =>
    new Promise((resolve, reject) => {
      token.signal.addEventListener(
        'abort',
        () => {
          try {
            resolve(react(token));
          } catch (error) {
            reject(error);
          }
        },
        { once: true },
      );
    });
}

/** A job that waits for its token, checks it (so it saw it), and returns. */
const returnsAfterSeeing = waitsForSignal((token) => {
  token.isTerminating();
});

afterEach(async () => {
  for (const terminator of terminators.splice(0)) {
    expect(terminator.running()).toEqual([]);
    await terminator.close();
  }
});

describe('run(): the semantics table, per ending', () => {
  it('a job that finishes normally completes with its value', async () => {
    const terminator = make();
    const outcome = await terminator.run(ref('1'), async () => 42);
    expect(outcome).toEqual({ status: 'completed', value: 42 });
  });

  it('run options may be an object whose settle() uses `this` (graphile-worker passes one): settle is called as its method', async () => {
    const terminator = make();
    const errors = record(terminator, 'error');
    class Options {
      readonly written: Array<JobOutcome<unknown>> = [];
      settle(outcome: JobOutcome<unknown>): Promise<void> {
        this.written.push(outcome);
        return Promise.resolve();
      }
    }
    const options = new Options();
    const outcome = await terminator.run(ref('method'), async () => 'done', options);
    expect(outcome).toEqual({ status: 'completed', value: 'done' });
    expect(options.written).toEqual([{ status: 'completed', value: 'done' }]);
    expect(errors).toEqual([]);
  });

  it('a job that throws without termination fails with its error', async () => {
    const terminator = make();
    const error = new Error('boom');
    const outcome = await terminator.run(ref('1'), () => {
      throw error;
    });
    expect(outcome).toEqual({ status: 'failed', error });
  });

  it('kill, and the job throws: terminated, and the job saw a kill reason', async () => {
    const terminator = make();
    let seen: string | undefined;
    const running = terminator.run(
      ref('1'),
      waitsForSignal((token) => {
        seen = token.reason?.kind;
        token.throwIfTerminating();
      }),
    );
    const result = await terminator.terminate(ref('1'), { reason: 'operator', wait: true });
    const outcome = await running;
    expect(result).toEqual({ status: 'terminated', ref: ref('1') });
    expect(seen).toBe('kill');
    expect(outcome.status).toBe('terminated');
    if (outcome.status !== 'terminated') return;
    expect(outcome.reason.kind).toBe('kill');
    expect(outcome.reason.message).toBe('operator');
    expect(outcome.escalated).toBe(false);
  });

  it('kill, and the job returns after it saw the kill (isTerminating() true): terminated, it stopped early', async () => {
    const terminator = make();
    const running = terminator.run(ref('1'), async (token) => {
      while (!token.isTerminating()) await sleep(5);
      return 'partial result';
    });
    await sleep(20);
    expect(await terminator.terminate(ref('1'), { wait: true })).toEqual({ status: 'terminated', ref: ref('1') });
    const outcome = await running;
    expect(outcome.status).toBe('terminated');
  });

  it('kill, and the job returns without having seen it: completed, and terminate({ wait }) answers already_finished', async () => {
    const terminator = make();
    const terminated = record(terminator, 'terminated');
    // A listener alone does not count: the job never looked at its token.
    const running = terminator.run(
      ref('1'),
      waitsForSignal(() => 'all work done'),
    );
    expect(await terminator.terminate(ref('1'), { wait: true })).toEqual({
      status: 'already_finished',
      ref: ref('1'),
    });
    expect(await running).toEqual({ status: 'completed', value: 'all work done' });
    expect(terminated).toEqual([]);
  });

  it('an error thrown after termination (an AbortError from fetch) counts as the termination', async () => {
    const terminator = make();
    // A server that accepts and never answers, so only the abort ends the request.
    const server = createServer(() => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    let thrown: unknown;
    const running = terminator.run(ref('1'), async (token) => {
      try {
        await fetch(`http://127.0.0.1:${port}/`, { signal: token.signal });
      } catch (error) {
        thrown = error;
        throw error;
      }
    });
    await sleep(50);
    await terminator.terminate(ref('1'));
    const outcome = await running;
    server.closeAllConnections();
    server.close();
    expect(outcome.status).toBe('terminated');
    expect(isJobTerminatedError(thrown)).toBe(true);
  });

  it('kill, and the job ignores it past killTimeout: settled as terminated, unresponsive emitted, late rejection ignored', async () => {
    const terminator = make({ killTimeout: 50 });
    const unresponsive = record(terminator, 'unresponsive');
    const escalated = record(terminator, 'escalated');
    let finishLate!: () => void;
    const lateResult = new Promise<void>((resolve) => {
      finishLate = resolve;
    });
    const running = terminator.run(ref('1'), async () => {
      await lateResult;
      throw new Error('late failure, must be ignored');
    });
    const started = Date.now();
    await terminator.terminate(ref('1'));
    const outcome = await running;
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(outcome).toMatchObject({ status: 'terminated', escalated: true });
    expect(unresponsive.map((e) => e.ref)).toEqual([ref('1')]);
    expect(escalated).toMatchObject([{ hardStopped: false }]);
    expect(terminator.running()).toEqual([]);
    finishLate();
    await sleep(10); // an unhandled rejection here would fail the run
  });

  it('escalation calls hardStop for an isolated job instead of reporting it unresponsive', async () => {
    const terminator = make({ killTimeout: 20 });
    const unresponsive = record(terminator, 'unresponsive');
    const stopped: string[] = [];
    const running = terminator.run(ref('1'), () => new Promise(() => {}), {
      hardStop: (reason) => {
        stopped.push(reason.kind);
      },
    });
    await terminator.terminate(ref('1'));
    expect((await running).status).toBe('terminated');
    expect(stopped).toEqual(['kill']);
    expect(unresponsive).toEqual([]);
  });

  it('shutdown, and the job stops in time: interrupted, resumable', async () => {
    const terminator = make();
    const running = terminator.run(
      ref('1'),
      waitsForSignal((token) => token.throwIfTerminating()),
    );
    const report = await terminator.shutdown({ timeout: 1_000 });
    const outcome = await running;
    expect(outcome).toMatchObject({ status: 'interrupted', escalated: false, resumable: true });
    if (outcome.status === 'interrupted') expect(outcome.reason.kind).toBe('shutdown');
    expect(report.jobs).toEqual([{ ref: ref('1'), status: 'interrupted', escalated: false }]);
    expect(report.escalated).toBe(0);
  });

  it('shutdown, and the job ignores it past the timeout: interrupted, escalated, after the timeout', async () => {
    const terminator = make();
    const running = terminator.run(ref('1'), () => new Promise(() => {}));
    const started = Date.now();
    const report = await terminator.shutdown({ timeout: 80 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(75);
    expect(await running).toMatchObject({ status: 'interrupted', escalated: true, resumable: true });
    expect(report.escalated).toBe(1);
  });

  it('a second shutdown() escalates at once and resolves to the same report', async () => {
    const terminator = make();
    const running = terminator.run(ref('1'), () => new Promise(() => {}));
    const first = terminator.shutdown({ timeout: 60_000 });
    await sleep(10);
    const started = Date.now();
    const second = terminator.shutdown();
    expect(await second).toBe(await first);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await running).toMatchObject({ status: 'interrupted', escalated: true });
  });

  it('a kill arriving during a shutdown wins', async () => {
    const terminator = make();
    const kinds: string[] = [];
    const running = terminator.run(ref('1'), async (token) => {
      await new Promise((resolve) => token.signal.addEventListener('abort', resolve, { once: true }));
      kinds.push(token.reason!.kind);
      await sleep(20);
      kinds.push(token.reason!.kind);
      token.throwIfTerminating();
    });
    const shutdown = terminator.shutdown({ timeout: 2_000 });
    await sleep(5);
    await terminator.terminate(ref('1'), { reason: 'bad data' });
    const outcome = await running;
    expect(kinds).toEqual(['shutdown', 'kill']);
    expect(outcome.status).toBe('terminated');
    expect((await shutdown).jobs[0]?.status).toBe('terminated');
  });

  it('a job that starts during a shutdown is interrupted before it runs', async () => {
    const terminator = make();
    const blocker = terminator.run(
      ref('1'),
      waitsForSignal(() => sleep(30)),
    );
    const shutdown = terminator.shutdown({ timeout: 1_000 });
    let called = false;
    const late = await terminator.run(ref('2'), () => {
      called = true;
    });
    expect(called).toBe(false);
    expect(late).toMatchObject({ status: 'interrupted', resumable: true });
    await blocker;
    await shutdown;
  });

  it('timeout (maxRuntime), and the job stops in time: interrupted, not resumable unless it saved progress', async () => {
    const terminator = make();
    const plain = await terminator.run(
      ref('1'),
      waitsForSignal((t) => t.throwIfTerminating()),
      { maxRuntime: 20 },
    );
    expect(plain).toMatchObject({ status: 'interrupted', resumable: false });
    if (plain.status === 'interrupted') expect(plain.reason.kind).toBe('timeout');

    const saving = await terminator.run(
      ref('2'),
      waitsForSignal((t) => {
        markProgressSaved(t);
        t.throwIfTerminating();
      }),
      { maxRuntime: 20 },
    );
    expect(saving).toMatchObject({ status: 'interrupted', resumable: true });
  });

  it('forwards a queue’s signal into the token with the kind given', async () => {
    const terminator = make();
    const queueSignal = new AbortController();
    const running = terminator.run(
      ref('1'),
      waitsForSignal((t) => t.reason),
      {
        forward: [{ signal: queueSignal.signal, kind: 'timeout', message: 'expired' }],
      },
    );
    queueSignal.abort();
    const outcome = (await running) as Extract<JobOutcome, { status: 'interrupted' }>;
    expect(outcome.status).toBe('interrupted');
    expect(outcome.reason).toMatchObject({ kind: 'timeout', message: 'expired' });
  });

  it('awaits settle() before the job leaves running() and before shutdown resolves', async () => {
    const terminator = make();
    const writes: string[] = [];
    const running = terminator.run(ref('1'), returnsAfterSeeing, {
      settle: async (outcome) => {
        await sleep(30);
        writes.push(outcome.status);
      },
    });
    await sleep(5);
    expect(terminator.running().map((j) => j.ref)).toEqual([ref('1')]);
    await terminator.shutdown({ timeout: 1_000 });
    expect(writes).toEqual(['interrupted']);
    expect(terminator.running()).toEqual([]);
    await running;
  });

  it('a settle() that throws is reported, and the outcome stands', async () => {
    const terminator = make();
    const errors = record(terminator, 'error');
    const outcome = await terminator.run(ref('1'), () => 'done', {
      settle: () => {
        throw new Error('queue write failed');
      },
    });
    expect(outcome).toEqual({ status: 'completed', value: 'done' });
    expect(errors).toMatchObject([{ during: 'settle', ref: ref('1') }]);
  });

  it('a kill whose settle() fails emits error, not terminated: nothing claims a write that did not land', async () => {
    const terminator = make({ killTimeout: 1_000 });
    const errors = record(terminator, 'error');
    const terminated = record(terminator, 'terminated');
    const running = terminator.run(
      ref('1'),
      waitsForSignal((token) => token.throwIfTerminating()),
      {
        settle: async () => {
          throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        },
      },
    );
    await sleep(5);
    await terminator.terminate(ref('1'), { reason: 'stop' });
    const outcome = await running;
    expect(outcome).toMatchObject({ status: 'terminated' });
    expect(errors).toMatchObject([{ during: 'settle', ref: ref('1') }]);
    expect(terminated).toEqual([]);
  });

  it('terminated is emitted only after settle() resolved', async () => {
    const terminator = make({ killTimeout: 1_000 });
    const order: string[] = [];
    terminator.on('terminated', () => order.push('terminated'));
    const running = terminator.run(
      ref('1'),
      waitsForSignal((token) => token.throwIfTerminating()),
      {
        settle: async () => {
          order.push('write started');
          await sleep(50);
          order.push('write landed');
        },
      },
    );
    await sleep(5);
    await terminator.terminate(ref('1'), { reason: 'stop' });
    await running;
    expect(order).toEqual(['write started', 'write landed', 'terminated']);
  });

  it('reports an onTerminate callback that throws as an error event', async () => {
    const terminator = make();
    const errors = record(terminator, 'error');
    const running = terminator.run(ref('1'), (token) => {
      token.onTerminate(() => {
        throw new Error('cleanup broke');
      });
      return new Promise((resolve) => token.onTerminate(resolve));
    });
    await terminator.terminate(ref('1'));
    expect((await running).status).toBe('terminated');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ during: 'onTerminate' });
  });

  it('emits terminating, terminated and interrupted with the job and reason', async () => {
    const terminator = make();
    const terminating = record(terminator, 'terminating');
    const terminated = record(terminator, 'terminated');
    const interrupted = record(terminator, 'interrupted');
    const a = terminator.run(ref('a'), returnsAfterSeeing);
    await terminator.terminate(ref('a'));
    await a;
    const b = terminator.run(ref('b'), returnsAfterSeeing);
    await terminator.shutdown({ timeout: 500 });
    await b;
    expect(terminating.map((e) => [e.ref.id, e.reason.kind])).toEqual([
      ['a', 'kill'],
      ['b', 'shutdown'],
    ]);
    expect(terminated).toMatchObject([{ ref: ref('a'), escalated: false }]);
    expect(interrupted).toMatchObject([{ ref: ref('b'), resumable: true }]);
  });
});

describe('terminate()', () => {
  it('answers not_found for a job that is not running here and no store or adapter knows', async () => {
    const terminator = make();
    expect(await terminator.terminate(ref('nope'))).toEqual({ status: 'not_found', ref: ref('nope') });
  });

  it('answers requested without wait', async () => {
    const terminator = make();
    const running = terminator.run(
      ref('1'),
      waitsForSignal(() => undefined),
    );
    expect(await terminator.terminate(ref('1'))).toEqual({ status: 'requested', ref: ref('1') });
    await running;
  });

  it('answers timed_out when the job does not end within the wait', async () => {
    const terminator = make({ killTimeout: 200 });
    const running = terminator.run(ref('1'), () => new Promise(() => {}));
    expect(await terminator.terminate(ref('1'), { wait: true, timeout: 20 })).toMatchObject({ status: 'timed_out' });
    await running;
  });

  it('asks adapters about jobs that are not running here', async () => {
    const terminator = make({
      adapters: [
        {
          queue: 'test',
          jobState: async (r) => (r.id === 'done' ? 'finished' : r.id === 'queued' ? 'queued' : 'not_found'),
          cancelQueued: async () => true,
        },
      ],
    });
    expect((await terminator.terminate(ref('done'))).status).toBe('already_finished');
    expect((await terminator.terminate(ref('missing'))).status).toBe('not_found');
    expect((await terminator.terminate(ref('queued'))).status).toBe('terminated');
  });

  it.each([
    [{ queue: 'test', id: '' }, {}, /Expected `job.id` to be a non-empty string/],
    [{ queue: 'test', id: 7 }, {}, /Expected `job.id` to be a non-empty string of at most 512 characters, got 7/],
    [{ id: '1' }, {}, /Expected `job.queue`/],
    [null, {}, /Expected `job` to be an object/],
    [{ queue: 'test', id: '1' }, { reason: 'x'.repeat(1001) }, /Expected `reason` to be a string of at most 1000/],
    [
      { queue: 'test', id: '1' },
      { wiat: true },
      /Unknown option `wiat` in `terminate\(\) options`: expected one of reason, requestedBy, wait, timeout, signal/,
    ],
    [
      { queue: 'test', id: '1' },
      { timeout: -1 },
      /Expected `timeout` to be a non-negative number of milliseconds, got -1/,
    ],
  ])('rejects bad input (%#) with a TypeError that names it', async (badRef, options, message) => {
    const terminator = make();
    await expect(terminator.terminate(badRef as never, options as never)).rejects.toThrow(message);
    await expect(terminator.terminate(badRef as never, options as never)).rejects.toBeInstanceOf(TypeError);
  });
});

describe('createTerminator() options', () => {
  it.each([
    [{ killTimeout: -1 }, 'Expected `killTimeout` to be a non-negative number of milliseconds, got -1'],
    [
      { shutdownTimeout: Number.NaN },
      'Expected `shutdownTimeout` to be a non-negative number of milliseconds, got NaN',
    ],
    [{ shutdownTimeout: '25s' }, 'Expected `shutdownTimeout` to be a non-negative number of milliseconds, got "25s"'],
    [{ handleSignals: 'yes' }, 'Expected `handleSignals` to be a boolean, got "yes"'],
    [{ store: {} }, 'Expected `store` to be a KillStore such as postgresStore(), got {}'],
    [{ killTimout: 5 }, 'Unknown option `killTimout` in `options`: expected one of store, progress, shutdownTimeout'],
  ])('%j is refused', (options, message) => {
    expect(() => createTerminator(options as never)).toThrow(message);
  });

  it('does not mutate the caller’s options', () => {
    const options = Object.freeze({ killTimeout: 5, logger: silentLogger });
    const terminator = make(options);
    expect(terminator.options.killTimeout).toBe(5);
    expect(terminator.options.shutdownTimeout).toBe(25_000);
  });

  it('refuses a job that is not a function and a bad maxRuntime', async () => {
    const terminator = make();
    await expect(terminator.run(ref('1'), 'x' as never)).rejects.toThrow('Expected `job` to be a function');
    await expect(terminator.run(ref('1'), () => 1, { maxRuntime: -5 })).rejects.toThrow(
      'Expected `maxRuntime` to be a non-negative number of milliseconds, got -5',
    );
  });
});

describe('the error a job throws', () => {
  it('is a JobTerminatedError carrying the reason', async () => {
    const terminator = make();
    let thrown: unknown;
    const running = terminator.run(ref('1'), async (token) => {
      await new Promise((resolve) => token.signal.addEventListener('abort', resolve, { once: true }));
      try {
        token.throwIfTerminating();
      } catch (error) {
        thrown = error;
        throw error;
      }
    });
    await terminator.terminate(ref('1'), { reason: 'why not', requestedBy: 'bob' });
    await running;
    expect(isJobTerminatedError(thrown)).toBe(true);
    expect((thrown as Error).message).toBe('Terminated: why not (by bob)');
  });
});
