/**
 * graphile-worker 0.18 with and without jobterm, measured side by side in one run:
 *
 * - throughput: no-op jobs through a graphile runner, bare against the same
 *   task under jobterm's plugin (with the PostgreSQL store, as in
 *   production), in alternating rounds on the same database, each round
 *   with its own task identifier and jobs inserted first;
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

const CONCURRENCY = 4;

async function throughput(ctx: BenchContext, url: string, utils: WorkerUtils): Promise<Figure[]> {
  const jobs = ctx.quick ? 500 : 10_000;
  const rounds = ctx.quick ? 1 : 8;
  const bare: number[] = [];
  const withJobterm: number[] = [];
  // One untimed round of each first: the first runner in a process pays for
  // module loading, JIT and prepared statements.
  await throughputRound(url, utils, 'warmup_bare', 200, false);
  await throughputRound(url, utils, 'warmup_jobterm', 200, true);
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? (['bare', 'jobterm'] as const) : (['jobterm', 'bare'] as const);
    for (const kind of order) {
      const rate = await throughputRound(url, utils, `noop_${kind}_${round}`, jobs, kind === 'jobterm');
      (kind === 'bare' ? bare : withJobterm).push(rate);
    }
    ctx.log(
      `round ${round + 1}/${rounds}: bare ${bare.at(-1)!.toFixed(0)} jobs/s, jobterm ${withJobterm.at(-1)!.toFixed(0)} jobs/s`,
    );
  }
  return [
    {
      name: `throughput, ${jobs} no-op jobs, makeJobtermPreset()`,
      unit: 'jobs/s',
      samples: withJobterm,
      reference: { name: 'the same task, bare', samples: bare },
      lowerIsBetter: false,
      goal: '>= 0.97 of bare',
      notes: `run({ concurrency: ${CONCURRENCY} }), no local queue, no batching; each sample one round with its own task identifier, jobs inserted first, timed from run() until the last job's row was gone; bare and wrapped rounds alternate. The jobterm rounds use a terminator with the PostgreSQL store.`,
    },
  ];
}

async function throughputRound(
  url: string,
  utils: WorkerUtils,
  task: string,
  count: number,
  jobterm: boolean,
): Promise<number> {
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
  const pgPool = makePool(url, CONCURRENCY + 2);
  const start = performance.now();
  const runner = await run({
    pgPool,
    concurrency: CONCURRENCY,
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
