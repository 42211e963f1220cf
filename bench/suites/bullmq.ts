/**
 * BullMQ and the Redis store, each figure beside its reference in the same run:
 * - kill delivery through Redis (terminate() in this process -> the token
 *   fires in another) beside a raw PUBLISH -> bare SUBSCRIBE client in that
 *   same process, rounds alternating;
 * - BullMQ's own worker.cancelJob(), which reaches only a Worker in the same
 *   process, beside jobterm's cross-process delivery, for scale;
 * - throughput of no-op jobs through a real BullMQ Worker, jt.processor()
 *   beside the same processor bare, at concurrency 1 and 50, the jobterm side
 *   with the Redis store as users run it, rounds alternating.
 * Skipped, with a line, when no Redis is at hand.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { bullmqJobterm } from '../../src/adapters/bullmq/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { redisStore } from '../../src/stores/redis/index.js';
import { createTerminator } from '../../src/terminator/terminator.js';
import { connectionFrom } from '../../test/fixtures/bullmq/connection.js';
import { alternateRounds } from '../lib/alternate.js';
import { since } from '../lib/stats.js';
import type { BenchContext, BenchSuite, Figure } from '../lib/types.js';
import { connectWorker } from '../lib/worker-messages.js';

const workerScript = fileURLToPath(new URL('../workers/bullmq-kill-worker.ts', import.meta.url));
const now = () => performance.timeOrigin + performance.now();

export const bullmqSuite: BenchSuite = {
  name: 'bullmq',
  async run(ctx) {
    if (ctx.redisUrl === undefined) {
      ctx.log('skipped: no Redis (set REDIS_URL, or install redis-server)');
      return [];
    }
    const prefix = `bench-${randomBytes(3).toString('hex')}`;
    const delivery = await killDelivery(ctx, ctx.redisUrl, prefix);
    const cancel = await bullmqCancelJob(ctx, ctx.redisUrl, prefix);
    const throughput = [];
    for (const mode of THROUGHPUT_MODES) throughput.push(await noOpThroughput(ctx, ctx.redisUrl, prefix, mode));
    return [
      delivery,
      {
        name: 'BullMQ worker.cancelJob() -> the processor’s signal fired, same process only',
        unit: 'ms',
        samples: cancel,
        reference: { name: delivery.name, samples: delivery.samples },
        lowerIsBetter: true,
        notes: 'For scale: BullMQ 6.7’s own cancel reaches only a Worker in the calling process.',
      },
      ...throughput,
    ] satisfies Figure[];
  },
};

async function killDelivery(ctx: BenchContext, url: string, prefix: string): Promise<Figure> {
  const n = ctx.quick ? 50 : 1_000;
  const warmup = ctx.quick ? 5 : 50;
  const store = redisStore({ connection: url, prefix, receiveRequests: false, logger: silentLogger });
  const requester = createTerminator({ store, logger: silentLogger, workerId: 'bench-requester' });
  const raw = new Redis(url);
  const child = spawn(process.execPath, ['--import', 'tsx', workerScript], {
    env: { ...process.env, REDIS_URL: url, STORE_PREFIX: prefix },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const next = connectWorker(child, 'bullmq kill worker');
  const samples: number[] = [];
  const reference: number[] = [];
  try {
    await next('ready', '', 30_000);
    for (let round = 0; round < warmup + n; round++) {
      const measured = round >= warmup;
      const r = `r${round}`;
      const rawStart = now();
      await raw.publish(`${prefix}:bench_raw`, r);
      const rawSeen = await next('raw', r);
      if (measured) reference.push(rawSeen.t! - rawStart);

      const i = String(round);
      child.stdin!.write(`run ${i}\n`);
      await next('started', i);
      const start = now();
      await requester.terminate({ queue: 'bench', id: i });
      const fired = await next('fired', i);
      if (measured) samples.push(fired.t! - start);
      await next('settled', i);
      if (measured && (round - warmup + 1) % 250 === 0) ctx.log(`${round - warmup + 1}/${n}`);
    }
  } finally {
    child.stdin!.write('exit\n');
    await new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => resolve(clearTimeout(timer)));
    });
    await raw.quit();
    await requester.close();
  }
  return {
    name: 'kill delivery through Redis: terminate() -> token fired in another process',
    unit: 'ms',
    samples,
    reference: { name: 'raw PUBLISH -> bare SUBSCRIBE client in another process', samples: reference },
    lowerIsBetter: true,
    goal: 'p50 within 2x of raw; p99 < 5 ms',
    notes:
      'Sequential, one request at a time. Delivery adds the Lua script that stores the request, and the worker reading ' +
      'the request the message names (the message is trusted for nothing).',
  };
}

async function bullmqCancelJob(ctx: BenchContext, url: string, prefix: string): Promise<number[]> {
  const n = ctx.quick ? 20 : 200;
  const connection = connectionFrom(url);
  const queue = new Queue(`cancel-${prefix}`, { connection, prefix: `${prefix}-bull` });
  let fired: ((t: number) => void) | undefined;
  let started: ((id: string) => void) | undefined;
  const worker = new Worker(
    queue.name,
    (job, _token, signal) =>
      new Promise((_resolve, reject) => {
        signal?.addEventListener(
          'abort',
          () => {
            fired?.(now());
            reject(new Error('cancelled'));
          },
          { once: true },
        );
        started?.(job.id!);
      }),
    { connection, prefix: `${prefix}-bull` },
  );
  worker.on('error', () => {});
  const samples: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const running = new Promise<string>((resolve) => {
        started = resolve;
      });
      await queue.add('j', {}, { attempts: 1 });
      const id = await running;
      const seen = new Promise<number>((resolve) => {
        fired = resolve;
      });
      const start = now();
      worker.cancelJob(id, 'bench');
      samples.push((await seen) - start);
    }
  } finally {
    await worker.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
  return samples;
}

/**
 * One job at a time, where BullMQ's own cost per job (a Lua script that
 * completes one and fetches the next, a few hundred µs here) is smallest
 * against jobterm's fixed cost, and fifty at a time. Jobs per round are sized
 * so a round takes one to two seconds on a loaded 2-core machine.
 */
const THROUGHPUT_MODES = [
  { concurrency: 1, jobs: 10_000 },
  { concurrency: 50, jobs: 10_000 },
] as const;

async function noOpThroughput(
  ctx: BenchContext,
  url: string,
  prefix: string,
  mode: (typeof THROUGHPUT_MODES)[number],
): Promise<Figure> {
  const { concurrency } = mode;
  const jobs = ctx.quick ? 300 : mode.jobs;
  const warmupJobs = ctx.quick ? 100 : Math.min(jobs, 1_000);
  const rounds = ctx.quick ? 2 : 10;
  const connection = connectionFrom(url);
  const began = performance.now();
  const rates = await alternateRounds({
    rounds,
    run: async (side, round) => {
      const count = round < 0 ? warmupJobs : jobs;
      const name = `tp-${prefix}-${concurrency}-${round < 0 ? 'warmup' : round}-${side}`;
      const queue = new Queue(name, { connection, prefix: `${prefix}-bull` });
      await queue.addBulk(
        Array.from({ length: count }, (_, i) => ({ name: 'noop', data: { i }, opts: { removeOnComplete: true } })),
      );
      // As users run it: the Redis store, subscribed and polling for kill
      // requests, ready before the clock starts.
      const terminator =
        side === 'jobterm'
          ? createTerminator({
              store: redisStore({ connection: url, prefix: `${prefix}-tp`, logger: silentLogger }),
              logger: silentLogger,
            })
          : undefined;
      await terminator?.whenReady();
      const jt = terminator === undefined ? undefined : bullmqJobterm({ terminator });
      const noop = async () => 'ok';
      let done = 0;
      let finish: () => void = () => {};
      const all = new Promise<void>((resolve) => {
        finish = resolve;
      });
      // Made, attached and connected before the clock starts, so a round
      // times only the jobs: attach() makes jobterm's adapter (its own Redis
      // connection) and joins the fleet, a cost a user's process pays once.
      const worker = new Worker(name, jt === undefined ? noop : jt.processor(noop), {
        connection,
        prefix: `${prefix}-bull`,
        concurrency,
        autorun: false,
      });
      if (jt !== undefined) jt.attach(worker);
      worker.on('error', () => {});
      worker.on('completed', () => {
        if (++done === count) finish();
      });
      await worker.waitUntilReady();
      const start = performance.now();
      const running = worker.run().catch(() => undefined);
      await all;
      const rate = (count * 1000) / (performance.now() - start);
      await worker.close();
      await running;
      await jt?.dispose();
      await terminator?.close();
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      return rate;
    },
    onRound: (round, bare, withJobterm) =>
      ctx.log(
        `concurrency ${concurrency}, round ${round + 1}/${rounds}: bare ${bare.toFixed(0)} jobs/s, jobterm ${withJobterm.toFixed(0)} jobs/s`,
      ),
  });
  ctx.log(`concurrency ${concurrency}: ${rounds} rounds of each side in ${(since(began) / 1000).toFixed(0)} s`);
  return {
    name: `throughput, ${jobs} no-op jobs, BullMQ Worker concurrency ${concurrency}, jt.processor() + Redis store`,
    unit: 'jobs/s',
    samples: rates.jobterm,
    reference: { name: 'the same processor, bare', samples: rates.bare },
    lowerIsBetter: false,
    goal: '>= 0.97 of bare',
    notes:
      `One BullMQ Worker in this process, concurrency ${concurrency}, removeOnComplete. jobterm side: jt.processor() ` +
      'and jt.attach(worker) on a terminator with redisStore({ connection }) (SUBSCRIBE + 1 s poll, ready before the ' +
      `clock starts). ${rounds} rounds of each side, alternating (bare first on even rounds), after one untimed ` +
      `warm-up round of each; each round a fresh queue with ${jobs} jobs added first and the Worker made with ` +
      'autorun: false and connected, timed from worker.run() until the last completed event.',
  };
}
