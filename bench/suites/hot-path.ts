/**
 * jobterm's own CPU cost per job, without a queue in the loop: a child
 * process on the built package calls a pg-boss handler directly with
 * pg-boss-shaped jobs, bare and wrapped by `jt.handler()` (a terminator with
 * the PostgreSQL store, as users run it), in alternating rounds in the same
 * process, and reports CPU time per job. The difference is what jobterm adds
 * to every job; the throughput figures (pg-boss suite) show it against
 * pg-boss's own cost, which this leaves out. Needs `npm run build` first.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../src/core/logger.js';
import { postgresStore } from '../../src/stores/postgres/index.js';
import type { BenchContext, BenchSuite, Figure } from '../lib/types.js';

const workerScript = fileURLToPath(new URL('../workers/hot-path-worker.mjs', import.meta.url));
const distEntry = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

export const hotPathSuite: BenchSuite = {
  name: 'hot-path',
  async run(ctx) {
    if (!existsSync(distEntry)) {
      ctx.log('skipped: dist/ is missing (npm run build first)');
      return [];
    }
    const { url } = await ctx.createDatabase('jobterm_bench_hot');
    const store = postgresStore({ connectionString: url, receiveRequests: false, logger: silentLogger });
    await store.migrate();
    await store.close();
    const figures: Figure[] = [];
    for (const batchSize of [1, 20, 100]) figures.push(await measure(ctx, url, batchSize));
    return figures;
  },
};

async function measure(ctx: BenchContext, url: string, batchSize: number): Promise<Figure> {
  const jobs = ctx.quick ? 2_000 : 40_000;
  const rounds = ctx.quick ? 2 : 10;
  const child = spawn(process.execPath, [workerScript, url, String(batchSize), String(jobs), String(rounds)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const bare: number[] = [];
  const withJobterm: number[] = [];
  for await (const line of createInterface({ input: child.stdout! })) {
    const round = JSON.parse(line) as { bare: number; jobterm: number };
    bare.push(round.bare);
    withJobterm.push(round.jobterm);
  }
  const code = await new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', resolve);
  });
  if (code !== 0 || bare.length !== rounds)
    throw new Error(`hot-path worker exited with ${code} after ${bare.length} rounds`);
  ctx.log(`batchSize ${batchSize}: ${rounds} rounds of ${jobs} jobs each side`);
  return {
    name: `CPU per job, pg-boss handler called directly, batchSize ${batchSize}, jt.handler() + PostgreSQL store`,
    unit: 'µs',
    samples: withJobterm,
    reference: { name: 'the same handler, bare', samples: bare },
    lowerIsBetter: true,
    notes: `One process on dist/, ${rounds} alternating rounds of ${jobs} jobs per side after one untimed round of each; process.cpuUsage() per round / jobs. No queue, database or network in the loop: the difference is jobterm's own cost per job (GC included).`,
  };
}
