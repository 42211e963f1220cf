/**
 * The instruction figure for BullMQ, as the pg-boss rows give it: jobterm's
 * own instructions per job against the bare queue worker's.
 *
 * - jobterm's own: bench/workers/bullmq-processor-count.mjs calls a BullMQ
 *   processor directly, bare and wrapped by jt.processor() (no Redis, no
 *   timers), after a warm-up, for two job counts per side under callgrind;
 *   the difference of the two counts per job leaves out Node's start-up and
 *   V8's compilation, and the bare side's is taken off.
 * - the worker's: bench/workers/bullmq-worker-count.mjs, a real BullMQ
 *   Worker with a no-op processor on a real Redis, counted whole (ioredis,
 *   BullMQ's Lua calls and events) while it runs jobs this process adds,
 *   bare and with jobterm: the issue's figure, (with - without) / without,
 *   which moves with the timers; the bare count is what the row above is
 *   set against.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import { connectionFrom } from '../../test/fixtures/bullmq/connection.js';
import { REPEATABLE_V8_FLAGS, spawnUnderCallgrind } from '../lib/callgrind.js';
import { mean } from '../lib/stats.js';
import type { BenchContext, Figure } from '../lib/types.js';
import { connectWorker } from '../lib/worker-messages.js';

const run = promisify(execFile);
const processorScript = fileURLToPath(new URL('../workers/bullmq-processor-count.mjs', import.meta.url));
const workerScript = fileURLToPath(new URL('../workers/bullmq-worker-count.mjs', import.meta.url));

export async function bullmqInstructionFigures(ctx: BenchContext, redisUrl: string): Promise<Figure[]> {
  const counts: ProcessorCount[] = [];
  for (let repeat = 0; repeat < (ctx.quick ? 1 : 2); repeat++) {
    const count = await countProcessor(ctx.quick ? [2_000, 6_000] : [4_000, 16_000], ctx.quick ? 5_000 : 20_000);
    ctx.log(
      `BullMQ processor, called directly: bare ${Math.round(count.bare)}, jobterm ${Math.round(count.jobterm)} instructions per job`,
    );
    counts.push(count);
  }
  const added = counts.map((count) => count.jobterm - count.bare);
  const figures: Figure[] = [];
  for (const concurrency of ctx.quick ? [1] : [1, 50]) {
    // Alternating sides, bare first; each count is its own process.
    const whole: Record<'bare' | 'jt', number[]> = { bare: [], jt: [] };
    for (let repeat = 0; repeat < (ctx.quick ? 1 : 2); repeat++) {
      for (const side of repeat % 2 === 0 ? (['bare', 'jt'] as const) : (['jt', 'bare'] as const)) {
        const perJob = await countWorker(ctx, redisUrl, concurrency, side);
        ctx.log(`BullMQ Worker, concurrency ${concurrency}, ${side}: ${Math.round(perJob)} instructions per job`);
        whole[side].push(perJob);
      }
    }
    const barePerJob = mean(whole.bare);
    figures.push({
      name: `instructions per job, BullMQ Worker concurrency ${concurrency}, whole process: (with jobterm - without) / without`,
      unit: '%',
      samples: whole.jt.map((perJob) => ((perJob - barePerJob) / barePerJob) * 100),
      reference: { name: 'bare BullMQ Worker, instructions per job', samples: whole.bare },
      lowerIsBetter: true,
      goal: '< 2%',
      notes:
        `bench/workers/bullmq-worker-count.mjs under callgrind, ${ctx.quick ? 1 : 2} counts per side alternating: a real Worker on Redis, ` +
        'jobs added from another process, removeOnComplete; the jobterm side with jt.processor(), jt.attach() and the Redis store ' +
        `(per job: ${whole.jt.map((n) => Math.round(n).toLocaleString('en')).join(', ')} with, ${whole.bare.map((n) => Math.round(n).toLocaleString('en')).join(', ')} without). ` +
        'The store’s poll, the fleet heartbeat and BullMQ’s own timers do fixed work per second, and valgrind’s slowdown varies, so this moves between runs; the row below does not.',
    });
    figures.push({
      name: `jobterm's own instructions per job, BullMQ (processor called directly, no Redis), as a share of the bare BullMQ Worker's instructions per job at concurrency ${concurrency}`,
      unit: '%',
      samples: added.map((perJob) => (perJob / barePerJob) * 100),
      reference: { name: 'bare BullMQ Worker, instructions per job (row above)', samples: [barePerJob] },
      lowerIsBetter: true,
      goal: '< 2%',
      notes:
        `jobterm adds ${added.map((n) => Math.round(n).toLocaleString('en')).join(' and ')} instructions per job in ${counts.length} counts ` +
        `(bench/workers/bullmq-processor-count.mjs under callgrind, a processor that declares no signal, the difference of two job counts after a warm-up; ` +
        `bare processor ${Math.round(counts[0]!.bare).toLocaleString('en')} per job).`,
    });
  }
  return figures;
}

interface ProcessorCount {
  readonly bare: number;
  readonly jobterm: number;
}

async function countProcessor([fewer, more]: readonly [number, number], warmup: number): Promise<ProcessorCount> {
  const dir = await mkdtemp(join(tmpdir(), 'jobterm-bullmq-count-'));
  try {
    const total = async (side: 'bare' | 'jt', jobs: number) => {
      const out = join(dir, `${side}.${jobs}`);
      await run(
        'valgrind',
        [
          '--tool=callgrind',
          `--callgrind-out-file=${out}`,
          process.execPath,
          ...REPEATABLE_V8_FLAGS,
          processorScript,
          side,
          String(jobs),
        ],
        { maxBuffer: 16 * 1024 * 1024, timeout: 600_000, env: { ...process.env, WARMUP: String(warmup) } },
      );
      const line = /^(?:summary|totals):\s*(\d+)/m.exec(await readFile(out, 'utf8'));
      if (line === null) throw new Error(`no summary line in ${out}`);
      return Number(line[1]);
    };
    const perJob = async (side: 'bare' | 'jt') =>
      ((await total(side, more)) - (await total(side, fewer))) / (more - fewer);
    return { bare: await perJob('bare'), jobterm: await perJob('jt') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A Worker process's instructions per job: warm-up uncounted, then `jobs` counted, added from here. */
async function countWorker(ctx: BenchContext, url: string, concurrency: number, side: 'bare' | 'jt'): Promise<number> {
  const warm = ctx.quick ? 200 : 1_000;
  const jobs = ctx.quick ? 300 : 3_000;
  const prefix = `bench-instr-${randomBytes(3).toString('hex')}`;
  const name = `count-${concurrency}-${side}`;
  const connection = connectionFrom(url);
  const queue = new Queue(name, { connection, prefix });
  const add = (n: number) =>
    queue.addBulk(
      Array.from({ length: n }, (_, i) => ({ name: 'noop', data: { i }, opts: { removeOnComplete: true } })),
    );
  await add(warm);
  const worker = await spawnUnderCallgrind([
    ...REPEATABLE_V8_FLAGS,
    workerScript,
    url,
    name,
    prefix,
    String(concurrency),
    String(warm),
  ]);
  try {
    const next = connectWorker(worker.child, `BullMQ worker count (concurrency ${concurrency}, ${side})`);
    await next('ready', '', 600_000);
    await worker.instrument(true);
    worker.child.stdin!.write(`count ${jobs}\n`);
    await add(jobs);
    await next('counted', String(jobs), 900_000);
    await worker.dump();
    await worker.instrument(false);
    const counted = await worker.dumped(1);
    worker.child.stdin!.write('exit\n');
    return counted / jobs;
  } catch (error) {
    throw new Error(`${(error as Error).message}\nvalgrind: ${worker.stderr()}`);
  } finally {
    await worker.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
}
