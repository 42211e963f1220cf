import { fileURLToPath } from 'node:url';
import { Logger, makeWorkerUtils, runMigrations, type TaskSpec, type WorkerUtils } from 'graphile-worker';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { spawnWorker, type WorkerMessage, type WorkerProcess } from '../../support/processes.js';

export const workerScript = fileURLToPath(new URL('../../fixtures/graphile-worker/worker.ts', import.meta.url));

/** graphile's rows as the tests assert them. */
export interface JobRow {
  id: string;
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  locked_at: Date | null;
  locked_by: string | null;
  run_at: Date;
  job_queue_id: number | null;
  is_available: boolean;
  now: Date;
}

const quiet = new Logger(() => () => {});

export interface GraphileTestDatabase {
  readonly db: TestDatabase;
  readonly utils: WorkerUtils;
  /** Adds a `work` job (the fixture's only task) and returns its id. */
  addJob(payload: Record<string, unknown>, spec?: TaskSpec): Promise<string>;
  row(id: string): Promise<JobRow | undefined>;
  /** Rows of jobs and named queues still locked: must be none after every shutdown. */
  locked(): Promise<{ jobs: number; queues: number }>;
  /** Deletes every job and named queue, between tests (after the workers are gone). */
  reset(): Promise<void>;
  /** Starts a fixture worker and waits until it is ready. */
  startWorker(env?: Record<string, string>): Promise<WorkerProcess>;
  close(): Promise<void>;
}

/**
 * A pg pool with error handlers, for graphile calls in the test process:
 * graphile ends the pools it makes itself without awaiting them and removes
 * their error handlers first, so dropping the database right after could
 * raise an unhandled error from one of their closing connections.
 */
export function makeTestPool(url: string, max = 4): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

export async function prepareGraphileDatabase(): Promise<GraphileTestDatabase> {
  const db = await createTestDatabase('jobterm_gw');
  const pgPool = makeTestPool(db.url);
  await runMigrations({ pgPool, logger: quiet });
  const utils = await makeWorkerUtils({ pgPool, logger: quiet });
  return {
    db,
    utils,
    async addJob(payload, spec = {}) {
      const job = await utils.addJob('work', payload, spec);
      return String(job.id);
    },
    async row(id) {
      const [row] = await db.query<JobRow>(
        `select id::text, attempts, max_attempts, last_error, locked_at, locked_by, run_at, job_queue_id, is_available, now() as now
           from graphile_worker._private_jobs where id = $1`,
        [id],
      );
      return row;
    },
    async locked() {
      const [row] = await db.query<{ jobs: number; queues: number }>(
        `select (select count(*)::int from graphile_worker._private_jobs where locked_at is not null) as jobs,
                (select count(*)::int from graphile_worker._private_job_queues where locked_at is not null) as queues`,
      );
      return row!;
    },
    async reset() {
      await db.query('delete from graphile_worker._private_jobs');
      await db.query('delete from graphile_worker._private_job_queues');
    },
    async startWorker(env = {}) {
      const worker = spawnWorker(workerScript, { env: { DATABASE_URL: db.url, ...env } });
      await worker.waitFor('ready', 30_000);
      return worker;
    },
    async close() {
      await utils.release();
      await pgPool.end();
      await db.drop();
    },
  };
}

/** Messages of one event, optionally for one job. */
export function events(worker: WorkerProcess, event: string, id?: string): WorkerMessage[] {
  return worker.messages.filter((m) => m.event === event && (id === undefined || m.id === id));
}

export function forJob(event: string, id: string) {
  return (m: WorkerMessage) => m.event === event && m.id === id;
}
