/**
 * pg-boss 12 with and without jobterm, measured side by side in one run:
 *
 * - throughput: no-op jobs through `boss.work()` at batchSize 1, 20 and 100,
 *   a bare handler against the same handler wrapped by `jt.handler()` (with
 *   the PostgreSQL store, as users run it), in alternating rounds on the same
 *   database, each round on a fresh queue of the same size;
 * - cancel-to-signal: from the request in this process to the running
 *   handler's `job.signal` firing in a worker process. pg-boss's own
 *   `cancel()` reaches a handler only through a heartbeat that finds the
 *   claim gone, so it runs with heartbeats at pg-boss's fastest documented
 *   setting (`heartbeatSeconds: 10`, its minimum, refreshed every 5 s);
 *   jobterm's `terminate()` goes through the PostgreSQL store. Rounds
 *   alternate.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { type Job, PgBoss } from 'pg-boss';
import { pgBossAdapter, pgBossJobterm } from '../../src/adapters/pg-boss/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { postgresStore } from '../../src/stores/postgres/index.js';
import { createTerminator } from '../../src/terminator/terminator.js';
import { alternateRounds } from '../lib/alternate.js';
import { since } from '../lib/stats.js';
import type { BenchContext, BenchSuite, Figure } from '../lib/types.js';
import { connectWorker } from '../lib/worker-messages.js';

const workerScript = fileURLToPath(new URL('../workers/pg-boss-worker.ts', import.meta.url));
const now = () => performance.timeOrigin + performance.now();

export const pgBossSuite: BenchSuite = {
  name: 'pg-boss',
  async run(ctx) {
    const { url } = await ctx.createDatabase('jobterm_bench_pgboss');
    return [...(await throughput(ctx, url)), ...(await cancelToSignal(ctx, url))];
  },
};

const LOCAL_CONCURRENCY = 2;

/**
 * Three shapes: pg-boss's default one job per batch, and batches of 20 and
 * 100, where pg-boss's own cost per job is a small share of a fetch and a
 * complete, so jobterm's fixed cost per job (a token, its registry entry,
 * forwarding pg-boss's signal) shows most. Jobs per round are sized so a
 * round takes one to two seconds on a loaded 2-core machine: one job per
 * batch costs pg-boss about 1 ms here, a batch of 20 or 100 far less per job.
 */
const MODES = [
  { batchSize: 1, jobs: 2_000 },
  { batchSize: 20, jobs: 10_000 },
  { batchSize: 100, jobs: 10_000 },
] as const;

async function throughput(ctx: BenchContext, url: string): Promise<Figure[]> {
  const rounds = ctx.quick ? 2 : 10;
  const boss = new PgBoss({ connectionString: url, schedule: false, supervise: false, max: 8 });
  boss.on('error', (error) => ctx.log(`pg-boss error: ${String(error)}`));
  await boss.start();
  // As users run it: the PostgreSQL store, LISTENing and polling for kill
  // requests. whenReady() waits for its migration and LISTEN, so no round
  // pays for them.
  const store = postgresStore({ connectionString: url, logger: silentLogger });
  const terminator = createTerminator({ store, logger: silentLogger });
  await terminator.whenReady();
  const jt = pgBossJobterm({ boss, terminator, stopBoss: false });
  const noop = async (_jobs: Job<object>[]) => undefined;
  const wrapped = jt.handler(noop);
  const admin = new pg.Client({ connectionString: url });
  admin.on('error', () => {});
  await admin.connect();
  const figures: Figure[] = [];
  try {
    for (const mode of MODES) {
      const { batchSize } = mode;
      const jobs = ctx.quick ? 300 : mode.jobs;
      const warmupJobs = ctx.quick ? 100 : Math.min(jobs, 1_000);
      const began = performance.now();
      const rates = await alternateRounds({
        rounds,
        run: (side, round) =>
          throughputRound(admin, boss, {
            name: `b${batchSize}_${side}_${round < 0 ? 'warmup' : round}`,
            handler: side === 'bare' ? noop : wrapped,
            count: round < 0 ? warmupJobs : jobs,
            batchSize,
          }),
        onRound: (round, bare, withJobterm) =>
          ctx.log(
            `batchSize ${batchSize}, round ${round + 1}/${rounds}: bare ${bare.toFixed(0)} jobs/s, jobterm ${withJobterm.toFixed(0)} jobs/s`,
          ),
      });
      ctx.log(`batchSize ${batchSize}: ${rounds} rounds of each side in ${(since(began) / 1000).toFixed(0)} s`);
      figures.push({
        name: `throughput, ${jobs} no-op jobs, batchSize ${batchSize}, jt.handler() + PostgreSQL store`,
        unit: 'jobs/s',
        samples: rates.jobterm,
        reference: { name: 'the same handler, bare', samples: rates.bare },
        lowerIsBetter: false,
        goal: '>= 0.97 of bare',
        notes:
          `${LOCAL_CONCURRENCY} boss.work({ batchSize: ${batchSize} }) workers in one process, each woken by notifyWorker() ` +
          'from its handler so it fetches again at once. jobterm side: jt.handler() on a terminator with ' +
          'postgresStore({ connectionString }) (LISTEN + 1 s poll, migrated before the first round). ' +
          `${rounds} rounds of each side, alternating (bare first on even rounds), after one untimed warm-up round of each; ` +
          `each round a fresh queue of ${jobs} jobs inserted first, timed from work() until offWork() saw the last ` +
          'completion, then the queue deleted and the job table vacuumed.',
      });
    }
  } finally {
    jt.dispose();
    await boss.stop({ graceful: false });
    await terminator.close();
    await admin.end();
  }
  return figures;
}

async function throughputRound(
  admin: pg.Client,
  boss: PgBoss,
  round: { name: string; handler: (jobs: Job<object>[]) => Promise<unknown>; count: number; batchSize: number },
): Promise<number> {
  const { name, handler, count, batchSize } = round;
  // Every queue shares pg-boss 12.38's table pgboss.job_common (queues are
  // not partitioned by default) and each round deletes its queue: vacuum
  // first, so later rounds do not scan the earlier rounds' dead rows.
  await admin.query('vacuum analyze pgboss.job_common');
  await boss.createQueue(name);
  for (let sent = 0; sent < count; sent += 1_000) {
    await boss.insert(
      name,
      Array.from({ length: Math.min(1_000, count - sent) }, () => ({ data: {} })),
    );
  }
  let handled = 0;
  let allHandled!: () => void;
  const done = new Promise<void>((resolve) => {
    allHandled = resolve;
  });
  // pg-boss's loop sleeps out its poll after each fetch; a worker notified
  // during the handler fetches again at once (its public notifyWorker()), as
  // burst mode would. Same for bare and wrapped.
  const ids: string[] = [];
  const options = { batchSize, pollingIntervalSeconds: 0.5 };
  const start = performance.now();
  for (let worker = 0; worker < LOCAL_CONCURRENCY; worker++) {
    const index = worker;
    ids.push(
      await boss.work(name, options, async (jobs: Job<object>[]) => {
        const result = await handler(jobs);
        handled += jobs.length;
        if (handled >= count) allHandled();
        else if (ids[index] !== undefined) boss.notifyWorker(ids[index]!);
        return result;
      }),
    );
    boss.notifyWorker(ids[index]!);
  }
  await done;
  // Waits for the last batches' completion writes.
  await boss.offWork(name, { wait: true });
  const rate = count / ((performance.now() - start) / 1000);
  await boss.deleteQueue(name);
  return rate;
}

async function cancelToSignal(ctx: BenchContext, url: string): Promise<Figure[]> {
  const n = ctx.quick ? 3 : 20;
  const boss = new PgBoss({ connectionString: url, schedule: false, supervise: false });
  boss.on('error', () => {});
  await boss.start();
  await boss.createQueue('bare', { heartbeatSeconds: 10 });
  await boss.createQueue('wrapped');
  const store = postgresStore({ connectionString: url, receiveRequests: false, logger: silentLogger });
  await store.migrate();
  const adapter = pgBossAdapter({ boss });
  const requester = createTerminator({ store, adapters: [adapter], logger: silentLogger, workerId: 'bench-requester' });
  const child = spawn(process.execPath, ['--import', 'tsx', workerScript], {
    env: { ...process.env, DATABASE_URL: url },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const next = connectWorker(child, 'pg-boss bench worker');
  const viaCancel: number[] = [];
  const viaTerminate: number[] = [];
  try {
    await next('ready', '', 30_000);
    for (let round = 0; round < n; round++) {
      const bareId = (await boss.send('bare', {}))!;
      await next('started', bareId);
      const cancelAt = now();
      await boss.cancel('bare', bareId);
      viaCancel.push((await next('fired', bareId, 15_000)).t! - cancelAt);

      const id = (await boss.send('wrapped', {}))!;
      await next('started', id);
      const terminateAt = now();
      await requester.terminate({ queue: 'pg-boss', name: 'wrapped', id });
      viaTerminate.push((await next('fired', id)).t! - terminateAt);
      await next('settled', id);
      ctx.log(
        `round ${round + 1}/${n}: cancel() ${viaCancel.at(-1)!.toFixed(0)} ms, terminate() ${viaTerminate.at(-1)!.toFixed(1)} ms`,
      );
    }
  } finally {
    child.stdin!.end();
    await new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => resolve(clearTimeout(timer)));
    });
    await requester.close();
    await boss.stop({ graceful: false });
  }
  return [
    {
      name: 'cancel request -> running handler’s job.signal fired, jobterm terminate()',
      unit: 'ms',
      samples: viaTerminate,
      reference: {
        name: 'pg-boss cancel() with heartbeatSeconds 10 (its minimum; refresh every 5 s)',
        samples: viaCancel,
      },
      lowerIsBetter: true,
      notes:
        'Worker in another OS process; one job at a time, rounds alternating. pg-boss can refresh more often ' +
        '(heartbeatRefreshSeconds), at one UPDATE per running job per refresh; its signal fires on the first refresh after the cancel.',
    },
  ];
}
