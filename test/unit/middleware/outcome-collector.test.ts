// A batch's runs gathered into one promise (terminator.runInto, used by the
// pg-boss adapter): outcomes in slot order, jobterm's own failure rejects it
// as Promise.all did, and nothing is left registered.
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { OutcomeCollector } from '../../../src/middleware/run-job.js';
import { createTerminator } from '../../../src/terminator/terminator.js';

describe('OutcomeCollector', () => {
  it('resolves once every slot is filled, in slot order whatever order they came in; an empty batch at once', async () => {
    const collector = new OutcomeCollector<number>(3);
    let resolved = false;
    collector.promise.then(() => {
      resolved = true;
    });
    collector.set(2, { status: 'completed', value: 2 });
    collector.set(0, { status: 'completed', value: 0 });
    await Promise.resolve();
    expect(resolved).toBe(false);
    collector.set(1, { status: 'completed', value: 1 });
    expect(await collector.promise).toEqual([0, 1, 2].map((value) => ({ status: 'completed', value })));
    expect(await new OutcomeCollector(0).promise).toEqual([]);
  });

  it('rejects with the first failure and drops what comes after', async () => {
    const collector = new OutcomeCollector<number>(2);
    collector.fail(new Error('first'));
    collector.fail(new Error('second'));
    collector.set(0, { status: 'completed', value: 0 });
    await expect(collector.promise).rejects.toThrow('first');
  });
});

describe('terminator.runInto', () => {
  it("each job's ending in its slot (completed, failed, killed), one promise for all, nothing left registered", async () => {
    const terminator = createTerminator({ logger: silentLogger });
    const collector = new OutcomeCollector<string>(3);
    terminator.runInto(collector, 0, { queue: 'batch', id: 'a' }, () => 'done', {});
    terminator.runInto(
      collector,
      1,
      { queue: 'batch', id: 'b' },
      async () => {
        throw new Error('boom');
      },
      {},
    );
    terminator.runInto(
      collector,
      2,
      { queue: 'batch', id: 'c' },
      (token) => new Promise<string>((_resolve, reject) => token.onTerminate(() => reject(new Error('stopped')))),
      {},
    );
    // Registered at once, as run() registers its job.
    expect(
      terminator
        .running()
        .map((job) => job.ref.id)
        .sort(),
    ).toEqual(['a', 'b', 'c']);
    await terminator.terminate({ queue: 'batch', id: 'c' });
    const outcomes = await collector.promise;
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['completed', 'failed', 'terminated']);
    expect(outcomes[0]).toEqual({ status: 'completed', value: 'done' });
    expect(terminator.running()).toEqual([]);
    await terminator.close();
  });

  it('bad input and a closed terminator reject the batch, as run() rejects its promise', async () => {
    const terminator = createTerminator({ logger: silentLogger });
    const bad = new OutcomeCollector<void>(1);
    terminator.runInto(bad, 0, { queue: 'batch', id: '' }, () => undefined, {});
    await expect(bad.promise).rejects.toThrow(/job\.id/);
    await terminator.close();
    const closed = new OutcomeCollector<void>(1);
    terminator.runInto(closed, 0, { queue: 'batch', id: 'x' }, () => undefined, {});
    await expect(closed.promise).rejects.toThrow(/closed/);
    await expect(terminator.run({ queue: 'batch', id: 'x' }, () => undefined)).rejects.toThrow(/closed/);
  });
});
