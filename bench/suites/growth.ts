/**
 * Costs as work grows, each beside its reference in the same run:
 *
 * - heap bytes per running job, with 10,000 jobs registered at once
 *   (`terminator.run()` of jobs that wait), against the same 10,000 waiting
 *   promises without jobterm;
 * - `running()` with 10,000 jobs registered, per call;
 * - `terminator.run()` per no-op job, against calling the job bare;
 * - `terminate()` of 1,000 queued pg-boss jobs at once from one requester
 *   (adapter + PostgreSQL store), per call, against pg-boss's own `cancel()`
 *   of 1,000 other queued jobs at once; the requester's pools stay within
 *   their documented bound (the store's `max` and the adapter's pool);
 * - `terminator.shutdown()` with 1,000 running pg-boss jobs on one worker
 *   (batchSize 1,000) -> every job back in the queue: time, and the statements
 *   pg-boss's Db ran (the put-backs are one statement per batch);
 * - the same with 1,000 running graphile-worker jobs on one runner under the
 *   jobterm plugin (concurrency 1,000): time, and the statements of graphile's
 *   pool (jobterm's put-backs are one statement per pool and turn).
 */
import { randomUUID } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { PgBoss } from 'pg-boss';
import { pgBossAdapter } from '../../src/adapters/pg-boss/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { postgresStore } from '../../src/stores/postgres/index.js';
import { createTerminator } from '../../src/terminator/terminator.js';
import { graphileShutdownRoundTrips, pgBossShutdownRoundTrips } from '../../test/fixtures/round-trips.js';
import type { BenchContext, BenchSuite, Figure } from '../lib/types.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

export const growthSuite: BenchSuite = {
  name: 'growth',
  async run(ctx) {
    return [
      ...(await memoryAndRunning(ctx)),
      await runCost(ctx),
      ...(await terminateMany(ctx)),
      ...(await shutdownMany(ctx)),
      ...(await graphileShutdownMany(ctx)),
    ];
  },
};

function heap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

async function memoryAndRunning(ctx: BenchContext): Promise<Figure[]> {
  const jobs = ctx.quick ? 1_000 : 10_000;
  const rounds = ctx.quick ? 1 : 5;
  const perJob: number[] = [];
  const perBare: number[] = [];
  const runningCall: number[] = [];
  for (let round = 0; round < rounds; round++) {
    // Reference: the same waiting promises, no jobterm.
    {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const before = heap();
      const waiting = Array.from({ length: jobs }, () => (async () => gate)());
      perBare.push((heap() - before) / jobs);
      release();
      await Promise.all(waiting);
    }
    const terminator = createTerminator({ logger: silentLogger });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const before = heap();
    const runs = Array.from({ length: jobs }, (_, i) => terminator.run({ queue: 'bench', id: String(i) }, () => gate));
    // Registration is synchronous once the terminator is ready (no store).
    await new Promise((resolve) => setImmediate(resolve));
    perJob.push((heap() - before) / jobs);
    const calls = 20;
    const start = performance.now();
    for (let i = 0; i < calls; i++) {
      if (terminator.running().length !== jobs) throw new Error('not every job is registered');
    }
    runningCall.push((performance.now() - start) / calls);
    release();
    await Promise.all(runs);
    await terminator.close();
  }
  ctx.log(`heap per running job ${median(perJob).toFixed(0)} B (bare ${median(perBare).toFixed(0)} B)`);
  return [
    {
      name: `heap per running job, ${jobs.toLocaleString('en')} jobs registered at once`,
      unit: 'bytes',
      samples: perJob,
      reference: { name: 'the same waiting promises without jobterm', samples: perBare },
      lowerIsBetter: true,
      notes: 'heapUsed after two full GCs, before and after the jobs were registered; no store; each sample one round.',
    },
    {
      name: `running() with ${jobs.toLocaleString('en')} jobs registered, per call`,
      unit: 'ms',
      samples: runningCall,
      lowerIsBetter: true,
      notes: 'running() builds one info object per job: linear in the jobs registered.',
    },
  ];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function runCost(ctx: BenchContext): Promise<Figure> {
  const jobs = ctx.quick ? 20_000 : 200_000;
  const rounds = ctx.quick ? 1 : 5;
  const terminator = createTerminator({ logger: silentLogger });
  const job = async () => 1;
  const withJobterm: number[] = [];
  const bare: number[] = [];
  // Warm both paths first, so the JIT has settled before the first sample.
  for (let i = 0; i < 20_000; i++) {
    await terminator.run({ queue: 'bench', id: 'warm' }, job);
    await job();
  }
  for (let round = 0; round < rounds; round++) {
    let start = performance.now();
    for (let i = 0; i < jobs; i++) await job();
    bare.push(((performance.now() - start) * 1000) / jobs);
    start = performance.now();
    for (let i = 0; i < jobs; i++) await terminator.run({ queue: 'bench', id: 'j' }, job);
    withJobterm.push(((performance.now() - start) * 1000) / jobs);
  }
  await terminator.close();
  return {
    name: 'terminator.run() of a no-op async job, per job',
    unit: 'µs',
    samples: withJobterm,
    reference: { name: 'the same job awaited bare', samples: bare },
    lowerIsBetter: true,
    notes: `${jobs.toLocaleString('en')} jobs one after another per sample; no store, no adapter: jobterm's core alone (token, context, registry, outcome).`,
  };
}

async function terminateMany(ctx: BenchContext): Promise<Figure[]> {
  const count = ctx.quick ? 100 : 1_000;
  const { url } = await ctx.createDatabase('jobterm_bench_growth');
  const boss = new PgBoss({ connectionString: url, schedule: false, supervise: false, max: 10 });
  boss.on('error', (error) => ctx.log(`pg-boss error: ${String(error)}`));
  await boss.start();
  const store = postgresStore({ connectionString: url, receiveRequests: false, logger: silentLogger });
  await store.migrate();
  const adapter = pgBossAdapter({ boss });
  const requester = createTerminator({ store, adapters: [adapter], logger: silentLogger, workerId: 'bench-requester' });
  try {
    await boss.createQueue('many');
    // Ids chosen here (pg-boss takes an `id` per inserted job), so no read-back is needed.
    const insert = async () => {
      const ids = Array.from({ length: count }, () => randomUUID());
      for (let sent = 0; sent < count; sent += 500) {
        await boss.insert(
          'many',
          ids.slice(sent, sent + 500).map((id) => ({ id, data: {} })),
        );
      }
      return ids;
    };
    const viaCancel: number[] = [];
    const viaTerminate: number[] = [];
    const cancelIds = await insert();
    await Promise.all(
      cancelIds.map(async (id) => {
        const start = performance.now();
        await boss.cancel('many', id);
        viaCancel.push(performance.now() - start);
      }),
    );
    const terminateIds = await insert();
    const statuses = new Map<string, number>();
    await Promise.all(
      terminateIds.map(async (id) => {
        const start = performance.now();
        const { status } = await requester.terminate({ queue: 'pg-boss', name: 'many', id }, { reason: 'bench' });
        viaTerminate.push(performance.now() - start);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }),
    );
    ctx.log(`terminate() x ${count} at once: ${[...statuses].map(([s, n]) => `${n} ${s}`).join(', ')}`);
    return [
      {
        name: `terminate() of ${count.toLocaleString('en')} queued pg-boss jobs at once from one requester, per call`,
        unit: 'ms',
        samples: viaTerminate,
        reference: {
          name: `pg-boss cancel() of ${count.toLocaleString('en')} queued jobs at once`,
          samples: viaCancel,
        },
        lowerIsBetter: true,
        notes:
          'All calls started together; each terminate() reads the job state, stores the request (INSERT+NOTIFY) and cancels through pg-boss. Calls queue for the pools (the store’s own pool of 4 connections, POSTGRES_STORE_DEFAULTS.poolSize; pg-boss’s max 10) instead of opening more connections.',
      },
    ];
  } finally {
    await requester.close();
    await boss.stop({ graceful: false });
  }
}

async function shutdownMany(ctx: BenchContext): Promise<Figure[]> {
  const jobs = ctx.quick ? 100 : 1_000;
  const rounds = ctx.quick ? 1 : 5;
  const { url } = await ctx.createDatabase('jobterm_bench_shutdown');
  const times: number[] = [];
  const statements: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const result = await pgBossShutdownRoundTrips(url, { jobs, queue: `shutdown_${round}` });
    if (result.backInQueue !== jobs) throw new Error(`${result.backInQueue} of ${jobs} jobs back in the queue`);
    times.push(result.seconds * 1000);
    statements.push(result.statements);
    ctx.log(
      `shutdown() of ${jobs} running jobs: ${result.seconds.toFixed(3)} s, ${result.statements} statements (${result.putBacks} put-back)`,
    );
  }
  const count = jobs.toLocaleString('en');
  return [
    {
      name: `shutdown() with ${count} running pg-boss jobs on one worker -> all back in the queue`,
      unit: 'ms',
      samples: times,
      lowerIsBetter: true,
      notes: `batchSize ${count}, every job waits for its signal; from shutdown() until it resolved (tokens fired, jobs settled and put back, offWork, boss.stop()). Each sample one round.`,
    },
    {
      name: `statements of pg-boss's Db during that shutdown, ${count} jobs`,
      unit: 'statements',
      samples: statements,
      lowerIsBetter: true,
      goal: 'one put-back statement per batch, not per job',
      notes:
        "Every executeSql of pg-boss's Db from shutdown() until it resolved: the put-back UPDATE and pg-boss's own stop().",
    },
  ];
}

async function graphileShutdownMany(ctx: BenchContext): Promise<Figure[]> {
  const jobs = ctx.quick ? 100 : 1_000;
  const rounds = ctx.quick ? 1 : 5;
  const { url } = await ctx.createDatabase('jobterm_bench_gw_shutdown');
  const times: number[] = [];
  const statements: number[] = [];
  const putBacks: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const result = await graphileShutdownRoundTrips(url, { jobs, task: `shutdown_${round}` });
    if (result.backInQueue !== jobs)
      throw new Error(`${result.backInQueue} of ${jobs} graphile jobs back in the queue`);
    times.push(result.seconds * 1000);
    statements.push(result.statements);
    putBacks.push(result.putBacks);
    ctx.log(
      `graphile shutdown() of ${jobs} running jobs: ${result.seconds.toFixed(3)} s, ${result.statements} statements (${result.putBacks} put-back), then ${result.after} of graphile's own fail writes in the next 300 ms`,
    );
  }
  const count = jobs.toLocaleString('en');
  return [
    {
      name: `shutdown() with ${count} running graphile-worker jobs on one runner -> all back in the queue`,
      unit: 'ms',
      samples: times,
      lowerIsBetter: true,
      notes: `makeJobtermPreset(), concurrency ${count}, every job waits for its token; from shutdown() until it resolved (pool deactivated, tokens fired, jobs settled and put back, graphile's graceful shutdown over). Each sample one round.`,
    },
    {
      name: `jobterm's put-back statements during that shutdown, ${count} graphile jobs`,
      unit: 'statements',
      samples: putBacks,
      lowerIsBetter: true,
      goal: 'one put-back statement per batch, not per job',
      notes: `Of ${statements.join(', ')} statements of graphile's pool from shutdown() until it resolved. graphile then fires its own fail write per job, unawaited, which finds the row unlocked (one statement per job unless failJobBatchDelay is set).`,
    },
  ];
}
