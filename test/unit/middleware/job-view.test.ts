import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { viewWithToken } from '../../../src/middleware/job-view.js';
import { createTerminator } from '../../../src/terminator/terminator.js';

class QueueJob {
  progress = 0;
  constructor(
    readonly id: string,
    public data: { n: number },
  ) {}
  updateProgress(value: number) {
    this.progress = value;
  }
}

describe('the handler’s view of a queue’s job', () => {
  it('answers token (and the token’s signal) and forwards the rest to the queue’s own object, which gains nothing', async () => {
    const terminator = createTerminator({ logger: silentLogger });
    const queueSignal = new AbortController().signal;
    const job = Object.assign(new QueueJob('1', { n: 1 }), { signal: queueSignal });
    await terminator.run({ queue: 'view', id: '1' }, (token) => {
      const view = viewWithToken(job, token, true) as typeof job & { token: unknown };
      expect(view.token).toBe(token);
      expect(view.signal).toBe(token.signal);
      expect(view.signal).not.toBe(queueSignal);
      expect('token' in view).toBe(true);
      expect(view).toBeInstanceOf(QueueJob);
      // Methods and writes reach the queue's object, as without jobterm.
      view.updateProgress(5);
      view.data = { n: 2 };
      expect(job.progress).toBe(5);
      expect(job.data).toEqual({ n: 2 });
      // A spread or the keys carry token and signal, as a copy did.
      const spread = { ...view };
      expect(spread.token).toBe(token);
      expect(spread.signal).toBe(token.signal);
      expect(Object.keys(view)).toEqual(expect.arrayContaining(['id', 'data', 'progress', 'signal', 'token']));
    });
    expect(Object.hasOwn(job, 'token')).toBe(false);
    expect(job.signal).toBe(queueSignal);
    await terminator.close();
  });

  it('without signal: only token is answered; the queue’s own fields keep their keys', async () => {
    const terminator = createTerminator({ logger: silentLogger });
    const job = new QueueJob('2', { n: 1 });
    await terminator.run({ queue: 'view', id: '2' }, (token) => {
      const view = viewWithToken(job, token, false) as typeof job & { token: unknown };
      expect(view.token).toBe(token);
      expect(Object.keys(view)).toEqual(Object.keys(job));
    });
    await terminator.close();
  });
});
