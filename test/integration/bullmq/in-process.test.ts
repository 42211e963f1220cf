// jobterm/bullmq in one process with a real BullMQ Worker on a real Redis:
// BullMQ's own cancelJob() forwarded into the token, the user's own
// worker.close() bounded by jobterm's escalation, iterate() resuming from a
// cursor in the Redis store, bad input, and nothing left behind.
import { createPostgresBackend, Queue, Worker, withBackend } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bullmqJobterm, bullmqRef, type JobWithToken } from '../../../src/adapters/bullmq/index.js';
import { currentToken } from '../../../src/core/context.js';
import { silentLogger } from '../../../src/core/logger.js';
import { iterate } from '../../../src/iteration/index.js';
import { type RedisStore, redisStore } from '../../../src/stores/redis/index.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';
import { connectionFrom } from '../../fixtures/bullmq/connection.js';
import { haveRedis, redisUrl, uniquePrefix } from '../../support/redis.js';
import { jobFacts, waitForFacts } from './setup.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.runIf(haveRedis())('bullmqJobterm() in one process', () => {
  const bullPrefix = uniquePrefix('bull-in');
  const storePrefix = uniquePrefix('jt-in');
  let connection: ReturnType<typeof connectionFrom>;
  const queues: Queue[] = [];
  let seq = 0;

  beforeAll(() => {
    connection = connectionFrom(redisUrl());
  });
  afterAll(async () => {
    await Promise.all(queues.map((queue) => queue.close()));
  });

  function queue(): Queue {
    const made = new Queue(`in${++seq}`, { connection, prefix: bullPrefix, defaultJobOptions: { attempts: 3 } });
    made.on('error', () => {});
    queues.push(made);
    return made;
  }
  function terminatorOn(store: RedisStore, options: { shutdownTimeout?: number } = {}): Terminator {
    return createTerminator({ store, logger: silentLogger, ...options });
  }
  const newStore = () =>
    redisStore({ connection: redisUrl(), prefix: storePrefix, pollInterval: 200, logger: silentLogger });

  it('declares three parameters, so BullMQ passes its signal; BullMQ’s own cancelJob() ends the job for good', async () => {
    const q = queue();
    const terminator = terminatorOn(newStore());
    const jt = bullmqJobterm({ terminator });
    let seen: { token: boolean; signal: boolean; reason?: string | undefined } | undefined;
    const processor = jt.processor(async (job: JobWithToken, _lock, signal) => {
      seen = { token: job.token === currentToken(), signal: signal === job.token.signal };
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      seen.reason = job.token.reason?.message;
      job.token.throwIfTerminating();
    });
    expect(processor.length).toBe(3);
    const worker = jt.attach(new Worker(q.name, processor, { connection, prefix: bullPrefix }));
    worker.on('error', () => {});
    const job = await q.add('j', {});
    await waitForFacts(q, job.id!, (f) => f.state === 'active');
    await until(() => terminator.running().length === 1);
    expect(worker.cancelJob(job.id!, 'cancelled by the user')).toBe(true);
    const facts = await waitForFacts(q, job.id!, (f) => f.state === 'failed');
    expect(facts).toMatchObject({ attemptsMade: 1, failedReason: 'Terminated: cancelled by the user' });
    expect(seen).toEqual({ token: true, signal: true, reason: 'cancelled by the user' });
    await worker.close();
    await jt.dispose();
    await terminator.close();
    expect(worker.listenerCount('closing')).toBe(0);
    expect(terminator.running()).toEqual([]);
  });

  it('declares two parameters as the user’s does: BullMQ makes no signal for it, as bare; terminate() still reaches the token', async () => {
    const q = queue();
    const terminator = terminatorOn(newStore());
    const jt = bullmqJobterm({ terminator });
    const userFn = async (job: JobWithToken, _lock: string | undefined) => {
      await new Promise((resolve) => job.token.onTerminate(resolve));
      job.token.throwIfTerminating();
    };
    const processor = jt.processor(userFn);
    expect(processor.length).toBe(2);
    const worker = jt.attach(new Worker(q.name, processor, { connection, prefix: bullPrefix }));
    worker.on('error', () => {});
    // The same processor shape bare, for what BullMQ does without jobterm.
    const bareQueue = queue();
    const bare = new Worker(bareQueue.name, async (_job, _lock) => new Promise(() => {}), {
      connection,
      prefix: bullPrefix,
    });
    bare.on('error', () => {});
    const job = await q.add('j', {});
    const bareJob = await bareQueue.add('j', {});
    await waitForFacts(q, job.id!, (f) => f.state === 'active');
    await waitForFacts(bareQueue, bareJob.id!, (f) => f.state === 'active');
    await until(() => terminator.running().length === 1);
    // BullMQ tracks no AbortController for either: cancelJob() reaches neither, and the job runs on.
    expect(bare.cancelJob(bareJob.id!)).toBe(false);
    expect(worker.cancelJob(job.id!)).toBe(false);
    expect(terminator.running()).toHaveLength(1);
    const result = await terminator.terminate(
      { queue: 'bullmq', name: q.name, id: job.id! },
      { reason: 'by jobterm', wait: true, timeout: 10_000 },
    );
    expect(result.status).toBe('terminated');
    expect(await jobFacts(q, job.id!)).toMatchObject({ state: 'failed', failedReason: 'Terminated: by jobterm' });
    await bare.close(true);
    await worker.close();
    await jt.dispose();
    await terminator.close();
    expect(terminator.running()).toEqual([]);
  });

  it('the user’s own worker.close() goes through jobterm’s escalation: bounded by shutdownTimeout, the job put back', async () => {
    const q = queue();
    const terminator = terminatorOn(newStore(), { shutdownTimeout: 300 });
    const jt = bullmqJobterm({ terminator });
    const worker = jt.attach(
      new Worker(
        q.name,
        jt.processor(async () => {
          await new Promise(() => {});
        }),
        { connection, prefix: bullPrefix },
      ),
    );
    worker.on('error', () => {});
    const job = await q.add('j', {});
    await waitForFacts(q, job.id!, (f) => f.state === 'active');
    await until(() => terminator.running().length === 1);
    const started = Date.now();
    // Without jobterm this waits forever (BullMQ's close() waits for active jobs).
    await worker.close();
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(5_000);
    expect(await jobFacts(q, job.id!)).toMatchObject({ state: 'waiting', attemptsMade: 0 });
    expect(terminator.running()).toEqual([]);
    await jt.dispose();
    await terminator.close();
  });

  it('iterate(): a shutdown saves the cursor in the Redis store, and the next run resumes after it', async () => {
    const q = queue();
    const job = await q.add('backfill', { to: 200 });
    const runs: Array<{ from: number | undefined; last: number | undefined }> = [];
    const startWorker = (store: RedisStore) => {
      const terminator = terminatorOn(store, { shutdownTimeout: 2_000 });
      const jt = bullmqJobterm({ terminator });
      const worker = jt.attach(
        new Worker(
          q.name,
          jt.processor(async (j: JobWithToken) => {
            const run: { from: number | undefined; last: number | undefined } = { from: undefined, last: undefined };
            runs.push(run);
            return iterate<number, number>({
              source: function* (cursor) {
                run.from = cursor;
                for (let i = (cursor ?? -1) + 1; i < j.data.to; i++) yield { item: i, cursor: i };
              },
              each: async (i) => {
                run.last = i;
                await sleep(2);
              },
            });
          }),
          { connection, prefix: bullPrefix },
        ),
      );
      worker.on('error', () => {});
      return { terminator, jt, worker };
    };
    const first = startWorker(newStore());
    await until(() => (runs[0]?.last ?? 0) >= 30);
    await first.terminator.shutdown();
    await first.jt.dispose();
    await first.terminator.close();
    const stopped = runs[0]!.last!;
    expect(await jobFacts(q, job.id!)).toMatchObject({ state: 'waiting', attemptsMade: 0 });
    const store = newStore();
    expect(await store.progress.load(bullmqRef(job))).toBe(stopped);
    const second = startWorker(store);
    await waitForFacts(q, job.id!, (f) => f.state === 'completed');
    expect(runs[1]).toEqual({ from: stopped, last: 199 });
    // A completed iteration forgets its cursor.
    expect(await store.progress.load(bullmqRef(job))).toBeUndefined();
    await second.worker.close();
    await second.jt.dispose();
    await second.terminator.close();
  });

  it('leaves nothing behind: after many jobs no registry entry, no listener on BullMQ’s signals, one closing listener', async () => {
    const q = queue();
    const terminator = terminatorOn(newStore());
    const jt = bullmqJobterm({ terminator });
    const signals: AbortSignal[] = [];
    const worker = jt.attach(
      new Worker(
        q.name,
        jt.processor(async (_job, _lock, signal) => {
          signals.push(signal);
          return 'ok';
        }),
        { connection, prefix: bullPrefix, concurrency: 5 },
      ),
    );
    worker.on('error', () => {});
    let completed = 0;
    worker.on('completed', () => {
      completed++;
    });
    await q.addBulk(Array.from({ length: 40 }, (_, i) => ({ name: 'n', data: { i } })));
    await until(() => completed === 40);
    expect(terminator.running()).toEqual([]);
    expect(worker.listenerCount('closing')).toBe(1);
    // The token signals handed out are settled jobs' and nobody listens to them any more.
    expect(signals).toHaveLength(40);
    await worker.close();
    await jt.dispose();
    expect(worker.listenerCount('closing')).toBe(0);
    expect(jt.adapter).toBeDefined();
    await terminator.close();
  });

  it('refuses bad input with a clear error', () => {
    const terminator = createTerminator({ logger: silentLogger });
    expect(() => bullmqJobterm({} as never)).toThrow(
      'Expected `terminator` to be a Terminator from createTerminator()',
    );
    expect(() => bullmqJobterm({ terminator, nope: 1 } as never)).toThrow('Unknown option `nope`');
    const jt = bullmqJobterm({ terminator });
    expect(() => jt.processor(42 as never)).toThrow('Expected `processor` to be a function, or a file path or URL');
    expect(() => jt.attach({} as never)).toThrow('Expected `worker` to be a BullMQ Worker');
    // BullMQ 6.7's PostgreSQL backend: refused, naming it (the Worker is made without running or connecting).
    const { Worker: PgWorker } = withBackend(createPostgresBackend);
    const pgWorker = new PgWorker('pg', async () => {}, { connection: 'postgres://127.0.0.1:1/none', autorun: false });
    pgWorker.on('error', () => {});
    expect(() => jt.attach(pgWorker as never)).toThrow(
      /this Worker uses PostgresQueueBackend \(createPostgresBackend\)/,
    );
    void pgWorker.close();
    void terminator.close();
  });
});

async function until(check: () => boolean, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(10);
  }
}
