/**
 * pg-boss 12 with and without jobterm, measured side by side in one run:
 *
 * - throughput: no-op jobs through `boss.work()`, a bare handler against the
 *   same handler wrapped by `jt.handler()`, in alternating rounds on the same
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
import { type Job, PgBoss } from 'pg-boss';
import { pgBossAdapter, pgBossJobterm } from '../../src/adapters/pg-boss/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { postgresStore } from '../../src/stores/postgres/index.js';
import { createTerminator } from '../../src/terminator/terminator.js';
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
 * Two shapes: pg-boss's default one job per batch (the goal figure), and
 * batches of 20, where pg-boss's own cost per job is a small share of a fetch
 * and a complete, so jobterm's fixed cost per job (a token, its registry
 * entry, forwarding pg-boss's signal) shows most.
 */
async function throughput(ctx: BenchContext, url: string): Promise<Figure[]> {
  const jobs = ctx.quick ? 500 : 10_000;
  const rounds = ctx.quick ? 1 : 3;
  const boss = new PgBoss({ connectionString: url, schedule: false, supervise: false, max: 8 });
  boss.on('error', (error) => ctx.log(`pg-boss error: ${String(error)}`));
  await boss.start();
  const terminator = createTerminator({ logger: silentLogger });
  const jt = pgBossJobterm({ boss, terminator, stopBoss: false });
  const noop = async (_jobs: Job<object>[]) => undefined;
  const wrapped = jt.handler(noop);
  const figures: Figure[] = [];
  try {
    for (const batchSize of [1, 20]) {
      const bare: number[] = [];
      const withJobterm: number[] = [];
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? (['bare', 'jobterm'] as const) : (['jobterm', 'bare'] as const);
        for (const kind of order) {
          const name = `b${batchSize}_${kind}_${round}`;
          const rate = await throughputRound(boss, name, kind === 'bare' ? noop : wrapped, jobs, batchSize);
          (kind === 'bare' ? bare : withJobterm).push(rate);
        }
        ctx.log(
          `batchSize ${batchSize}, round ${round + 1}/${rounds}: bare ${bare.at(-1)!.toFixed(0)} jobs/s, jobterm ${withJobterm.at(-1)!.toFixed(0)} jobs/s`,
        );
      }
      figures.push({
        name: `throughput, ${jobs} no-op jobs, batchSize ${batchSize}, jt.handler()`,
        unit: 'jobs/s',
        samples: withJobterm,
        reference: { name: 'the same handler, bare', samples: bare },
        lowerIsBetter: false,
        ...(batchSize === 1 ? { goal: '>= 0.97 of bare' } : {}),
        notes: `${LOCAL_CONCURRENCY} boss.work({ batchSize: ${batchSize} }) workers, each woken by notifyWorker() from its handler so it fetches again at once; each sample one round on a fresh queue, jobs inserted first, timed from work() until offWork() saw the last completion; bare and wrapped rounds alternate.`,
      });
    }
  } finally {
    jt.dispose();
    await boss.stop({ graceful: false });
    await terminator.close();
  }
  return figures;
}

async function throughputRound(
  boss: PgBoss,
  name: string,
  handler: (jobs: Job<object>[]) => Promise<unknown>,
  count: number,
  batchSize: number,
): Promise<number> {
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
  return count / ((performance.now() - start) / 1000);
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
