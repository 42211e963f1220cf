import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { memoryProgressStore } from '../../../src/core/progress.js';
import { iterate } from '../../../src/iteration/iterate.js';
import { createTerminator } from '../../../src/terminator/terminator.js';

const ref = { queue: 'test', id: 'backfill' };
const rows = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** Keyset pagination over an in-memory "table": the items after `cursor`. */
function* rowsAfter(ids: number[], cursor: number | undefined) {
  for (const id of ids) if (cursor === undefined || id > cursor) yield { item: id, cursor: id };
}

function setup() {
  const progress = memoryProgressStore();
  const terminator = createTerminator({ logger: silentLogger, progress, killTimeout: 2_000 });
  return { progress, terminator };
}

describe('iterate()', () => {
  it('processes every item in order, then clears the cursor', async () => {
    const { progress, terminator } = setup();
    const seen: number[] = [];
    const hooks: string[] = [];
    const outcome = await terminator.run(ref, () =>
      iterate({
        source: (cursor: number | undefined) => rowsAfter(rows(250), cursor),
        each: (id) => {
          seen.push(id);
        },
        onStart: () => hooks.push('start'),
        onComplete: (s) => hooks.push(`complete:${s.processed}`),
      }),
    );
    expect(outcome).toMatchObject({ status: 'completed', value: { processed: 250, cursor: 250 } });
    expect(seen).toEqual(rows(250));
    expect(hooks).toEqual(['start', 'complete:250']);
    expect(progress.size).toBe(0);
  });

  it('on shutdown saves the cursor and is interrupted; the next run resumes after it, every item once', async () => {
    const { progress, terminator } = setup();
    const seen: number[] = [];
    const first = terminator.run(ref, () =>
      iterate({
        source: (cursor: number | undefined) => rowsAfter(rows(1_000), cursor),
        each: async (id) => {
          seen.push(id);
          if (id === 300) void terminator.shutdown({ timeout: 5_000 });
          await Promise.resolve();
        },
      }),
    );
    const outcome = await first;
    expect(outcome).toMatchObject({ status: 'interrupted', resumable: true });
    expect(await progress.load(ref)).toBe(300);

    const second = createTerminator({ logger: silentLogger, progress });
    const hooks: unknown[] = [];
    const resumed = await second.run(ref, () =>
      iterate({
        source: (cursor: number | undefined) => rowsAfter(rows(1_000), cursor),
        each: (id) => {
          seen.push(id);
        },
        onResume: (cursor) => hooks.push(cursor),
      }),
    );
    expect(resumed).toMatchObject({ status: 'completed', value: { resumedFrom: 300, processed: 700 } });
    expect(hooks).toEqual([300]);
    expect(seen).toEqual(rows(1_000));
  });

  it('maxRuntime interrupts it repeatedly, resumable each time, until done', async () => {
    const { progress, terminator } = setup();
    const seen: number[] = [];
    let runs = 0;
    for (;;) {
      runs++;
      const before = seen.length;
      const outcome = await terminator.run(ref, () =>
        iterate({
          source: (cursor: number | undefined) => rowsAfter(rows(60), cursor),
          each: async (id) => {
            seen.push(id);
            await new Promise((resolve) => setTimeout(resolve, 2));
          },
          maxRuntime: 30,
        }),
      );
      if (outcome.status === 'completed') break;
      // A run that got through an item saved its cursor and goes back resumable; on a
      // loaded machine a run can stall past its 30 ms before its first item, and one
      // that saved nothing is not resumable (its attempt would fail, as it should).
      const progressed = seen.length > before;
      expect(outcome).toMatchObject({ status: 'interrupted', resumable: progressed, reason: { kind: 'timeout' } });
      expect(runs).toBeLessThan(1_000);
    }
    expect(runs).toBeGreaterThan(1);
    expect(seen).toEqual(rows(60));
    expect(progress.size).toBe(0);
  });

  it('a kill saves the cursor for the record and ends terminated', async () => {
    const { progress, terminator } = setup();
    const interrupts: unknown[] = [];
    const outcome = await terminator.run(ref, () =>
      iterate({
        source: (cursor: number | undefined) => rowsAfter(rows(100), cursor),
        each: async (id) => {
          if (id === 40) await terminator.terminate(ref, { reason: 'bad batch' });
        },
        onInterrupt: (cursor, reason) => interrupts.push([cursor, reason.kind]),
      }),
    );
    expect(outcome).toMatchObject({ status: 'terminated', reason: { kind: 'kill', message: 'bad batch' } });
    expect(await progress.load(ref)).toBe(40);
    expect(interrupts).toEqual([[40, 'kill']]);
  });

  it('an error in one item fails the job and its retry resumes after the last saved cursor', async () => {
    const { progress, terminator } = setup();
    const failed = await terminator.run(ref, () =>
      iterate({
        source: (cursor: number | undefined) => rowsAfter(rows(100), cursor),
        each: (id) => {
          if (id === 57) throw new Error('row 57 is broken');
        },
        saveEvery: { items: 10 },
      }),
    );
    expect(failed).toMatchObject({ status: 'failed', error: { message: 'row 57 is broken' } });
    expect(await progress.load(ref)).toBe(56);
  });

  it('a throttle pauses the job with a retry delay', async () => {
    const { terminator } = setup();
    const outcome = await terminator.run(ref, () =>
      iterate({
        source: (cursor: number | undefined) => rowsAfter(rows(100), cursor),
        each: () => {},
        throttle: { when: () => true, delay: 1_500 },
      }),
    );
    expect(outcome).toMatchObject({ status: 'interrupted', resumable: false, retryDelay: 1_500 });
  });

  it('refuses a cursor JSON cannot hold, at save time, leaving the saved one intact', async () => {
    const { progress, terminator } = setup();
    await progress.save(ref, 5);
    const outcome = await terminator.run(ref, () =>
      iterate<number, never>({
        source: () => [{ item: 6, cursor: 10n as never }],
        each: () => {},
        saveEvery: { items: 1 },
      }),
    );
    expect(outcome.status).toBe('failed');
    if (outcome.status === 'failed') {
      expect(String(outcome.error)).toContain('Expected `cursor` to be a JSON value');
    }
    expect(await progress.load(ref)).toBe(5);
  });

  it('explains where it must be called and what it needs', async () => {
    await expect(iterate({ source: () => [], each: () => {} })).rejects.toThrow(/inside a job/);
    const terminator = createTerminator({ logger: silentLogger });
    const outcome = await terminator.run(ref, () => iterate({ source: () => [], each: () => {} }));
    expect(outcome.status === 'failed' && String(outcome.error)).toMatch(/nowhere to save its cursor/);
  });
});
