import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { currentToken, isTerminating, throwIfTerminating } from '../../../src/core/context.js';
import { createTerminator } from '../../../src/terminator/terminator.js';

describe('context functions', () => {
  it('are harmless outside a job', () => {
    expect(currentToken()).toBeUndefined();
    expect(isTerminating()).toBe(false);
    expect(() => throwIfTerminating()).not.toThrow();
  });

  it('reach the running job’s token through awaits, timers and nested helpers', async () => {
    const terminator = createTerminator({ killTimeout: 1_000 });
    const seen: boolean[] = [];
    const helper = async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      seen.push(isTerminating());
      return currentToken();
    };
    const outcome = await terminator.run({ queue: 'test', id: '1' }, async (token) => {
      expect(await helper()).toBe(token);
      void terminator.terminate({ queue: 'test', id: '1' });
      await new Promise((resolve) => setTimeout(resolve, 5));
      seen.push(isTerminating());
      throwIfTerminating();
      return 'unreachable';
    });
    expect(seen).toEqual([false, true]);
    expect(outcome.status).toBe('terminated');
    expect(currentToken()).toBeUndefined();
    await terminator.close();
  });

  it('keep the caller’s own AsyncLocalStorage stores inside the job, and give the caller its context back', async () => {
    const terminator = createTerminator({ killTimeout: 1_000 });
    const requestId = new AsyncLocalStorage<string>();
    const seen: Array<[string | undefined, boolean]> = [];
    let later: Promise<void> | undefined;
    const running = requestId.run('req-1', () => {
      const outcome = terminator.run({ queue: 'test', id: 'ctx' }, async (token) => {
        seen.push([requestId.getStore(), currentToken() === token]);
        // A continuation made inside the job keeps the job's context after the caller moved on.
        later = new Promise<void>((resolve) => setTimeout(resolve, 5)).then(() => {
          seen.push([requestId.getStore(), currentToken() === token]);
        });
        await new Promise((resolve) => setTimeout(resolve, 1));
        seen.push([requestId.getStore(), currentToken() === token]);
      });
      // Synchronously after run() returned: the caller's context, not the job's.
      seen.push([requestId.getStore(), currentToken() === undefined]);
      return outcome.then((done) => {
        seen.push([requestId.getStore(), currentToken() === undefined]);
        return done;
      });
    });
    // Outside every store once more.
    expect(requestId.getStore()).toBeUndefined();
    expect(currentToken()).toBeUndefined();
    expect((await running).status).toBe('completed');
    await later;
    expect(seen).toEqual([
      ['req-1', true],
      ['req-1', true],
      ['req-1', true],
      ['req-1', true],
      ['req-1', true],
    ]);
    await terminator.close();
  });

  it('follow a job started from inside another job’s code, and find the outer job again after it', async () => {
    const terminator = createTerminator({ killTimeout: 1_000 });
    const seen: string[] = [];
    const name = () => (currentToken() === undefined ? 'none' : currentToken() === outerToken ? 'outer' : 'inner');
    let outerToken: unknown;
    const outcome = await terminator.run({ queue: 'test', id: 'outer' }, async (token) => {
      outerToken = token;
      seen.push(name());
      const inner = terminator.run({ queue: 'test', id: 'inner' }, async () => {
        seen.push(name());
        await new Promise((resolve) => setTimeout(resolve, 2));
        seen.push(name());
      });
      seen.push(name());
      await inner;
      seen.push(name());
    });
    seen.push(name());
    expect(outcome.status).toBe('completed');
    expect(seen).toEqual(['outer', 'inner', 'outer', 'inner', 'outer', 'none']);
    await terminator.close();
  });
});
