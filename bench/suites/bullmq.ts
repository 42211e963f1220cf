/**
 * BullMQ and the Redis store, each figure beside its reference in the same run:
 * - kill delivery through Redis (terminate() in this process -> the token
 *   fires in another) beside a raw PUBLISH -> bare SUBSCRIBE client in that
 *   same process, rounds alternating;
 * - BullMQ's own worker.cancelJob(), which reaches only a Worker in the same
 *   process, beside jobterm's cross-process delivery, for scale;
 * - throughput of no-op jobs through a real BullMQ Worker, jt.processor()
 *   beside the same processor bare, at concurrency 1 and 50, rounds alternating.
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
    for (const concurrency of [1, 50]) throughput.push(await noOpThroughput(ctx, ctx.redisUrl, prefix, concurrency));
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

async function noOpThroughput(ctx: BenchContext, url: string, prefix: string, concurrency: number): Promise<Figure> {
  // Many short alternating rounds: on a shared machine the load moves both sides alike.
  const jobs = ctx.quick ? 200 : 2_000;
  const rounds = ctx.quick ? 1 : 6;
  const connection = connectionFrom(url);
  const bare: number[] = [];
  const wrapped: number[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const withJobterm of [false, true]) {
      const name = `tp-${prefix}-${concurrency}-${round}-${withJobterm ? 'jt' : 'bare'}`;
      const queue = new Queue(name, { connection, prefix: `${prefix}-bull` });
      await queue.addBulk(
        Array.from({ length: jobs }, (_, i) => ({ name: 'noop', data: { i }, opts: { removeOnComplete: true } })),
      );
      const store = withJobterm
        ? redisStore({ connection: url, prefix: `${prefix}-tp`, logger: silentLogger })
        : undefined;
      const terminator = store === undefined ? undefined : createTerminator({ store, logger: silentLogger });
      await terminator?.whenReady();
      const jt = terminator === undefined ? undefined : bullmqJobterm({ terminator });
      const noop = async () => 'ok';
      let done = 0;
      let finish: () => void = () => {};
      const all = new Promise<void>((resolve) => {
        finish = resolve;
      });
      const start = performance.now();
      const worker = new Worker(name, jt === undefined ? noop : jt.processor(noop), {
        connection,
        prefix: `${prefix}-bull`,
        concurrency,
      });
      if (jt !== undefined) jt.attach(worker);
      worker.on('error', () => {});
      worker.on('completed', () => {
        if (++done === jobs) finish();
      });
      await all;
      const rate = (jobs * 1000) / (performance.now() - start);
      (withJobterm ? wrapped : bare).push(rate);
      await worker.close();
      await jt?.dispose();
      await terminator?.close();
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
    }
    ctx.log(`concurrency ${concurrency}, round ${round + 1}/${rounds}`);
  }
  return {
    name: `throughput, ${jobs} no-op jobs, BullMQ Worker concurrency ${concurrency}, jt.processor()`,
    unit: 'jobs/s',
    samples: wrapped,
    reference: { name: 'the same processor, bare', samples: bare },
    lowerIsBetter: false,
    goal: '>= 0.97 of bare',
    notes: 'removeOnComplete; the clock starts when the Worker is made, with every job already queued.',
  };
}
