/**
 * What a deploy costs an iterating job: the time from SIGTERM (sent from this
 * process) to the job's cursor saved in `jobterm.progress` and to the job
 * back in its queue, runnable (graphile-worker: the row unlocked with
 * `run_at <= now()`; pg-boss: `active` -> `created`), with the worker in its
 * own OS process (bench/workers/iterate-shutdown-worker.ts).
 *
 * Observed by LISTEN, not polling: triggers this suite adds to its own
 * database send a NOTIFY when each of those rows changes, and this process
 * timestamps the NOTIFY's arrival (it is idle meanwhile, so that is within a
 * fraction of a millisecond of the commit).
 *
 * The reference, in the same run on the same queue: the same worker, SIGTERM
 * to back in the queue for a job that does not iterate (it waits for its
 * token and throws): jobterm's shutdown and put-back alone, without
 * finishing an item and saving a cursor. Rounds alternate.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Logger, makeWorkerUtils, runMigrations } from 'graphile-worker';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { silentLogger } from '../../src/core/logger.js';
import { postgresStore } from '../../src/stores/postgres/index.js';
import { killAllWorkers, spawnWorker } from '../../test/support/processes.js';
import type { BenchContext, BenchSuite, Figure } from '../lib/types.js';

const workerScript = fileURLToPath(new URL('../workers/iterate-shutdown-worker.ts', import.meta.url));
type Queue = 'graphile-worker' | 'pg-boss';
const PG_BOSS_QUEUE = 'bench_iterate';

export const iterateShutdownSuite: BenchSuite = {
  name: 'iterate-shutdown',
  async run(ctx) {
    const { url } = await ctx.createDatabase('jobterm_bench_iter_stop');
    await runMigrations({ connectionString: url, logger: new Logger(() => () => {}) });
    await postgresStore({ connectionString: url, receiveRequests: false, logger: silentLogger }).migrate();
    const boss = new PgBoss({ connectionString: url, schedule: false, supervise: false });
    boss.on('error', () => {});
    await boss.start();
    await boss.createQueue(PG_BOSS_QUEUE, { notify: true });
    const utils = await makeWorkerUtils({ connectionString: url, logger: new Logger(() => () => {}) });
    const listener = await listen(url);
    try {
      const figures: Figure[] = [];
      for (const queue of ['graphile-worker', 'pg-boss'] as const) {
        const add = async (iterate: boolean): Promise<string> =>
          queue === 'graphile-worker'
            ? String((await utils.addJob('bench_iterate', { iterate })).id)
            : (await boss.send(PG_BOSS_QUEUE, { iterate }))!;
        const remove = async (id: string) => {
          if (queue === 'graphile-worker')
            await listener.query('DELETE FROM graphile_worker._private_jobs WHERE id = $1', [id]);
          else await boss.deleteJob(PG_BOSS_QUEUE, id);
          await listener.query('DELETE FROM jobterm.progress WHERE job_id = $1', [id]);
        };
        figures.push(...(await measure(ctx, queue, url, listener, add, remove)));
      }
      return figures;
    } finally {
      await killAllWorkers();
      await listener.end();
      await utils.release();
      await boss.stop({ graceful: false, close: true });
    }
  },
};

async function measure(
  ctx: BenchContext,
  queue: Queue,
  url: string,
  listener: Listener,
  add: (iterate: boolean) => Promise<string>,
  remove: (id: string) => Promise<void>,
): Promise<Figure[]> {
  const rounds = ctx.quick ? 2 : 10;
  const toSaved: number[] = [];
  const toBack: number[] = [];
  const plainToBack: number[] = [];
  // One untimed round of each first: the first job pays for prepared statements and JIT.
  for (let round = -1; round < rounds; round++) {
    const order = round % 2 === 0 ? [true, false] : [false, true];
    for (const iterating of order) {
      const worker = spawnWorker(workerScript, { env: { DATABASE_URL: url, JT_QUEUE: queue } });
      await worker.waitFor('ready', 30_000);
      const id = await add(iterating);
      await worker.waitFor((m) => m.event === 'running' && m.i === id, 30_000);
      // SIGTERM right after one of the iterating job's periodic saves (every
      // 250 ms), so the next save is the stop's; the other job waits as long.
      if (iterating) await listener.next('bench_progress', id);
      else await sleep(150);
      const back = listener.next('bench_queue', id);
      const sentAt = performance.now();
      worker.kill('SIGTERM');
      const backAt = await back.catch((error: Error) => {
        throw new Error(`${queue}: ${error.message}; worker stderr: ${worker.stderr()}`);
      });
      // None only if the job stopped before finishing an item after the
      // periodic save: its cursor was then durable before SIGTERM.
      const savedAt = iterating ? (listener.last('bench_progress', id, sentAt, backAt) ?? sentAt) : undefined;
      const exit = await worker.exited;
      if (exit.code !== 0)
        throw new Error(`${queue} bench worker exited with ${JSON.stringify(exit)}: ${worker.stderr()}`);
      await remove(id);
      if (round < 0) continue;
      if (iterating) {
        toSaved.push(savedAt! - sentAt);
        toBack.push(backAt - sentAt);
      } else {
        plainToBack.push(backAt - sentAt);
      }
    }
    if (round >= 0) {
      ctx.log(
        `${queue} round ${round + 1}/${rounds}: SIGTERM -> cursor saved ${toSaved.at(-1)!.toFixed(1)} ms, -> back in the queue ${toBack.at(-1)!.toFixed(1)} ms; plain job -> back ${plainToBack.at(-1)!.toFixed(1)} ms`,
      );
    }
  }
  const reference = {
    name: `${queue}: SIGTERM -> back in the queue, a job that does not iterate (waits for its token, throws)`,
    samples: plainToBack,
  };
  const back = queue === 'graphile-worker' ? 'row unlocked, run_at <= now()' : "state 'created'";
  const notes =
    `Worker in another OS process (concurrency 1, jobterm ${queue === 'graphile-worker' ? 'plugin' : 'handler'}, PostgreSQL store, handleSignals). ` +
    'The iterating job does one SELECT round trip per item and saves its cursor every 250 ms; SIGTERM is sent just after ' +
    "such a save, so 'cursor saved' is the stop's own save, after finishing the item in flight. Each sample: SIGTERM from this process to the NOTIFY of a trigger on that row, received here; a fresh worker per sample.";
  return [
    {
      name: `${queue}: iterate(), SIGTERM -> cursor saved in jobterm.progress`,
      unit: 'ms',
      samples: toSaved,
      reference,
      lowerIsBetter: true,
      notes,
    },
    {
      name: `${queue}: iterate(), SIGTERM -> back in the queue (${back})`,
      unit: 'ms',
      samples: toBack,
      reference,
      lowerIsBetter: true,
      goal: 'within a few ms of the non-iterating job: the cursor save is one INSERT ... ON CONFLICT',
      notes,
    },
  ];
}

interface Listener {
  /** Resolves with the arrival time (performance.now()) of the next NOTIFY on `channel` for `id`. */
  next(channel: string, id: string): Promise<number>;
  /** The arrival time of the last NOTIFY on `channel` for `id` in [from, to], if any. */
  last(channel: string, id: string, from: number, to: number): number | undefined;
  query(text: string, values?: unknown[]): Promise<unknown>;
  end(): Promise<void>;
}

/**
 * Triggers on the three rows the figures are about, and a LISTEN on them.
 * They exist only in this suite's database.
 */
async function listen(url: string): Promise<Listener> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`
    CREATE FUNCTION bench_notify_progress() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_notify('bench_progress', NEW.job_id); RETURN NULL; END $$;
    CREATE FUNCTION bench_notify_queue() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_notify('bench_queue', NEW.id::text); RETURN NULL; END $$;
    CREATE TRIGGER bench_progress AFTER INSERT OR UPDATE ON jobterm.progress
      FOR EACH ROW EXECUTE FUNCTION bench_notify_progress();
    CREATE TRIGGER bench_graphile_back AFTER UPDATE ON graphile_worker._private_jobs
      FOR EACH ROW WHEN (OLD.locked_by IS NOT NULL AND NEW.locked_by IS NULL AND NEW.run_at <= now())
      EXECUTE FUNCTION bench_notify_queue();
    CREATE TRIGGER bench_pgboss_back AFTER UPDATE ON pgboss.job
      FOR EACH ROW WHEN (OLD.state = 'active' AND NEW.state = 'created')
      EXECUTE FUNCTION bench_notify_queue();
    LISTEN bench_progress;
    LISTEN bench_queue;
  `);
  const waiting = new Map<string, (at: number) => void>();
  const arrivals = new Map<string, number[]>();
  client.on('notification', (message) => {
    const at = performance.now();
    const key = `${message.channel}:${message.payload}`;
    waiting.get(key)?.(at);
    waiting.delete(key);
    if (message.channel === 'bench_progress') arrivals.set(key, [...(arrivals.get(key) ?? []), at]);
  });
  return {
    last(channel, id, from, to) {
      return (arrivals.get(`${channel}:${id}`) ?? []).filter((at) => at >= from && at <= to).at(-1);
    },
    next(channel, id) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(`${channel}:${id}`);
          reject(new Error(`no ${channel} NOTIFY for job ${id} within 20 s`));
        }, 20_000);
        waiting.set(`${channel}:${id}`, (at) => {
          clearTimeout(timer);
          resolve(at);
        });
      });
    },
    query: (text, values) => client.query(text, values),
    end: () => client.end(),
  };
}
