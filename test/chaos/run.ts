// The chaos suite (issue 10): per queue, 3 worker processes run ~200 jobs of
// four kinds while this process terminates jobs at random (some waiting),
// SIGKILLs and SIGTERMs workers and restarts them, kills their listener and
// pool connections with pg_terminate_backend, and restarts PostgreSQL. Then
// it drains, shuts every worker down gracefully, and judges (checks.ts).
//
//   npm run test:chaos                        # both queues, a fresh seed
//   CHAOS_SEED=1234 npm run test:chaos        # replay a seed
//   CHAOS_QUEUES=pg-boss CHAOS_JOBS=100 ...   # one queue, fewer jobs
//
// It starts an embedded PostgreSQL of its own (test/support/embedded-postgres.ts),
// so its restart disturbs no other test, and only ever kills backends of the
// database it made. Exit code 1 on any violation; the seed is printed at the
// start and with the violations.
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { QueueAdapter } from '../../src/core/adapter.js';
import { silentLogger } from '../../src/core/logger.js';
import { postgresStore } from '../../src/stores/postgres/index.js';
import { createTerminator } from '../../src/terminator/terminator.js';
import { type EmbeddedDatabase, startEmbeddedPostgres } from '../support/embedded-postgres.js';
import { killAllWorkers, spawnWorker, type WorkerProcess } from '../support/processes.js';
import { QUEUES } from './adapters/index.js';
import type { WorkerInfo } from './adapters/types.js';
import {
  type ChaosData,
  type Disturbance,
  judge,
  type RequestRow,
  type TerminateCall,
  type Verdict,
  type WorkerRecord,
} from './checks.js';
import type { ChaosPayload } from './jobs.js';
import { planJobs } from './plan.js';
import { chaosSeed, makeRng, type Rng } from './rng.js';
import { CHAOS_SCHEMA_SQL, type EventRow } from './schema.js';

const env = process.env;
const SEED = chaosSeed();
const QUEUE_NAMES = (env.CHAOS_QUEUES ?? Object.keys(QUEUES).join(',')).split(',').filter(Boolean);
const JOBS = Number(env.CHAOS_JOBS ?? 200);
const WORKERS = 3;
const CONCURRENCY = 5;
/** How long the disturbances last, in ms; jobs are enqueued over the first 80% of it. */
const WINDOW = Number(env.CHAOS_WINDOW ?? 30_000);
/** Bounds on the phases after it: all generous, for a loaded 2-core machine. */
const DRAIN_LIMIT = 40_000;
const READY_TIMEOUT = 60_000;
const STOP_TIMEOUT = 30_000;
/** How long open requests for ended jobs get to be resolved (by a sweep, say) before (d) counts them: CHAOS_SETTLE_MS. */
const SETTLE_LIMIT = Number(env.CHAOS_SETTLE_MS ?? 10_000);
const WORKER_SCRIPT = new URL('./worker.ts', import.meta.url).pathname;

interface Slot {
  index: number;
  worker?: WorkerProcess;
  info?: WorkerInfo;
  state: 'starting' | 'ready' | 'stopping' | 'down';
}

interface Figures {
  sigkills: number;
  sigterms: number;
  restarts: number;
  listenerKills: number;
  poolKills: number;
  pgRestarts: number;
  released: number;
  terminateErrors: number;
  /** Workers that exited at start because PostgreSQL was unreachable, and were started again. */
  startFailures: number;
}

function log(line: string) {
  process.stdout.write(`[chaos] ${line}\n`);
}

async function main(): Promise<number> {
  log(`CHAOS_SEED=${SEED} queues=${QUEUE_NAMES.join(',')} jobs=${JOBS} window=${WINDOW} ms`);
  for (const name of QUEUE_NAMES)
    if (QUEUES[name] === undefined) throw new TypeError(`Unknown queue in CHAOS_QUEUES: ${name}`);
  const started = Date.now();
  const server = await startEmbeddedPostgres({ prefix: 'jobterm-chaos-' });
  const stopOnSignal = () => {
    void killAllWorkers().finally(() => server.stop().finally(() => process.exit(130)));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  const verdicts: Array<{ name: string; verdict: Verdict; figures: Figures }> = [];
  try {
    for (const [index, name] of QUEUE_NAMES.entries()) {
      const rng = makeRng(SEED + index * 7919);
      verdicts.push({ name, ...(await runQueue(server, name, rng)) });
    }
  } finally {
    await killAllWorkers();
    await server.stop();
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
  }
  let failed = 0;
  for (const { name, verdict, figures } of verdicts) {
    log(`--- ${name}: figures`);
    const all: Record<string, number> = { ...verdict.figures, ...figures };
    for (const [key, value] of Object.entries(all)) log(`  ${key.padEnd(40)} ${value}`);
    for (const note of verdict.notes.slice(0, 30)) log(`  note: ${note}`);
    if (verdict.notes.length > 30) log(`  ... ${verdict.notes.length - 30} more notes`);
    for (const violation of verdict.violations) log(`  VIOLATION ${violation}`);
    for (const timeline of verdict.timelines) log(timeline);
    log(
      `${name}: jobs ${all.jobs}, kills ${all['terminate() calls']} (confirmed terminated ${all['confirmed terminated']}), ` +
        `SIGKILLs ${figures.sigkills}, SIGTERMs ${figures.sigterms}, crashes ${all.crashes}, restarts ${figures.restarts}, ` +
        `connection kills ${figures.listenerKills + figures.poolKills} (listener ${figures.listenerKills}, pool ${figures.poolKills}), ` +
        `PostgreSQL restarts ${figures.pgRestarts}, violations ${verdict.violations.length}`,
    );
    failed += verdict.violations.length;
  }
  log(
    `done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${failed} violations${failed > 0 ? ` (replay with CHAOS_SEED=${SEED})` : ''}`,
  );
  return failed === 0 ? 0 : 1;
}

async function runQueue(
  server: EmbeddedDatabase,
  name: string,
  rng: Rng,
): Promise<{ verdict: Verdict; figures: Figures }> {
  const queue = QUEUES[name]!.controller();
  const database = `chaos_${name.replace(/[^a-z0-9]/g, '_')}`;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  await admin.end();
  const url = withParams(server.url, database, 'chaos-controller');
  const workerUrl = withParams(server.url, database, 'chaos-worker');
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on('error', () => {});
  await pool.query(CHAOS_SCHEMA_SQL);
  await queue.prepare(url);
  const requesterAdapter = queue.requesterAdapter(url);
  const terminator = createTerminator({
    store: postgresStore({ connectionString: url, receiveRequests: false, logger: silentLogger }),
    adapters: [requesterAdapter as QueueAdapter],
    workerId: `chaos-requester-${process.pid}`,
    logger: silentLogger,
  });
  await terminator.whenReady();
  log(`${name}: database ${database} ready`);

  const figures: Figures = {
    sigkills: 0,
    sigterms: 0,
    restarts: 0,
    listenerKills: 0,
    poolKills: 0,
    pgRestarts: 0,
    released: 0,
    terminateErrors: 0,
    startFailures: 0,
  };
  const records: WorkerRecord[] = [];
  const lockedAfterCleanExit: Array<{ pid: number; ids: string[] }> = [];
  const slots: Slot[] = Array.from({ length: WORKERS }, (_, index) => ({ index, state: 'down' }));
  const background = new Set<Promise<unknown>>();
  const track = (promise: Promise<unknown>) => {
    const tracked = promise
      .catch((error: unknown) => log(`background task failed: ${String(error)}`))
      .finally(() => background.delete(tracked));
    background.add(tracked);
  };

  const spawnSlot = async (slot: Slot) => {
    slot.state = 'starting';
    const worker = spawnWorker(WORKER_SCRIPT, {
      env: {
        DATABASE_URL: workerUrl,
        CHAOS_QUEUE: name,
        CHAOS_CONCURRENCY: String(CONCURRENCY),
      },
    });
    slot.worker = worker;
    let ready: Awaited<ReturnType<WorkerProcess['waitFor']>>;
    try {
      ready = await worker.waitFor((m) => m.event === 'ready' || m.event === 'start-failed', READY_TIMEOUT);
    } catch (error) {
      // Crashed or hung at start: what it said goes to the verdict ((f)).
      worker.kill('SIGKILL');
      record(slot, undefined, await worker.exited);
      slot.state = 'down';
      throw error;
    }
    if (ready.event === 'start-failed') {
      // Its database was unreachable (the restart): as a supervisor would, start another.
      const exit = await worker.exited;
      record(slot, undefined, exit);
      figures.startFailures++;
      await sleep(1_000);
      return spawnSlot(slot);
    }
    slot.info = { pid: worker.pid, lockIds: (ready.lockIds as string[]) ?? [] };
    slot.state = 'ready';
  };
  const record = (slot: Slot, killedWith: 'SIGKILL' | 'SIGTERM' | undefined, exit: WorkerRecord['exit']) => {
    const worker = slot.worker!;
    records.push({
      pid: worker.pid,
      ...(killedWith ? { killedWith } : {}),
      ...(exit ? { exit } : {}),
      messages: worker.messages,
      stderrTail: worker.stderr().slice(-2_000),
    });
  };

  await Promise.all(slots.map(spawnSlot));
  log(`${name}: ${WORKERS} workers ready`);

  // --- the jobs, enqueued in waves over the first 80% of the window
  const payloads = planJobs(rng, JOBS, name === 'graphile-worker' ? 'gw' : name.replace(/[^a-z]/g, ''));
  const jobs = new Map<string, ChaosPayload>();
  const ids: string[] = [];
  const waves = 8;
  const enqueueWave = async (wave: number) => {
    const part = payloads.slice(Math.floor((wave * JOBS) / waves), Math.floor(((wave + 1) * JOBS) / waves));
    const waveIds = await retry(() => queue.enqueue(part), 30_000);
    for (const [i, id] of waveIds.entries()) {
      jobs.set(id, part[i]!);
      ids.push(id);
    }
    await retry(
      () =>
        pool.query(
          'INSERT INTO chaos.jobs (job_id, kind, payload, enqueued_at_ms) SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::bigint[])',
          [waveIds, part.map((p) => p.kind), part.map((p) => JSON.stringify(p)), part.map(() => Date.now())],
        ),
      30_000,
    );
  };

  // --- disturbances
  const calls: TerminateCall[] = [];
  // What the controller did, when: printed beside a violated job's timeline.
  const disturbances: Disturbance[] = [];
  const disturb = (what: string, pid?: number) => disturbances.push({ at: Date.now(), what, ...(pid ? { pid } : {}) });
  const chaosStart = Date.now();
  const restartAt = chaosStart + rng.int(Math.floor(WINDOW * 0.35), Math.floor(WINDOW * 0.65));
  let restarted = false;
  let nextWave = 0;
  const live = () => slots.filter((s) => s.state === 'ready');

  const terminateOne = async () => {
    const recent = await pool
      .query<{ job_id: string }>(
        "SELECT DISTINCT job_id FROM chaos.events WHERE event = 'start' AND at_ms > $1 ORDER BY job_id",
        [Date.now() - 2_000],
      )
      .then((r) => r.rows.map((row) => row.job_id))
      .catch(() => [] as string[]);
    const candidates = recent.length > 0 && rng.chance(0.75) ? recent : ids;
    if (candidates.length === 0) return;
    const jobId = rng.pick(candidates);
    const wait = rng.chance(0.4);
    const call: TerminateCall = { jobId, wait, at: Date.now(), endedAt: 0 };
    calls.push(call);
    track(
      terminator
        .terminate(queue.ref(jobId), { reason: 'chaos', requestedBy: 'chaos-controller', wait, timeout: 15_000 })
        .then(
          (result) => {
            call.status = result.status;
          },
          (error: unknown) => {
            call.error = String(error);
            figures.terminateErrors++;
          },
        )
        .finally(() => {
          call.endedAt = Date.now();
        }),
    );
  };

  const sigkillOne = async () => {
    const choices = live();
    if (choices.length < 2) return;
    const slot = rng.pick(choices);
    const worker = slot.worker!;
    slot.state = 'down';
    figures.sigkills++;
    disturb('SIGKILL', worker.pid);
    worker.kill('SIGKILL');
    const exit = await worker.exited;
    record(slot, 'SIGKILL', exit);
    // What a graphile-worker user must do for a dead worker's jobs (adapters/graphile-worker.ts).
    figures.released += await retry(() => queue.recoverDeadWorker(pool, slot.info!), 30_000);
    const delay = rng.int(200, 1_500);
    track(
      sleep(delay).then(async () => {
        figures.restarts++;
        await spawnSlot(slot);
      }),
    );
  };

  const sigtermOne = async () => {
    const choices = live();
    if (choices.length < 2) return;
    const slot = rng.pick(choices);
    const worker = slot.worker!;
    slot.state = 'stopping';
    figures.sigterms++;
    disturb('SIGTERM', worker.pid);
    worker.kill('SIGTERM');
    track(
      withTimeout(worker.exited, STOP_TIMEOUT).then(async (exit) => {
        if (exit === undefined) {
          log(`${name}: worker ${worker.pid} did not stop within ${STOP_TIMEOUT} ms of SIGTERM`);
          worker.kill('SIGKILL');
          record(slot, 'SIGTERM', { code: null, signal: 'timeout' });
          await worker.exited;
        } else {
          record(slot, 'SIGTERM', exit);
          if (exit.code === 0) {
            lockedAfterCleanExit.push({
              pid: worker.pid,
              ids: await retry(() => queue.lockedBy(pool, slot.info!), 30_000),
            });
          }
        }
        slot.state = 'down';
        figures.restarts++;
        await spawnSlot(slot);
      }),
    );
  };

  const killBackend = async (which: 'listener' | 'pool') => {
    // Each worker names its connections `chaos-worker <pid>` (worker.ts), so a kill says whose it was.
    const { rows } = await pool.query<{ pid: number; application_name: string; state: string; query: string }>(
      `SELECT pid, application_name, state, query FROM pg_stat_activity
        WHERE datname = $1 AND application_name LIKE 'chaos-worker%' AND pid <> pg_backend_pid()
          AND (query ILIKE 'LISTEN%') = $2
        ORDER BY pid`,
      [database, which === 'listener'],
    );
    if (rows.length === 0) return;
    const victim = rng.pick(rows);
    await pool.query('SELECT pg_terminate_backend($1)', [victim.pid]);
    const owner = Number(/ (\d+)$/.exec(victim.application_name)?.[1]) || undefined;
    disturb(
      `killed its ${which} connection (${victim.state}: ${victim.query.replace(/\s+/g, ' ').slice(0, 100)})`,
      owner,
    );
    if (which === 'listener') figures.listenerKills++;
    else figures.poolKills++;
  };

  log(`${name}: chaos for ${WINDOW} ms (PostgreSQL restart at +${restartAt - chaosStart} ms)`);
  while (Date.now() - chaosStart < WINDOW) {
    const elapsed = Date.now() - chaosStart;
    if (nextWave < waves && elapsed >= (nextWave * WINDOW * 0.8) / waves) {
      const wave = nextWave++;
      track(enqueueWave(wave));
    }
    if (!restarted && Date.now() >= restartAt) {
      restarted = true;
      figures.pgRestarts++;
      log(`${name}: restarting PostgreSQL`);
      disturb('PostgreSQL restart begins');
      await server.restart(rng.int(500, 2_000));
      disturb('PostgreSQL back');
      log(`${name}: PostgreSQL back`);
      continue;
    }
    const roll = rng.next();
    try {
      if (roll < 0.55) await terminateOne();
      else if (roll < 0.59 && figures.sigkills < 4) await sigkillOne();
      else if (roll < 0.63 && figures.sigterms < 4) await sigtermOne();
      else if (roll < 0.7) await killBackend('listener');
      else if (roll < 0.77) await killBackend('pool');
    } catch (error) {
      log(`${name}: disturbance failed (${String(error)}); going on`);
    }
    await sleep(rng.int(100, 400));
  }
  while (nextWave < waves) await enqueueWave(nextWave++);

  // --- drain: no more disturbances; every worker back, every job final
  log(`${name}: draining`);
  const drainStart = Date.now();
  for (;;) {
    while (background.size > 0) await Promise.allSettled([...background]);
    const states = await retry(() => queue.finalStates(pool, ids), 30_000);
    const open = [...states.values()].filter((s) => s.state === 'queued' || s.state === 'active').length;
    if (open === 0 && slots.every((s) => s.state === 'ready')) break;
    if (Date.now() - drainStart > DRAIN_LIMIT) {
      log(`${name}: ${open} jobs still open after ${DRAIN_LIMIT} ms of drain`);
      break;
    }
    await sleep(500);
  }
  log(`${name}: drained in ${Date.now() - drainStart} ms; stopping the workers`);

  // --- (d): every request for a finished job ends. While the workers still run, give whoever
  // resolves them (the worker that ran the job, the requester's re-check, a periodic sweep) a bounded time.
  const settleStart = Date.now();
  for (;;) {
    const now = await retry(() => queue.finalStates(pool, ids), 30_000);
    const requests = await retry(() => readRequests(pool), 30_000);
    const openForFinished = requests.filter(
      (r) => r.status !== 'resolved' && ['completed', 'terminated', 'failed'].includes(now.get(r.job_id)?.state ?? ''),
    );
    if (openForFinished.length === 0 || Date.now() - settleStart > SETTLE_LIMIT) break;
    await sleep(500);
  }

  // --- graceful shutdown of every worker
  await Promise.all(
    slots.map(async (slot) => {
      const worker = slot.worker!;
      slot.state = 'stopping';
      worker.kill('SIGTERM');
      const exit = await withTimeout(worker.exited, STOP_TIMEOUT);
      if (exit === undefined) {
        worker.kill('SIGKILL');
        record(slot, 'SIGTERM', { code: null, signal: 'timeout' });
        await worker.exited;
      } else {
        record(slot, 'SIGTERM', exit);
        if (exit.code === 0)
          lockedAfterCleanExit.push({ pid: worker.pid, ids: await queue.lockedBy(pool, slot.info!) });
      }
      slot.state = 'down';
    }),
  );

  const finals = await queue.finalStates(pool, ids);
  const data: ChaosData = {
    queue: name,
    jobs,
    events: (
      await pool.query<EventRow>(
        'SELECT job_id, run_id, event, pid, at_ms::float8 AS at_ms, detail FROM chaos.events ORDER BY seq',
      )
    ).rows,
    items: (await pool.query<{ job_id: string; item: number }>('SELECT job_id, item FROM chaos.items')).rows,
    requests: await readRequests(pool),
    calls,
    workers: records,
    finals,
    lockedAfterCleanExit,
    disturbances,
  };
  await terminator.shutdown();
  await requesterAdapter.close?.();
  await queue.close();
  await pool.end();
  return { verdict: judge(data), figures };
}

async function readRequests(pool: pg.Pool): Promise<RequestRow[]> {
  const { rows } = await pool.query<RequestRow>(
    `SELECT job_id, status, outcome,
            (extract(epoch FROM resolved_at) * 1000)::float8 AS resolved_at_ms,
            (extract(epoch FROM requested_at) * 1000)::float8 AS requested_at_ms
       FROM jobterm.kill_requests`,
  );
  return rows;
}

function withParams(base: string, database: string, applicationName: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  url.searchParams.set('application_name', applicationName);
  return url.toString();
}

async function retry<T>(fn: () => Promise<T>, limit: number): Promise<T> {
  const started = Date.now();
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (Date.now() - started > limit) throw error;
      await sleep(250);
    }
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`crashed: ${String((error as Error)?.stack ?? error)} (CHAOS_SEED=${SEED})`);
    process.exit(2);
  },
);
