import type pg from 'pg';
import type { QueueAdapter } from '../core/adapter.js';

/**
 * The adapter for the queue systems jobterm ships adapters for, sharing the
 * CLI's pool: `terminate()` needs it to canonicalise the id, to store a
 * request only for a job the queue holds, to answer `already_finished` and
 * `not_found`, and to cancel a job that has not started. It reads the queue
 * in the database of --database-url, in the queue's default schema
 * (graphile-worker: $GRAPHILE_WORKER_SCHEMA or graphile_worker; pg-boss:
 * $PGBOSS_SCHEMA or pgboss). Each adapter adds a case here, loading its module
 * dynamically so one queue's peer dependency never loads for another.
 *
 * Other queue names get none: the request is stored, and the worker that runs
 * (or picks up) the job applies it.
 */
export async function adapterFor(
  queue: string,
  pool: pg.Pool,
  env: NodeJS.ProcessEnv,
): Promise<QueueAdapter | undefined> {
  if (queue === 'graphile-worker') {
    const { graphileWorkerAdapter } = await import('../adapters/graphile-worker/adapter.js');
    return graphileWorkerAdapter({ pool });
  }
  if (queue === 'pg-boss') {
    const { pgBossAdapter } = await import('../adapters/pg-boss/adapter.js');
    const schema = env.PGBOSS_SCHEMA;
    return pgBossAdapter(schema === undefined || schema === '' ? { pool } : { pool, schema });
  }
  return undefined;
}
