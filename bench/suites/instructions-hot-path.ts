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
import type { BenchContext } from '../lib/types.js';
import { connectWorker } from '../lib/worker-messages.js';

const workerScript = fileURLToPath(new URL('../workers/hot-path-worker.mjs', import.meta.url));

export interface HotPathCount {
  readonly bare: number;
  readonly jobterm: number;
  /** jobterm - bare, per job. */
  readonly added: number;
}

/** Instructions per job of one counted round of each side, after `rounds` uncounted warm-up rounds of each. */
export async function countHotPath(
  ctx: BenchContext,
  url: string,
  batchSize: number,
  jobs: number,
  rounds: number,
): Promise<HotPathCount> {
  const worker = await spawnUnderCallgrind([
    // No background compiler or GC threads (their work would land in the
    // count by timing), a heap that grows by fixed steps rather than by
    // measured allocation rates (without it two runs differed by 60%; with
    // it, by under 0.5%), and an explicit gc() before each counted side.
    '--single-threaded',
    '--predictable-gc-schedule',
    '--expose-gc',
    ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
    workerScript,
    url,
    String(batchSize),
    String(jobs),
    String(rounds),
    'count',
  ]);
  try {
    const next = connectWorker(worker.child, `hot-path count worker (batchSize ${batchSize})`);
    const perJob = { bare: 0, jobterm: 0 };
    let dumps = 0;
    try {
      for (const side of ['bare', 'jobterm'] as const) {
        await next('ready', side, 900_000);
        await worker.instrument(true);
        worker.child.stdin!.write('go\n');
        await next('counted', side, 900_000);
        await worker.dump();
        await worker.instrument(false);
        perJob[side] = (await worker.dumped(++dumps)) / jobs;
        worker.child.stdin!.write('go\n');
      }
    } catch (error) {
      throw new Error(`${String(error)}\nvalgrind said:\n${worker.stderr().slice(-2_000)}`);
    }
    ctx.log(
      `hot path, batchSize ${batchSize}: ${Math.round(perJob.jobterm).toLocaleString('en')} instructions per job with jobterm, ${Math.round(perJob.bare).toLocaleString('en')} bare`,
    );
    return { ...perJob, added: perJob.jobterm - perJob.bare };
  } finally {
    await worker.close();
  }
}
