/**
 * jobterm's own instructions per job, counted the way that repeats: the
 * hot-path worker (bench/workers/hot-path-worker.mjs, `count` mode) calls a
 * pg-boss handler directly, bare and wrapped, with no queue, database round
 * trip or timer in the counted part, under callgrind. The whole-worker count
 * (instructions.ts) moves by a third between runs, because pg-boss's and the
 * store's timers do fixed work per second and valgrind's slowdown varies;
 * this one moves by well under 1%, so it can tell one change to the hot path
 * from another. The difference per job is what jobterm adds to every job;
 * the suite sets it beside the bare queue worker's instructions per job.
 */
import { fileURLToPath } from 'node:url';
import { spawnUnderCallgrind } from '../lib/callgrind.js';
import { mean } from '../lib/stats.js';
import type { BenchContext } from '../lib/types.js';
import { connectWorker } from '../lib/worker-messages.js';

const workerScript = fileURLToPath(new URL('../workers/hot-path-worker.mjs', import.meta.url));

export interface HotPathCount {
  /** Instructions per job over all counted rounds of the side. */
  readonly bare: number;
  readonly jobterm: number;
  /** jobterm - bare, per job. */
  readonly added: number;
}

/**
 * Instructions per job of `counted` alternating rounds of each side, after
 * `rounds` uncounted warm-up rounds of each, over all the counted rounds:
 * not a median. The collector's work lands in some rounds and not others
 * (a jobterm round that follows a jobterm round counted 55k per job at
 * batchSize 100, one that follows a bare round 36k), and it is jobterm's
 * cost as much as the rest; over eight alternating rounds the total repeats
 * to about 1%.
 */
export async function countHotPath(
  ctx: BenchContext,
  url: string,
  batchSize: number,
  jobs: number,
  rounds: number,
  counted = 6,
): Promise<HotPathCount> {
  const worker = await spawnUnderCallgrind([
    // No background compiler or GC threads (their work would land in the
    // count by timing), and a heap that grows by fixed steps rather than by
    // measured allocation rates.
    '--single-threaded',
    '--predictable-gc-schedule',
    ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
    workerScript,
    url,
    String(batchSize),
    String(jobs),
    String(rounds),
    'count',
    String(counted),
  ]);
  try {
    const next = connectWorker(worker.child, `hot-path count worker (batchSize ${batchSize})`);
    const perJob: Record<'bare' | 'jobterm', number[]> = { bare: [], jobterm: [] };
    try {
      await next('ready', 'all', 900_000);
      await worker.instrument(true);
      worker.child.stdin!.write('go\n');
      let dumps = 0;
      for (let r = 0; r < counted; r++) {
        const order = r % 2 === 0 ? (['bare', 'jobterm'] as const) : (['jobterm', 'bare'] as const);
        for (const side of order) {
          await next('counted', `${r}:${side}`, 900_000);
          await worker.dump();
          perJob[side].push((await worker.dumped(++dumps)) / jobs);
          worker.child.stdin!.write('go\n');
        }
      }
    } catch (error) {
      throw new Error(`${String(error)}\nvalgrind said:\n${worker.stderr().slice(-2_000)}`);
    }
    const bare = mean(perJob.bare);
    const jobterm = mean(perJob.jobterm);
    const count = { bare, jobterm, added: jobterm - bare };
    ctx.log(
      `hot path, batchSize ${batchSize}: ${Math.round(count.jobterm).toLocaleString('en')} instructions per job with jobterm, ${Math.round(count.bare).toLocaleString('en')} bare (over ${counted} rounds; jobterm rounds ${perJob.jobterm.map((n) => Math.round(n / 100) / 10).join(', ')}k)`,
    );
    return count;
  } finally {
    await worker.close();
  }
}
