import { getEventListeners } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { createTerminator } from '../../../src/terminator/terminator.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('no leaks', () => {
  it('after 10,000 jobs of every ending, no registry entry, listener or timer remains, and the heap is flat', async () => {
    const terminator = createTerminator({ logger: silentLogger, killTimeout: 1_000 });
    // A long-lived queue signal forwarded into every job, as adapters do with
    // graphile's pool-wide abortSignal: each job's listener must be removed.
    const poolSignal = new AbortController().signal;
    const timersBefore = timers();

    const batch = async (offset: number) => {
      const jobs: Promise<unknown>[] = [];
      for (let i = 0; i < 2_000; i++) {
        const ref = { queue: 'leak', id: String(offset + i) };
        const kind = i % 4;
        jobs.push(
          terminator.run(
            ref,
            async (token) => {
              token.onTerminate(() => {});
              if (kind === 0) return i;
              if (kind === 1) throw new Error('fails');
              await new Promise((resolve) => token.signal.addEventListener('abort', resolve, { once: true }));
              token.throwIfTerminating();
            },
            { forward: [{ signal: poolSignal, kind: 'shutdown' }], maxRuntime: kind === 3 ? 1 : 60_000 },
          ),
        );
        if (kind === 2) void terminator.terminate(ref);
      }
      const outcomes = (await Promise.all(jobs)) as Array<{ status: string }>;
      return outcomes.map((o) => o.status);
    };

    const statuses = await batch(0);
    expect(new Set(statuses)).toEqual(new Set(['completed', 'failed', 'terminated', 'interrupted']));
    gc();
    const heapAfterWarmup = process.memoryUsage().heapUsed;
    for (let round = 1; round < 5; round++) await batch(round * 2_000);
    gc();
    const heapAfter = process.memoryUsage().heapUsed;

    expect(terminator.running()).toEqual([]);
    expect(getEventListeners(poolSignal, 'abort')).toHaveLength(0);
    expect(timers()).toBeLessThanOrEqual(timersBefore);
    // 8,000 more jobs after warm-up: a leak of even 200 bytes a job would show as 1.6 MB.
    expect(heapAfter - heapAfterWarmup).toBeLessThan(1_500_000);
    await terminator.close();
  });
});
