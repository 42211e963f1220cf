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
 * Caveat, measured here: the count is not yet as repeatable as callgrind is
 * for plain code. The queues and the store run timers (pg-boss's polling,
 * jobterm's 1 s poll, V8's memory reducer) whose work per second is fixed, so
 * under valgrind's ~50x slowdown their share per job grows with how slow the
 * run was: two bare pg-boss runs gave 847k and 1,138k instructions per job.
 * `BENCH_POLL_INTERVAL` (ms) sets the store's poll for the jobterm worker, to
 * take it out of the comparison. Treat one figure as a rough size, not a
 * verdict; compare several runs.
 *
 * Needs valgrind (`apt-get install valgrind`); without it the suite says so
 * and returns no figure. It runs the built package: `npm run build` first.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Logger, makeWorkerUtils, runMigrations } from 'graphile-worker';
import { PgBoss } from 'pg-boss';
import { silentLogger } from '../../src/core/logger.js';
import { postgresStore } from '../../src/stores/postgres/index.js';
import type { BenchContext, BenchSuite, Figure } from '../lib/types.js';
import { connectWorker } from '../lib/worker-messages.js';

const run = promisify(execFile);
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
    const shapes: Shape[] = ctx.quick
      ? [{ queue: 'pg-boss', width: 1 }]
      : [
          { queue: 'pg-boss', width: 1 },
          { queue: 'pg-boss', width: 20 },
          { queue: 'pg-boss', width: 100 },
          { queue: 'graphile-worker', width: 1 },
          { queue: 'graphile-worker', width: 10 },
        ];
    // BENCH_SHAPES=pg-boss:20,graphile-worker:1 measures only those.
    const only = process.env.BENCH_SHAPES?.split(',');
    const figures: Figure[] = [];
    for (const shape of shapes.filter((s) => only === undefined || only.includes(`${s.queue}:${s.width}`)))
      figures.push(await measureShape(ctx, url, shape));
    return figures;
  },
};

async function measureShape(ctx: BenchContext, url: string, shape: Shape): Promise<Figure> {
  // Warm-up long enough for V8 to optimise the per-job code of both queues
  // and of jobterm; the measured jobs then run on that code.
  const warm = ctx.quick ? 50 : shape.width >= 20 ? 4_000 : 2_000;
  const measured = ctx.quick ? 20 : shape.width >= 20 ? 2_000 : 500;
  const perJob: Record<'bare' | 'jobterm', number> = { bare: 0, jobterm: 0 };
  for (const mode of ['bare', 'jobterm'] as const) {
    const instructions = await countInstructions(ctx, url, shape, mode, warm, measured);
    perJob[mode] = instructions / measured;
    ctx.log(
      `${shape.queue} width ${shape.width}, ${mode}: ${Math.round(perJob[mode]).toLocaleString('en')} instructions per job`,
    );
  }
  const overhead = ((perJob.jobterm - perJob.bare) / perJob.bare) * 100;
  return {
    name: `instructions per job, ${shape.queue} ${shape.queue === 'pg-boss' ? 'batchSize' : 'concurrency'} ${shape.width}: (with jobterm - without) / without`,
    unit: '%',
    samples: [overhead],
    reference: { name: 'bare worker, instructions per job', samples: [perJob.bare] },
    lowerIsBetter: true,
    goal: '< 2%',
    notes: `callgrind, ${measured} measured jobs after ${warm} uncounted warm-up jobs in the same process; jobterm worker: ${Math.round(perJob.jobterm).toLocaleString('en')} per job. Repeatable whatever else the machine runs.`,
  };
}

async function countInstructions(
  ctx: BenchContext,
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
  const dir = await mkdtemp(join(tmpdir(), 'jobterm-callgrind-'));
  let child: ChildProcess | undefined;
  try {
    await add.jobs(warmName, warm);
    child = spawn(
      'valgrind',
      [
        '--tool=callgrind',
        '--instr-atstart=no',
        `--callgrind-out-file=${join(dir, 'callgrind.out.%p')}`,
        process.execPath,
        // One thread for V8: no concurrent compiler or GC threads whose
        // timing would move the count.
        '--single-threaded',
        workerScript,
        shape.queue,
        mode,
        String(shape.width),
        warmName,
        String(warm),
        measuredName,
        String(measured),
      ],
      { env: { ...process.env, DATABASE_URL: url }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const next = connectWorker(child, `instructions worker (${shape.queue}, ${mode})`);
    try {
      await next('warm', '', 600_000);
      await add.jobs(measuredName, measured);
      await run('callgrind_control', ['-i', 'on', String(child.pid)]);
      child.stdin!.write('go\n');
      await next('done', '', 600_000);
      await run('callgrind_control', ['-d', String(child.pid)]);
    } catch (error) {
      throw new Error(`${String(error)}\nvalgrind said:\n${stderr.slice(-2_000)}`);
    }
    child.stdin!.end();
    await new Promise((resolve) => child!.once('exit', resolve));
    return await dumpedInstructions(dir);
  } finally {
    if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
    await add.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The instruction total of the dump `callgrind_control -d` wrote (the `.1` part; the final dump at exit is not counted). */
async function dumpedInstructions(dir: string): Promise<number> {
  const parts = (await readdir(dir)).filter((name) => name.endsWith('.1'));
  if (parts.length !== 1) throw new Error(`expected one callgrind dump in ${dir}, found ${parts.join(', ') || 'none'}`);
  const text = await readFile(join(dir, parts[0]!), 'utf8');
  const line = /^(?:summary|totals):\s*(\d+)/m.exec(text);
  if (line === null) throw new Error('no summary line in the callgrind dump');
  return Number(line[1]);
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

async function hasValgrind(): Promise<boolean> {
  try {
    await run('valgrind', ['--version']);
    await run('callgrind_control', ['--version']);
    return true;
  } catch {
    return false;
  }
}
