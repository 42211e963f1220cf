// "Did the job see it?" (DESIGN.md): a normal return after the token fired is
// the job's completion unless the job saw its termination first. One test per
// channel that counts, and one per read that must not.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { currentToken, isTerminating, throwIfTerminating } from '../../../src/core/context.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { JobOutcome } from '../../../src/core/outcome.js';
import { memoryProgressStore } from '../../../src/core/progress.js';
import { type TerminationToken, TokenSource } from '../../../src/core/token.js';
import { runInWorkerThread } from '../../../src/isolation/index.js';
import { iterate } from '../../../src/iteration/index.js';
import { markTerminationSeen } from '../../../src/middleware/run-job.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';

const ref = (id: string) => ({ queue: 'test', id });
const terminators: Terminator[] = [];

function make() {
  const terminator = createTerminator({ logger: silentLogger, killTimeout: 2_000, progress: memoryProgressStore() });
  terminators.push(terminator);
  return terminator;
}

afterEach(async () => {
  for (const terminator of terminators.splice(0)) {
    expect(terminator.running()).toEqual([]);
    await terminator.close();
  }
});

/**
 * Runs `job` as job '1', lets it start, fires the token with `how`, and
 * resolves to its outcome. `job` gets a promise that resolves once the token
 * has fired, to wait on without touching the token.
 */
async function endingOf(
  job: (token: TerminationToken, fired: Promise<void>) => unknown,
  how: 'kill' | 'shutdown' | 'timeout' = 'kill',
): Promise<JobOutcome> {
  const terminator = make();
  let fire!: () => void;
  const fired = new Promise<void>((resolve) => {
    fire = resolve;
  });
  const running = terminator.run(ref('1'), (token) => job(token, fired), how === 'timeout' ? { maxRuntime: 20 } : {});
  if (how === 'timeout') {
    await new Promise<void>((resolve) => terminator.once('terminating', () => resolve()));
  } else {
    await sleep(5);
    if (how === 'kill') await terminator.terminate(ref('1'));
    else void terminator.shutdown({ timeout: 2_000 });
  }
  fire();
  return running;
}

describe('a return after the token fired counts as stopping early only when the job saw it', () => {
  it('ignored entirely: completed, for a kill, a shutdown and a timeout', async () => {
    for (const how of ['kill', 'shutdown', 'timeout'] as const) {
      const outcome = await endingOf(async (_token, fired) => {
        await fired;
        return 'done';
      }, how);
      expect(outcome, how).toEqual({ status: 'completed', value: 'done' });
    }
  });

  it('token.isTerminating() answered true: terminated (kill), interrupted (shutdown, timeout)', async () => {
    const job = async (token: TerminationToken) => {
      while (!token.isTerminating()) await sleep(2);
    };
    expect((await endingOf(job, 'kill')).status).toBe('terminated');
    expect(await endingOf(job, 'shutdown')).toMatchObject({ status: 'interrupted', resumable: true });
    expect(await endingOf(job, 'timeout')).toMatchObject({ status: 'interrupted', reason: { kind: 'timeout' } });
  });

  it('isTerminating() answered false before the token fired: does not count', async () => {
    const outcome = await endingOf(async (token, fired) => {
      expect(token.isTerminating()).toBe(false);
      expect(isTerminating()).toBe(false);
      await fired;
    });
    expect(outcome.status).toBe('completed');
  });

  it('the free isTerminating() answered true', async () => {
    const outcome = await endingOf(async (_token, fired) => {
      await fired;
      if (isTerminating()) return 'stopped early';
      return 'done';
    });
    expect(outcome.status).toBe('terminated');
  });

  it('token.throwIfTerminating() threw, and the job caught it and returned', async () => {
    const outcome = await endingOf(async (token, fired) => {
      await fired;
      try {
        token.throwIfTerminating();
      } catch {
        return 'caught';
      }
    });
    expect(outcome.status).toBe('terminated');
  });

  it('the free throwIfTerminating() threw, and the job caught it', async () => {
    const outcome = await endingOf(async (_token, fired) => {
      await fired;
      try {
        throwIfTerminating();
      } catch {}
    }, 'shutdown');
    expect(outcome.status).toBe('interrupted');
  });

  it('read signal.aborted after it aborted', async () => {
    const outcome = await endingOf(async (token, fired) => {
      await fired;
      return token.signal.aborted;
    });
    expect(outcome.status).toBe('terminated');
  });

  it('read signal.aborted before it aborted (false): does not count', async () => {
    const outcome = await endingOf(async (token, fired) => {
      expect(token.signal.aborted).toBe(false);
      expect(token.signal.reason).toBeUndefined();
      token.signal.throwIfAborted();
      await fired;
    });
    expect(outcome.status).toBe('completed');
  });

  it('read signal.reason after it aborted', async () => {
    const outcome = await endingOf(async (token, fired) => {
      await fired;
      return String(token.signal.reason);
    });
    expect(outcome.status).toBe('terminated');
  });

  it('called signal.throwIfAborted() after it aborted, and caught the error', async () => {
    const outcome = await endingOf(async (token, fired) => {
      await fired;
      try {
        token.signal.throwIfAborted();
      } catch (error) {
        return (error as Error).name;
      }
    }, 'shutdown');
    expect(outcome.status).toBe('interrupted');
  });

  it('a signal made after the token fired (first read then) counts too', async () => {
    const outcome = await endingOf(async (_token, fired) => {
      await fired;
      return currentToken()?.signal.aborted;
    });
    expect(outcome.status).toBe('terminated');
  });

  it('an onTerminate callback it registered ran', async () => {
    const outcome = await endingOf(async (token, fired) => {
      let cleanedUp = false;
      token.onTerminate(() => {
        cleanedUp = true;
      });
      await fired;
      return cleanedUp;
    });
    expect(outcome.status).toBe('terminated');
  });

  it('an onTerminate callback registered after the token fired ran at once', async () => {
    const outcome = await endingOf(async (token, fired) => {
      await fired;
      token.onTerminate(() => {});
    }, 'shutdown');
    expect(outcome.status).toBe('interrupted');
  });

  it('an onTerminate callback unsubscribed before the token fired: does not count', async () => {
    const outcome = await endingOf(async (token, fired) => {
      const off = token.onTerminate(() => {});
      off();
      await fired;
    });
    expect(outcome.status).toBe('completed');
  });

  it('read token.reason while it was set', async () => {
    const outcome = await endingOf(async (token, fired) => {
      expect(token.reason).toBeUndefined();
      await fired;
      return token.reason?.kind;
    });
    expect(outcome.status).toBe('terminated');
  });

  it('markTerminationSeen() (an isolate reporting its bit)', async () => {
    const outcome = await endingOf(async (token, fired) => {
      await fired;
      markTerminationSeen(token);
    }, 'shutdown');
    expect(outcome.status).toBe('interrupted');
  });

  it('a throw after the token fired is the termination, seen or not', async () => {
    const outcome = await endingOf(async (_token, fired) => {
      await fired;
      throw new Error('unrelated failure, after the kill');
    });
    expect(outcome.status).toBe('terminated');
  });
});

describe('reads that never count as the job seeing it', () => {
  it('a listener on the signal, by itself', async () => {
    const outcome = await endingOf(async (token) => {
      let flag = false;
      token.signal.addEventListener('abort', () => {
        flag = true;
      });
      while (!flag) await sleep(2);
      return 'left through its own flag';
    });
    expect(outcome.status).toBe('completed');
  });

  it('a listener that reads signal.aborted and signal.reason while the abort is dispatched (as undici’s does)', async () => {
    const outcome = await endingOf(async (token, fired) => {
      const read: unknown[] = [];
      token.signal.addEventListener('abort', function (this: AbortSignal) {
        read.push(this.aborted, this.reason);
      });
      await fired;
      expect(read[0]).toBe(true);
      expect((read[1] as Error).name).toBe('JobTerminatedError');
    });
    expect(outcome.status).toBe('completed');
  });

  it('a fetch that finished before the token fired, its request still alive', async () => {
    const server = createServer((_req, res) => res.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const terminator = make();
    let fetched!: () => void;
    const done = new Promise<void>((resolve) => {
      fetched = resolve;
    });
    try {
      const running = terminator.run(ref('1'), async (token) => {
        const request = new Request(`http://127.0.0.1:${port}/`, { signal: token.signal });
        const body = await (await fetch(request)).text();
        fetched();
        await sleep(20);
        return [body, request.url];
      });
      await done;
      await terminator.terminate(ref('1'));
      expect((await running).status).toBe('completed');
    } finally {
      server.close();
    }
  });

  it('token.deadline, and running() / terminating events reading the reason', async () => {
    const terminator = make();
    let fire!: () => void;
    const fired = new Promise<void>((resolve) => {
      fire = resolve;
    });
    terminator.on('terminating', ({ reason }) => expect(reason.kind).toBe('kill'));
    const running = terminator.run(ref('1'), async (token) => {
      await fired;
      return token.deadline?.getTime();
    });
    await terminator.terminate(ref('1'));
    expect(terminator.running()[0]?.reason?.kind).toBe('kill');
    fire();
    expect((await running).status).toBe('completed');
  });

  it('forwarding a queue’s signal into the token', async () => {
    const terminator = make();
    const queue = new AbortController();
    const running = terminator.run(
      ref('1'),
      async () => {
        await sleep(30);
        return 'done';
      },
      { forward: [{ signal: queue.signal, kind: 'shutdown' }] },
    );
    queue.abort();
    expect(await running).toEqual({ status: 'completed', value: 'done' });
  });

  it('iterate(): a source used up has completed, even if the token fired during its last item', async () => {
    const terminator = make();
    const items: number[] = [];
    const running = terminator.run(ref('1'), () =>
      iterate<number, number>({
        source: () => [0, 1, 2].map((i) => ({ item: i, cursor: i })),
        each: async (item) => {
          items.push(item);
          if (item === 2) {
            void terminator.shutdown({ timeout: 2_000 });
            await sleep(10);
          }
        },
      }),
    );
    expect(await running).toMatchObject({ status: 'completed', value: { processed: 3 } });
    expect(items).toEqual([0, 1, 2]);
  });

  it('iterate(): one stopped by the token between items saw it (interrupted)', async () => {
    const terminator = make();
    const running = terminator.run(ref('1'), () =>
      iterate<number, number>({
        source: () => [0, 1, 2].map((i) => ({ item: i, cursor: i })),
        each: async (item) => {
          if (item === 1) void terminator.shutdown({ timeout: 2_000 });
          await sleep(5);
        },
      }),
    );
    expect(await running).toMatchObject({ status: 'interrupted', resumable: true });
  });

  it('runInWorkerThread(): the mirror into the thread does not count; a thread that ignores it completes', async () => {
    const terminator = make();
    let thrown: unknown;
    // The kill comes once the thread runs the call: a call still queued for a
    // pool slot is cancelled instead (it never starts), which is not this case.
    const laps = new SharedArrayBuffer(4);
    const started = async () => {
      while (Atomics.load(new Int32Array(laps), 0) === 0) await sleep(5);
    };
    const running = terminator.run(ref('1'), async () => {
      const result = runInWorkerThread(
        new URL('../../fixtures/isolation/jobs.mjs', import.meta.url),
        { laps, ms: 300 },
        { exportName: 'busyThenReturn' },
      );
      await started();
      void terminator.terminate(ref('1'));
      try {
        return await result;
      } catch (error) {
        thrown = error;
        throw error;
      }
    });
    const outcome = await running;
    expect(
      thrown === undefined ? undefined : String((thrown as Error).stack),
      'runInWorkerThread() rejected',
    ).toBeUndefined();
    expect(outcome).toEqual({ status: 'completed', value: 'done' });
  });
});

describe('an isolated job reports its bit with its result', () => {
  it('runInWorkerThread(): thread code that saw it (isTerminating() true) and returned stopped early', async () => {
    const terminator = make();
    const running = terminator.run(ref('1'), async () => {
      const result = runInWorkerThread(new URL('../../fixtures/isolation/jobs.mjs', import.meta.url), undefined, {
        exportName: 'returnsWhenTerminating',
      });
      await sleep(50);
      void terminator.shutdown({ timeout: 5_000 });
      return result;
    });
    expect(await running).toMatchObject({ status: 'interrupted', resumable: true });
  });
});

describe('the signal jobterm hands a job stays an ordinary AbortSignal', () => {
  it('instanceof, listeners, AbortSignal.any, timers and fetch all work, before and after it aborts', async () => {
    const source = new TokenSource({ callbackFailed() {} });
    const { signal } = source.token;
    expect(signal).toBeInstanceOf(AbortSignal);
    expect(Object.keys(signal)).toEqual([]);
    const combined = AbortSignal.any([signal]);
    const timer = sleep(60_000, undefined, { signal });
    const heard = once(signal, 'abort');
    const server = createServer(() => {});
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const request = fetch(`http://127.0.0.1:${port}/`, { signal });
    await sleep(20);
    expect(source.seen).toBe(false);
    source.terminate({ kind: 'kill', message: 'stop', requestedAt: new Date() });
    await heard;
    expect(combined.aborted).toBe(true);
    await expect(timer).rejects.toMatchObject({ name: 'AbortError' });
    await expect(request).rejects.toMatchObject({ name: 'JobTerminatedError' });
    server.closeAllConnections();
    server.close();
    // Node and undici read the signal only in their listeners, while it was dispatched.
    expect(source.seen).toBe(false);
    expect(signal.aborted).toBe(true);
    expect(source.seen).toBe(true);
    expect(() => signal.throwIfAborted()).toThrow('Terminated: stop');
  });

  it('the same instance every time: job.signal, helpers.jobterm.signal and currentToken().signal are one', () => {
    const source = new TokenSource({ callbackFailed() {} });
    expect(source.token.signal).toBe(source.token.signal);
    expect(source.signal).toBe(source.token.signal);
  });
});
