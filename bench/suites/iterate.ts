import { silentLogger } from '../../src/core/logger.js';
import { memoryProgressStore } from '../../src/core/progress.js';
import { iterate } from '../../src/iteration/iterate.js';
import { createTerminator } from '../../src/terminator/terminator.js';
import type { BenchSuite, Figure } from '../lib/types.js';

/**
 * Per-item cost of `iterate()` against a plain `for` loop over the same items
 * doing the same work, both inside a terminator's job. The check between
 * items is memory only; saves are batched (every 100 items here, to a memory
 * store, so the figure is jobterm's own overhead, not the database's).
 */
export const iterateSuite: BenchSuite = {
  name: 'iterate',
  async run(ctx) {
    const items = ctx.quick ? 20_000 : 200_000;
    const rounds = ctx.quick ? 3 : 15;
    const terminator = createTerminator({ logger: silentLogger, progress: memoryProgressStore() });
    const data = Array.from({ length: items }, (_, i) => i);
    function* source(cursor: number | undefined) {
      for (let i = cursor === undefined ? 0 : cursor + 1; i < items; i++) yield { item: data[i]!, cursor: i };
    }
    let sink = 0;
    const work = (n: number) => {
      sink = (sink + n * 31) % 1_000_003;
    };
    const plain: number[] = [];
    const iterated: number[] = [];
    for (let round = 0; round < rounds; round++) {
      // Alternate so drift on a shared machine hits both alike.
      let start = performance.now();
      await terminator.run({ queue: 'bench', id: `plain-${round}` }, async () => {
        for (const { item } of source(undefined)) work(item);
      });
      plain.push(((performance.now() - start) * 1e6) / items);

      start = performance.now();
      await terminator.run({ queue: 'bench', id: `iter-${round}` }, () =>
        iterate({
          source,
          each: (n) => work(n),
        }),
      );
      iterated.push(((performance.now() - start) * 1e6) / items);
    }
    await terminator.close();
    if (sink < 0) ctx.log('unreachable');
    const figures: Figure[] = [
      {
        name: `iterate() per item over ${items} items`,
        unit: 'µs',
        samples: iterated.map((ns) => ns / 1000),
        reference: { name: 'plain for-of over the same source', samples: plain.map((ns) => ns / 1000) },
        lowerIsBetter: true,
        goal: 'no database round trip per item; sub-microsecond overhead',
        notes: 'both read the same generator; the difference is the token check, time check, await and batched save',
      },
    ];
    return figures;
  },
};
