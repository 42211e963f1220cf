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
});
