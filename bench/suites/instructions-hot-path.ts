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
import { REPEATABLE_V8_FLAGS, spawnUnderCallgrind } from '../lib/callgrind.js';
import { mean, median } from '../lib/stats.js';
import type { BenchContext } from '../lib/types.js';
import { connectWorker } from '../lib/worker-messages.js';

const workerScript = fileURLToPath(new URL('../workers/hot-path-worker.mjs', import.meta.url));

export interface HotPathCount {
  /** Instructions per job of the side's median counted round. */
  readonly bare: number;
  readonly jobterm: number;
  /** jobterm - bare, per job. */
  readonly added: number;
}

/**
 * Instructions per job of `counted` alternating rounds of each side, after
 * `rounds` uncounted warm-up rounds of each: the median round of each side.
 * With incremental marking off (below) the collector's scavenges land in
 * every round alike; what lands in one or two rounds and not the rest is V8
 * recompiling jobterm's code (TurboFan's graph reducer fills those dumps:
 * rounds of 45k and 34k per job among rounds of 25.7k at batchSize 1),
 * at a round that moves between runs. The mean is logged beside it.
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
    ...REPEATABLE_V8_FLAGS,
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
    const bare = median(perJob.bare);
    const jobterm = median(perJob.jobterm);
    const count = { bare, jobterm, added: jobterm - bare };
    const thousands = (rounds: number[]) => rounds.map((n) => Math.round(n / 100) / 10).join(', ');
    ctx.log(
      `hot path, batchSize ${batchSize}: median round ${Math.round(count.jobterm).toLocaleString('en')} instructions per job with jobterm, ${Math.round(count.bare).toLocaleString('en')} bare (means ${Math.round(mean(perJob.jobterm)).toLocaleString('en')} and ${Math.round(mean(perJob.bare)).toLocaleString('en')}; jobterm rounds ${thousands(perJob.jobterm)}k, bare ${thousands(perJob.bare)}k)`,
    );
    return count;
  } finally {
    await worker.close();
  }
}
