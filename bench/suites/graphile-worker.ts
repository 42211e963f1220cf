/**
 * graphile-worker 0.18 with and without jobterm, measured side by side in one run:
 *
 * - throughput: no-op jobs through a graphile runner at concurrency 1 and 10,
 *   bare against the same task under jobterm's plugin (with the PostgreSQL
 *   store, as in production), in alternating rounds on the same database,
 *   each round with its own task identifier and jobs inserted first;
 * - kill latency: from `terminate()` in this process to the running task's
 *   token firing in a worker process, and to graphile's row being ended for
 *   good there. The reference is graphile's own way across processes, for
 *   scale: from `addJob()` here to the task starting in that worker (its
 *   LISTEN/NOTIFY). Rounds alternate.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Logger, makeWorkerUtils, run, runMigrations, type Task, type WorkerUtils } from 'graphile-worker';
import pg from 'pg';
import { graphileWorkerAdapter, jobRef, makeJobtermPreset } from '../../src/adapters/graphile-worker/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { postgresStore } from '../../src/stores/postgres/index.js';
import { createTerminator } from '../../src/terminator/terminator.js';
import { alternateRounds } from '../lib/alternate.js';
import { since } from '../lib/stats.js';
import type { BenchContext, BenchSuite, Figure } from '../lib/types.js';
import { connectWorker } from '../lib/worker-messages.js';

const workerScript = fileURLToPath(new URL('../workers/graphile-worker-worker.ts', import.meta.url));
const now = () => performance.timeOrigin + performance.now();
const quiet = new Logger(() => () => {});

export const graphileWorkerSuite: BenchSuite = {
  name: 'graphile-worker',
  async run(ctx) {
    const { url } = await ctx.createDatabase('jobterm_bench_graphile');
    await runMigrations({ connectionString: url, logger: quiet });
    // The store's tables exist before the first round, so no round pays for the migration.
    await postgresStore({ connectionString: url, receiveRequests: false, logger: silentLogger }).migrate();
    // Pools of our own, with error handlers, ended before the database is
    // dropped: graphile ends the pools it makes without awaiting them.
    const pgPool = makePool(url, 4);
    const utils = await makeWorkerUtils({ pgPool, logger: quiet });
    try {
      return [...(await throughput(ctx, url, utils)), ...(await killLatency(ctx, url, utils))];
    } finally {
      await utils.release();
      await pgPool.end();
    }
  },
};

/**
 * One job at a time, where graphile's own cost per job (a fetch and a
 * complete, a few hundred µs here) is smallest against jobterm's fixed cost,
 * and ten at a time. Jobs per round are sized so a round takes one to two
 * seconds on a loaded 2-core machine: long enough that starting the runner
 * is a small share, short enough for ten rounds of each side.
 */
const MODES = [
  { concurrency: 1, jobs: 3_000 },
  { concurrency: 10, jobs: 6_000 },
] as const;

async function throughput(ctx: BenchContext, url: string, utils: WorkerUtils): Promise<Figure[]> {
  const rounds = ctx.quick ? 2 : 10;
  const figures: Figure[] = [];
  for (const mode of MODES) {
    const { concurrency } = mode;
    const jobs = ctx.quick ? 300 : mode.jobs;
    const warmupJobs = ctx.quick ? 100 : Math.min(jobs, 1_000);
    const began = performance.now();
    const rates = await alternateRounds({
      rounds,
      run: (side, round) =>
        throughputRound(url, utils, {
          task: `noop_c${concurrency}_${side}_${round < 0 ? 'warmup' : round}`,
          count: round < 0 ? warmupJobs : jobs,
          concurrency,
          jobterm: side === 'jobterm',
        }),
      onRound: (round, bare, withJobterm) =>
        ctx.log(
          `concurrency ${concurrency}, round ${round + 1}/${rounds}: bare ${bare.toFixed(0)} jobs/s, jobterm ${withJobterm.toFixed(0)} jobs/s`,
        ),
    });
    ctx.log(`concurrency ${concurrency}: ${rounds} rounds of each side in ${(since(began) / 1000).toFixed(0)} s`);
    figures.push({
      name: `throughput, ${jobs} no-op jobs, concurrency ${concurrency}, makeJobtermPreset() + PostgreSQL store`,
      unit: 'jobs/s',
      samples: rates.jobterm,
      reference: { name: 'the same task, bare', samples: rates.bare },
      lowerIsBetter: false,
      goal: '>= 0.97 of bare',
      notes:
        `One runner in this process, run({ concurrency: ${concurrency} }), no local queue, no batching. jobterm side: ` +
        'makeJobtermPreset() on a terminator with postgresStore({ connectionString }) (LISTEN + 1 s poll; schema ' +
        `migrated before the first round, the terminator ready before the clock starts). ${rounds} rounds of each ` +
        'side, alternating (bare first on even rounds), after one untimed warm-up round of each; each round its own ' +
        `task identifier, the job table vacuumed and ${jobs} jobs inserted first, timed from run() until the last ` +
        "job's row was gone.",
    });
  }
  return figures;
}

async function throughputRound(
  url: string,
  utils: WorkerUtils,
  round: { task: string; count: number; concurrency: number; jobterm: boolean },
): Promise<number> {
  const { task, count, concurrency, jobterm } = round;
  // Each round deletes every row it added: vacuum first, so later rounds do not
  // scan the earlier rounds' dead rows.
  await utils.withPgClient((client) => client.query('vacuum analyze graphile_worker._private_jobs'));
  for (let added = 0; added < count; added += 1_000) {
    await utils.addJobs(
      Array.from({ length: Math.min(1_000, count - added) }, () => ({ identifier: task, payload: {} })),
    );
  }
  const terminator = jobterm
    ? createTerminator({
        store: postgresStore({ connectionString: url, migrate: false, logger: silentLogger }),
        logger: silentLogger,
      })
    : undefined;
  await terminator?.whenReady();
  let handled = 0;
  let allHandled!: () => void;
  const done = new Promise<void>((resolve) => {
    allHandled = resolve;
  });
  const noop: Task = async () => {
    if (++handled === count) allHandled();
  };
  const pgPool = makePool(url, concurrency + 2);
  const start = performance.now();
  const runner = await run({
    pgPool,
    concurrency,
    pollInterval: 1_000,
    noHandleSignals: true,
    logger: quiet,
    taskList: { [task]: noop },
    ...(terminator === undefined ? {} : { preset: makeJobtermPreset({ terminator }) }),
  });
  await done;
  // graphile's last complete writes are fired, not awaited: time until they landed.
  await utils.withPgClient(async (client) => {
    for (;;) {
      const { rows } = await client.query<{ left: boolean }>(
        'select exists(select 1 from graphile_worker.jobs where task_identifier = $1) as left',
        [task],
      );
      if (!rows[0]?.left) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  });
  const seconds = (performance.now() - start) / 1000;
  await runner.stop();
  await terminator?.close();
  await pgPool.end();
  return count / seconds;
}

function makePool(url: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

async function killLatency(ctx: BenchContext, url: string, utils: WorkerUtils): Promise<Figure[]> {
  const n = ctx.quick ? 3 : 20;
  const adapter = graphileWorkerAdapter({ connectionString: url });
  const requester = createTerminator({
    store: postgresStore({ connectionString: url, receiveRequests: false, migrate: false, logger: silentLogger }),
    adapters: [adapter],
    logger: silentLogger,
    workerId: 'bench-requester',
  });
  const child = spawn(process.execPath, ['--import', 'tsx', workerScript], {
    env: { ...process.env, DATABASE_URL: url },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const next = connectWorker(child, 'graphile-worker bench worker');
  const toStart: number[] = [];
  const toFired: number[] = [];
  const toSettled: number[] = [];
  try {
    await next('ready', '', 30_000);
    for (let round = 0; round < n; round++) {
      const addedAt = now();
      const job = await utils.addJob('wait', {});
      const id = String(job.id);
      toStart.push((await next('started', id)).t! - addedAt);
      const terminateAt = now();
      await requester.terminate(jobRef(id), { reason: 'bench' });
      toFired.push((await next('fired', id)).t! - terminateAt);
      toSettled.push((await next('settled', id)).t! - terminateAt);
      ctx.log(
        `round ${round + 1}/${n}: addJob->start ${toStart.at(-1)!.toFixed(1)} ms, terminate->fired ${toFired.at(-1)!.toFixed(1)} ms, ->row ended ${toSettled.at(-1)!.toFixed(1)} ms`,
      );
    }
  } finally {
    child.stdin!.end();
    await new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => resolve(clearTimeout(timer)));
    });
    await requester.close();
    await adapter.close();
  }
  const reference = { name: 'graphile addJob() -> task started in that worker (its LISTEN/NOTIFY)', samples: toStart };
  const notes =
    'Worker in another OS process (concurrency 1, jobterm plugin, PostgreSQL store); one job at a time. terminate() ' +
    'reads the job state through graphileWorkerAdapter, stores the request (INSERT+NOTIFY), and the worker fires the token.';
  return [
    {
      name: 'kill latency, terminate() -> token fired in the worker',
      unit: 'ms',
      samples: toFired,
      reference,
      lowerIsBetter: true,
      notes,
    },
    {
      name: 'kill latency, terminate() -> graphile row ended for good (attempts = max_attempts)',
      unit: 'ms',
      samples: toSettled,
      reference,
      lowerIsBetter: true,
      notes,
    },
  ];
}
