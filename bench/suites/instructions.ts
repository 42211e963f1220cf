/**
 * Instructions per job, with and without jobterm: the figure that does not
 * depend on how busy this machine is. Each worker process runs under
 * `valgrind --tool=callgrind --instr-atstart=no` (instrumentation off, so
 * start-up and a warm-up run at near native speed and the JIT settles), then
 * the suite switches instrumentation on (`callgrind_control -i on`), adds the
 * measured jobs, and dumps the count once the queue has recorded the last
 * completion. Instructions counted are the worker process's own (pg, the
 * queue library, jobterm, V8), not PostgreSQL's.
 *
 * Figure: (instructions per job with jobterm - without) / without, beside
 * the bare worker's instructions per job; goal under 2%. The jobterm worker
 * runs as users run it: the built package, a terminator with the PostgreSQL
 * store (its LISTEN connection and 1 s poll are counted too).
 *
 * Repeatability, measured here (2026-12-02): with V8's collections by
 * allocation, not by timer (REPEATABLE_V8_FLAGS, the memory reducer off), a
 * collected heap at the start of the counted part on both sides, 30,000
 * warm-up jobs at batchSize 20 and 100 (6,000 at 1) and 10,000 counted,
 * runs of the same worker agree within about 4% (bare batchSize 100: 105,000
 * to 109,000 per job in six runs; with jobterm 137,800 to 141,000). Before,
 * the memory reducer's idle timer, and V8
 * still compiling jobterm's per-job code in the counted part, put 112k to
 * 156k on the same bare worker, and the jobterm worker 15% to 60% above it.
 * The queues' and the store's own timers still do fixed work per second,
 * counted per job at valgrind's speed; `BENCH_POLL_INTERVAL` (ms) sets the
 * store's poll for the jobterm worker (switched off, it moved nothing).
 *
 * The second row of each pg-boss shape (instructions-hot-path.ts) is
 * jobterm's own instructions per job, counted with the handler called
 * directly and no timer running, the median of eight alternating rounds,
 * twice, as a share of the bare worker's count above. At batchSize 20 and
 * 100 the whole-process figure is far above it (README, Performance): the
 * part of a real batch worker's cost that the hot path does not reproduce.
 *
 * Needs valgrind (`apt-get install valgrind`); without it the suite says so
 * and returns no figure. It runs the built package: `npm run build` first.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Logger, makeWorkerUtils, runMigrations } from 'graphile-worker';
import { PgBoss } from 'pg-boss';
import { silentLogger } from '../../src/core/logger.js';
import { postgresStore } from '../../src/stores/postgres/index.js';
import { type CallgrindProcess, hasValgrind, REPEATABLE_V8_FLAGS, spawnUnderCallgrind } from '../lib/callgrind.js';
import type { BenchContext, BenchSuite, Figure } from '../lib/types.js';
import { connectWorker } from '../lib/worker-messages.js';
import { bullmqInstructionFigures } from './instructions-bullmq.js';
import { countHotPath, type HotPathCount } from './instructions-hot-path.js';

const workerScript = fileURLToPath(new URL('../workers/instructions-worker.mjs', import.meta.url));
const distEntry = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
const quiet = new Logger(() => () => {});

interface Shape {
  readonly queue: 'pg-boss' | 'graphile-worker';
  /** batchSize for pg-boss, concurrency for graphile-worker. */
  readonly width: number;
}

export const instructionsSuite: BenchSuite = {
  name: 'instructions',
  async run(ctx) {
    if (!(await hasValgrind())) {
      ctx.log('skipped: valgrind is not installed (apt-get install valgrind)');
      return [];
    }
    if (!existsSync(distEntry)) {
      ctx.log('skipped: dist/ is missing (npm run build first)');
      return [];
    }
    const { url } = await ctx.createDatabase('jobterm_bench_instr');
    await runMigrations({ connectionString: url, logger: quiet });
    await postgresStore({ connectionString: url, receiveRequests: false, logger: silentLogger }).migrate();
    // graphile-worker's shapes run only when asked for (BENCH_SHAPES):
    // on 2026-12-01 its worker under valgrind did not finish its 2,000
    // warm-up jobs within the 10-minute limit (not yet understood), which
    // cost the whole run its table.
    const everyShape: Shape[] = [
      { queue: 'pg-boss', width: 1 },
      { queue: 'pg-boss', width: 20 },
      { queue: 'pg-boss', width: 100 },
      { queue: 'graphile-worker', width: 1 },
      { queue: 'graphile-worker', width: 10 },
    ];
    // BENCH_SHAPES=pg-boss:20,graphile-worker:1 measures only those.
    const only = process.env.BENCH_SHAPES?.split(',');
    const shapes =
      only !== undefined
        ? everyShape.filter((s) => only.includes(`${s.queue}:${s.width}`))
        : ctx.quick
          ? everyShape.slice(0, 1)
          : everyShape.filter((s) => s.queue === 'pg-boss');
    const figures: Figure[] = [];
    for (const shape of shapes) {
      const measured = await measureShape(ctx, url, shape);
      figures.push(measured.figure);
      if (shape.queue === 'pg-boss') figures.push(await hotPathFigure(ctx, url, shape.width, measured.barePerJob));
    }
    // BullMQ's rows (BENCH_SHAPES=bullmq asks for them alone).
    if (ctx.redisUrl === undefined) ctx.log('BullMQ rows skipped: no Redis (set REDIS_URL, or install redis-server)');
    else if (only === undefined || only.includes('bullmq'))
      figures.push(...(await bullmqInstructionFigures(ctx, ctx.redisUrl)));
    return figures;
  },
};

/**
 * jobterm's own instructions per job (the hot-path count, repeatable), as a
 * share of the bare queue worker's: the goal's figure without the timers'
 * noise. Counted twice, to show it repeats.
 */
async function hotPathFigure(ctx: BenchContext, url: string, batchSize: number, barePerJob: number): Promise<Figure> {
  // 8 alternating counted rounds of 10,000 jobs per side, the median round
  // of each (see countHotPath for why the median).
  const jobs = ctx.quick ? 2_000 : 10_000;
  const rounds = ctx.quick ? 2 : 6;
  const counted = ctx.quick ? 2 : 8;
  const counts: HotPathCount[] = [];
  for (let run = 0; run < (ctx.quick ? 1 : 2); run++)
    counts.push(await countHotPath(ctx, url, batchSize, jobs, rounds, counted));
  const added = counts.map((count) => Math.round(count.added).toLocaleString('en')).join(' and ');
  return {
    name: `jobterm's own instructions per job, pg-boss batchSize ${batchSize} (handler called directly, no timers), as a share of the bare worker's instructions per job`,
    unit: '%',
    samples: counts.map((count) => (count.added / barePerJob) * 100),
    reference: { name: 'bare worker, instructions per job (row above)', samples: [barePerJob] },
    lowerIsBetter: true,
    goal: '< 2%',
    notes: `callgrind on bench/workers/hot-path-worker.mjs (count mode, incremental marking off), the median of ${counted} alternating counted rounds of ${jobs} jobs per side after ${rounds} uncounted rounds of each; jobterm adds ${added} instructions per job in ${counts.length} runs (the same process shape each time; bare handler: ${Math.round(counts[0]!.bare).toLocaleString('en')} per job, the batch's construction included).`,
  };
}

async function measureShape(
  ctx: BenchContext,
  url: string,
  shape: Shape,
): Promise<{ figure: Figure; barePerJob: number }> {
  // Warm-up long enough for V8 to optimise the per-job code of both queues
  // and of jobterm; the measured jobs then run on that code.
  // (With 4,000 at batchSize 100, V8 was still compiling jobterm's per-job
  // code in the counted part: --trace-opt showed start(), settle() and the
  // batch's handler reaching TurboFan only there, after running on Maglev.)
  const warm = ctx.quick ? 50 : shape.width >= 20 ? 30_000 : 6_000;
  // Enough jobs that the full collections their allocations bring land in
  // the count on both sides (each is millions of instructions, and 2,000
  // jobs at batchSize 20 saw one on one side and none on the other).
  const measured = ctx.quick ? 20 : shape.width >= 20 ? 10_000 : 500;
  const perJob: Record<'bare' | 'jobterm', number> = { bare: 0, jobterm: 0 };
  for (const mode of ['bare', 'jobterm'] as const) {
    const instructions = await countInstructions(url, shape, mode, warm, measured);
    perJob[mode] = instructions / measured;
    ctx.log(
      `${shape.queue} width ${shape.width}, ${mode}: ${Math.round(perJob[mode]).toLocaleString('en')} instructions per job`,
    );
  }
  const overhead = ((perJob.jobterm - perJob.bare) / perJob.bare) * 100;
  const figure: Figure = {
    name: `instructions per job, ${shape.queue} ${shape.queue === 'pg-boss' ? 'batchSize' : 'concurrency'} ${shape.width}: (with jobterm - without) / without`,
    unit: '%',
    samples: [overhead],
    reference: { name: 'bare worker, instructions per job', samples: [perJob.bare] },
    lowerIsBetter: true,
    goal: '< 2%',
    notes: `callgrind, ${measured} measured jobs after ${warm} uncounted warm-up jobs in the same process; jobterm worker: ${Math.round(perJob.jobterm).toLocaleString('en')} per job. Runs agree within about 4% (the suite's header); the hot-path row below is jobterm's own code alone.`,
  };
  return { figure, barePerJob: perJob.bare };
}

async function countInstructions(
  url: string,
  shape: Shape,
  mode: 'bare' | 'jobterm',
  warm: number,
  measured: number,
): Promise<number> {
  const tag = `${shape.queue === 'pg-boss' ? 'b' : 'g'}${shape.width}_${mode}_${Date.now().toString(36)}`;
  const warmName = `warm_${tag}`;
  const measuredName = `measured_${tag}`;
  const add = await jobAdder(url, shape.queue, [warmName, measuredName]);
  let worker: CallgrindProcess | undefined;
  try {
    await add.jobs(warmName, warm);
    worker = await spawnUnderCallgrind(
      [
        // One thread for V8, and collections by allocation, not by time
        // (REPEATABLE_V8_FLAGS): the memory reducer's idle timer ran more
        // often the slower valgrind ran, and put 112k to 156k instructions per
        // job on the same bare batchSize 100 worker from run to run.
        ...REPEATABLE_V8_FLAGS,
        '--expose-gc',
        // BENCH_NODE_FLAGS=--perf-basic-prof names the JIT-compiled functions in the dumps.
        ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
        workerScript,
        shape.queue,
        mode,
        String(shape.width),
        warmName,
        String(warm),
        measuredName,
        String(measured),
      ],
      { ...process.env, DATABASE_URL: url },
    );
    const next = connectWorker(worker.child, `instructions worker (${shape.queue}, ${mode})`);
    try {
      await next('warm', '', 600_000);
      await add.jobs(measuredName, measured);
      await worker.instrument(true);
      worker.child.stdin!.write('go\n');
      await next('done', '', 600_000);
      await worker.dump();
    } catch (error) {
      throw new Error(`${String(error)}\nvalgrind said:\n${worker.stderr().slice(-2_000)}`);
    }
    worker.child.stdin!.end();
    const child = worker.child;
    if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    return await worker.dumped(1);
  } finally {
    await worker?.close();
    await add.close();
  }
}

async function jobAdder(
  url: string,
  queue: Shape['queue'],
  names: string[],
): Promise<{ jobs(name: string, count: number): Promise<void>; close(): Promise<void> }> {
  if (queue === 'pg-boss') {
    const boss = new PgBoss({ connectionString: url, schedule: false, supervise: false, max: 2 });
    boss.on('error', () => {});
    await boss.start();
    for (const name of names) await boss.createQueue(name);
    return {
      async jobs(name, count) {
        for (let sent = 0; sent < count; sent += 1_000) {
          await boss.insert(
            name,
            Array.from({ length: Math.min(1_000, count - sent) }, () => ({ data: {} })),
          );
        }
      },
      close: () => boss.stop({ graceful: false }),
    };
  }
  const utils = await makeWorkerUtils({ connectionString: url, logger: quiet });
  return {
    async jobs(name, count) {
      for (let added = 0; added < count; added += 1_000) {
        await utils.addJobs(
          Array.from({ length: Math.min(1_000, count - added) }, () => ({ identifier: name, payload: {} })),
        );
      }
    },
    close: async () => {
      await utils.release();
    },
  };
}
