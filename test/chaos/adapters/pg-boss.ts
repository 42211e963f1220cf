// pg-boss 12 in the chaos suite.
//
// A worker that dies by SIGKILL leaves its jobs `active` until their
// `expireInSeconds` runs out; then pg-boss's supervisor (any live instance
// with `supervise: true`) fails them, spending a retry, and they run again.
// Nothing to do by hand: the test only keeps `expireInSeconds` short.
import { type Job, PgBoss } from 'pg-boss';
import { pgBossAdapter, pgBossJobterm } from '../../../src/adapters/pg-boss/index.js';
import type { ChaosPayload } from '../jobs.js';
import type { ChaosQueue, FinalState, QueueState, StartWorker } from './types.js';

const QUEUE = 'chaos';
/** Far above any job's run (at most ~5 s): only a dead worker's jobs expire. */
const EXPIRE_SECONDS = 10;
const RETRY_LIMIT = 50;

export function pgBossQueue(): ChaosQueue {
  let boss: PgBoss | undefined;
  return {
    name: 'pg-boss',
    async prepare(url) {
      boss = new PgBoss({ connectionString: url, supervise: false, schedule: false });
      boss.on('error', () => {});
      await boss.start();
      await boss.createQueue(QUEUE, { retryLimit: RETRY_LIMIT, expireInSeconds: EXPIRE_SECONDS });
    },
    async enqueue(payloads) {
      const ids: string[] = [];
      for (const payload of payloads) {
        const id = await boss!.send(QUEUE, payload, { retryLimit: RETRY_LIMIT, expireInSeconds: EXPIRE_SECONDS });
        if (id === null) throw new Error('pg-boss refused a job');
        ids.push(id);
      }
      return ids;
    },
    ref: (id) => ({ queue: 'pg-boss', name: QUEUE, id }),
    requesterAdapter: (url) => pgBossAdapter({ connectionString: url }),
    async finalStates(pool, ids) {
      const { rows } = await pool.query<{ id: string; state: string; retry_count: number }>(
        'SELECT id::text, state, retry_count FROM pgboss.job WHERE name = $1 AND id = ANY($2::uuid[])',
        [QUEUE, ids],
      );
      const byId = new Map(rows.map((row) => [row.id, row]));
      const states = new Map<string, FinalState>();
      for (const id of ids) {
        const row = byId.get(id);
        if (row === undefined) {
          states.set(id, { state: 'failed', locked: false, detail: 'no row' });
          continue;
        }
        const state: QueueState =
          row.state === 'completed'
            ? 'completed'
            : row.state === 'cancelled'
              ? 'terminated'
              : row.state === 'failed'
                ? 'failed'
                : row.state === 'active'
                  ? 'active'
                  : 'queued';
        states.set(id, {
          state,
          locked: row.state === 'active',
          detail: `${row.state}, retry_count ${row.retry_count}`,
        });
      }
      return states;
    },
    // pg-boss's own expiry recovers a dead worker's jobs (see the header).
    recoverDeadWorker: async () => 0,
    // pg-boss records no worker on a job row; the final check counts `active` rows instead.
    lockedBy: async () => [],
    async close() {
      await boss?.stop({ graceful: false, close: true }).catch(() => undefined);
    },
  };
}

export const startPgBossWorker: StartWorker = async ({ url, terminator, concurrency, runJob, report }) => {
  const boss = new PgBoss({
    connectionString: url,
    schedule: false,
    supervise: true,
    superviseIntervalSeconds: 1,
    monitorIntervalSeconds: 1,
    maintenanceIntervalSeconds: 1,
  });
  boss.on('error', (error) => report('queue-error', { error: String((error as Error)?.message ?? error) }));
  await boss.start();
  const jt = pgBossJobterm({ boss, terminator });
  await boss.work(
    QUEUE,
    { batchSize: 1, localConcurrency: concurrency, pollingIntervalSeconds: 0.5 },
    jt.handler<Job<ChaosPayload>>(async ([job]) => runJob(job!.data, job!.id)),
  );
  return [];
};
