/**
 * What polling for open kill requests costs the database as the fleet grows:
 * 1, 10 and 50 workers (kill stores, spread over two processes) with 10,
 * 1,000 and 100,000 open requests, today's full reload every poll beside the
 * incremental poll (a watermark on `change_xid`). Per configuration: the
 * queries per second the workers send, the rows PostgreSQL reads per worker
 * per second, i.e. per poll at the default one poll a second (pg_stat_database's
 * tup_returned + tup_fetched, so index and heap reads both count; a saturated
 * database runs fewer polls, which queries/s shows), and the delivery latency of a new request (NOTIFY, then the
 * worker's read of its row) while that load runs. Then the cost of one
 * heartbeat beside a bare round trip.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { silentLogger } from '../../src/core/logger.js';
import { PRESENCE_DEFAULTS } from '../../src/core/presence.js';
import { postgresStore } from '../../src/stores/postgres/index.js';
import type { BenchSuite, Figure } from '../lib/types.js';
import { connectWorker } from '../lib/worker-messages.js';

const workerScript = fileURLToPath(new URL('../workers/fleet-worker.ts', import.meta.url));
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const PROCESSES = 2;
/** Above this many rows a second, the full reload is not run (it saturates a small machine for minutes). */
const FULL_RELOAD_LIMIT = 100_000;
const WINDOW = 2_000;

interface Load {
  queriesPerSecond: number[];
  rowsPerPoll: number[];
  latency: number[];
}

export const fleetSuite: BenchSuite = {
  name: 'fleet',
  async run(ctx) {
    const workerCounts = ctx.quick ? [10] : [1, 10, 50];
    const openCounts = ctx.quick ? [1_000] : [10, 1_000, 100_000];
    // Windows of 2 s: a full reload of 100,000 rows takes about a second, so a 1 s window can miss its stats.
    const windows = ctx.quick ? 1 : 4;
    const traces = ctx.quick ? 5 : 20;
    const figures: Figure[] = [];
    for (const open of openCounts) {
      const { url } = await ctx.createDatabase('jobterm_bench_fleet');
      const owner = postgresStore({ connectionString: url, receiveRequests: false, logger: silentLogger });
      await owner.migrate();
      await owner.close();
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(
        `INSERT INTO jobterm.kill_requests (id, queue, job_id, reason_message, expires_at)
         SELECT gen_random_uuid(), 'bench', 'job-' || g, 'open', now() + interval '1 day' FROM generate_series(1, $1) AS g`,
        [open],
      );
      await admin.query('ANALYZE jobterm.kill_requests');
      try {
        for (const workers of workerCounts) {
          const label = `${workers} worker${workers === 1 ? '' : 's'}, ${open.toLocaleString('en')} open`;
          const incremental = await measure(ctx, admin, url, { workers, incremental: true, windows, traces });
          if (workers * open > FULL_RELOAD_LIMIT) {
            // Today's full reload would read workers x open rows a second: more than this machine's PostgreSQL serves.
            ctx.log(
              `${label}: incremental only (the full reload would read ${(workers * open).toLocaleString('en')} rows/s)`,
            );
            figures.push({
              name: `fleet poll, ${label}: rows read per worker-second (one poll a second), incremental`,
              unit: 'rows',
              samples: incremental.rowsPerPoll,
              lowerIsBetter: true,
              notes: `full reload not run: ${(workers * open).toLocaleString('en')} rows a second`,
            });
            continue;
          }
          const full = await measure(ctx, admin, url, { workers, incremental: false, windows, traces });
          ctx.log(
            `${label}: ${median(incremental.queriesPerSecond)} vs ${median(full.queriesPerSecond)} queries/s, ` +
              `${median(incremental.rowsPerPoll)} vs ${median(full.rowsPerPoll)} rows/poll`,
          );
          figures.push(
            {
              name: `fleet poll, ${label}: queries/s from the workers, incremental`,
              unit: 'queries/s',
              samples: incremental.queriesPerSecond,
              reference: { name: 'full reload every poll', samples: full.queriesPerSecond },
              lowerIsBetter: true,
            },
            {
              name: `fleet poll, ${label}: rows read per worker-second (one poll a second), incremental`,
              unit: 'rows',
              samples: incremental.rowsPerPoll,
              reference: { name: 'full reload every poll', samples: full.rowsPerPoll },
              lowerIsBetter: true,
              goal: 'flat in the number of open requests',
            },
            {
              name: `fleet poll, ${label}: request -> first worker learns it, incremental`,
              unit: 'ms',
              samples: incremental.latency,
              reference: { name: 'full reload every poll', samples: full.latency },
              lowerIsBetter: true,
              notes: 'NOTIFY delivers; what changes is how loaded the database is by the polls.',
            },
          );
        }
      } finally {
        await admin.end();
      }
    }
    figures.push(await heartbeatCost(ctx));
    return figures;
  },
};

async function measure(
  ctx: { log(message: string): void },
  admin: pg.Client,
  url: string,
  options: { workers: number; incremental: boolean; windows: number; traces: number },
): Promise<Load> {
  const perProcess = [Math.ceil(options.workers / PROCESSES), Math.floor(options.workers / PROCESSES)].filter(
    (n) => n > 0,
  );
  const children = perProcess.map((stores) =>
    spawn(process.execPath, ['--import', 'tsx', workerScript], {
      env: {
        ...process.env,
        DATABASE_URL: url,
        STORES: String(stores),
        INCREMENTAL: options.incremental ? '1' : '0',
        // Today's full reload holds everything; the incremental store keeps its default bound.
        MAX_OPEN: options.incremental ? '10000' : 'Infinity',
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  const nexts = children.map((child) => connectWorker(child, 'fleet worker'));
  try {
    await Promise.all(nexts.map((next) => next('ready', '', 600_000)));
    // Let the start-up loads finish before measuring the steady state.
    await sleep(1_500);
    const queriesPerSecond: number[] = [];
    const rowsPerPoll: number[] = [];
    let before = await stats(admin);
    for (let s = 0; s < options.windows; s++) {
      await sleep(WINDOW);
      const after = await stats(admin);
      const elapsed = (after.at - before.at) / 1000;
      // The bench's own stats query is one transaction and a handful of rows per sample.
      queriesPerSecond.push(Math.max(0, (after.xacts - before.xacts - 1) / elapsed));
      rowsPerPoll.push(Math.max(0, (after.rows - before.rows) / (options.workers * elapsed)));
      before = after;
    }
    const latency: number[] = [];
    const first = nexts[0]!;
    for (let i = 0; i < options.traces; i++) {
      const id = `t-${randomBytes(4).toString('hex')}`;
      const start = now();
      await admin.query(
        `WITH r AS (INSERT INTO jobterm.kill_requests (id, queue, job_id, reason_message, expires_at)
           VALUES ($1, 'trace', $2, 'trace', now() + interval '1 hour') RETURNING id)
         SELECT pg_notify('jobterm:kill_request', r.id::text) FROM r`,
        [randomUUID(), id],
      );
      const got = await first('got', id, 30_000);
      latency.push(got.t! - start);
    }
    await admin.query("DELETE FROM jobterm.kill_requests WHERE queue = 'trace'");
    return { queriesPerSecond, rowsPerPoll, latency };
  } catch (error) {
    ctx.log(`fleet measure failed: ${String(error)}`);
    throw error;
  } finally {
    await Promise.all(
      children.map(
        (child) =>
          new Promise((resolve) => {
            const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
            child.once('exit', () => resolve(clearTimeout(timer)));
            child.stdin!.end();
          }),
      ),
    );
  }
}

/** This database's committed transactions and rows read so far, flushed (PostgreSQL 15+ flushes stats within a second). */
async function stats(admin: pg.Client): Promise<{ at: number; xacts: number; rows: number }> {
  await admin.query('SELECT pg_stat_clear_snapshot()');
  await sleep(0);
  const { rows } = await admin.query<{ xacts: string; rows: string }>(
    `SELECT xact_commit AS xacts, tup_returned + tup_fetched AS rows FROM pg_stat_database WHERE datname = current_database()`,
  );
  return { at: Date.now(), xacts: Number(rows[0]!.xacts), rows: Number(rows[0]!.rows) };
}

/** One heartbeat (a worker running 10 jobs) beside a bare `SELECT 1` round trip on the same pool. */
async function heartbeatCost(ctx: {
  createDatabase(prefix: string): Promise<{ url: string }>;
  quick: boolean;
}): Promise<Figure> {
  const { url } = await ctx.createDatabase('jobterm_bench_heartbeat');
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const store = postgresStore({ pool, receiveRequests: false, logger: silentLogger });
  await store.migrate();
  const n = ctx.quick ? 100 : 1_000;
  const record = {
    instanceId: randomUUID(),
    workerId: 'bench',
    host: 'bench',
    pid: 1,
    queues: [{ queue: 'graphile-worker', queueIds: ['pool-bench'] }],
    versions: { jobterm: '0', node: process.versions.node },
    startedAt: new Date(),
    heartbeatInterval: PRESENCE_DEFAULTS.heartbeatInterval,
    deadAfter: PRESENCE_DEFAULTS.heartbeatInterval * PRESENCE_DEFAULTS.deadAfterBeats,
    jobs: Array.from({ length: 10 }, (_, i) => ({
      ref: { queue: 'graphile-worker', id: String(i) },
      task: 'work',
      attempt: 1,
      startedAt: new Date(),
    })),
  };
  const secret = randomBytes(32).toString('hex');
  const beats: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < n + 10; i++) {
    let start = performance.now();
    await store.heartbeat(record, secret);
    if (i >= 10) beats.push(performance.now() - start);
    start = performance.now();
    await pool.query('SELECT 1');
    if (i >= 10) bare.push(performance.now() - start);
  }
  await store.close();
  await pool.end();
  return {
    name: 'heartbeat: one worker with 10 running jobs (one statement per interval)',
    unit: 'ms',
    samples: beats,
    reference: { name: 'SELECT 1 round trip', samples: bare },
    lowerIsBetter: true,
    notes: `At the default interval (${PRESENCE_DEFAULTS.heartbeatInterval} ms) that is 0.2 statements/s per worker, plus one claim of dead workers after each beat.`,
  };
}

function median(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted[Math.floor(sorted.length / 2)] ?? 0;
  return mid >= 100 ? mid.toFixed(0) : mid.toPrecision(2);
}
