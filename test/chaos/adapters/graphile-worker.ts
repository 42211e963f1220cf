// graphile-worker 0.18 in the chaos suite.
//
// A worker that dies by SIGKILL leaves its running jobs locked
// (`locked_at`/`locked_by`) for graphile-worker's 4-hour stale-lock timeout.
// A graphile-worker user must release them: when the worker is known to be
// dead, call `graphile_worker.force_unlock_workers(ARRAY[<its pool id>])`
// (`workerUtils.forceUnlockWorkers(ids)`; in 0.18 `locked_by` holds the
// worker pool's id, `pool-…`, which the `pool:create` event gives), which the
// test does for each worker process it kills. jobterm's stored kill still stops a killed job when it
// starts again elsewhere.
import { EventEmitter } from 'node:events';
import { type Job, Logger, makeWorkerUtils, run, type WorkerEvents, type WorkerUtils } from 'graphile-worker';
import { graphileWorkerAdapter, makeJobtermPreset } from '../../../src/adapters/graphile-worker/index.js';
import type { ChaosPayload } from '../jobs.js';
import type { ChaosQueue, FinalState, StartWorker } from './types.js';

const TASK = 'chaos';
/** Far above what a job needs in one run: SIGKILL recovery and put-backs spend some. */
const MAX_ATTEMPTS = 50;

export function graphileWorkerQueue(): ChaosQueue {
  let utils: WorkerUtils | undefined;
  return {
    name: 'graphile-worker',
    async prepare(url) {
      utils = await makeWorkerUtils({ connectionString: url, logger: quietLogger() });
      await utils.migrate();
    },
    async enqueue(payloads) {
      const ids: string[] = [];
      for (const payload of payloads) {
        const job: Job = await utils!.addJob(TASK, payload, { maxAttempts: MAX_ATTEMPTS });
        ids.push(String(job.id));
      }
      return ids;
    },
    ref: (id) => ({ queue: 'graphile-worker', id }),
    requesterAdapter: (url) => graphileWorkerAdapter({ connectionString: url }),
    async finalStates(pool, ids) {
      const { rows } = await pool.query<{
        id: string;
        attempts: number;
        max_attempts: number;
        last_error: string | null;
        locked_at: Date | null;
        run_at: Date;
      }>(
        'SELECT id::text, attempts, max_attempts, last_error, locked_at, run_at FROM graphile_worker._private_jobs WHERE id = ANY($1::bigint[])',
        [ids],
      );
      const byId = new Map(rows.map((row) => [row.id, row]));
      const states = new Map<string, FinalState>();
      for (const id of ids) {
        const row = byId.get(id);
        if (row === undefined) {
          // graphile-worker deletes a job's row when it completes.
          states.set(id, { state: 'completed', locked: false, detail: 'row deleted' });
          continue;
        }
        const locked = row.locked_at !== null;
        const detail = `attempts ${row.attempts}/${row.max_attempts}, locked ${locked}, last_error ${JSON.stringify(row.last_error?.slice(0, 120) ?? null)}`;
        const ended = row.attempts >= row.max_attempts;
        const state = locked
          ? 'active'
          : ended && row.last_error?.startsWith('Terminated:')
            ? 'terminated'
            : ended
              ? 'failed'
              : 'queued';
        states.set(id, { state, locked, detail });
      }
      return states;
    },
    async recoverDeadWorker(pool, worker) {
      if (worker.lockIds.length === 0) return 0;
      const { rows } = await pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM graphile_worker._private_jobs WHERE locked_by = ANY($1::text[])',
        [worker.lockIds],
      );
      await pool.query('SELECT graphile_worker.force_unlock_workers($1::text[])', [worker.lockIds]);
      return rows[0]?.n ?? 0;
    },
    async lockedBy(pool, worker) {
      if (worker.lockIds.length === 0) return [];
      const { rows } = await pool.query<{ id: string }>(
        'SELECT id::text FROM graphile_worker._private_jobs WHERE locked_by = ANY($1::text[])',
        [worker.lockIds],
      );
      return rows.map((row) => row.id);
    },
    async close() {
      await utils?.release();
    },
  };
}

export const startGraphileWorker: StartWorker = async ({ url, terminator, concurrency, runJob }) => {
  const lockIds: string[] = [];
  // graphile-worker 0.18 locks jobs with the id of the worker *pool* (`locked_by = pool-…`), not its
  // workers' ids. Our own emitter, passed in: 'pool:create' fires inside run(), before its result exists.
  const events: WorkerEvents = new EventEmitter();
  events.on('pool:create', ({ workerPool }) => lockIds.push(workerPool.id));
  const logger = new Logger((scope) => (level, message) => {
    if (level === 'error') process.stderr.write(`[graphile ${level}] ${scope.label ?? ''} ${message}\n`);
  });
  await run({
    connectionString: url,
    concurrency,
    pollInterval: 200,
    logger,
    events,
    taskList: {
      [TASK]: async (payload, helpers) => {
        await runJob(payload as ChaosPayload, String(helpers.job.id));
      },
    },
    preset: { extends: [makeJobtermPreset({ terminator })] },
  });
  return lockIds;
};

function quietLogger() {
  return new Logger(() => () => {});
}
