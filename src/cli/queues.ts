import type pg from 'pg';
import type { QueueAdapter } from '../core/adapter.js';

/**
 * The adapter that lets `jobterm terminate <queue> ...` tell `already_finished`
 * and `not_found` apart, and cancel a job that has not started, for the queue
 * systems jobterm ships adapters for. It shares the CLI's pool.
 *
 * Otherwise the terminator just stores the request, and the worker that runs
 * (or picks up) the job applies it. Each adapter adds a case here, loading its
 * module dynamically so one queue's peer dependency never loads for another.
 */
export async function adapterFor(queue: string, pool: pg.Pool): Promise<QueueAdapter | undefined> {
  if (queue === 'graphile-worker') {
    // graphile's schema as graphile-worker reads it (GRAPHILE_WORKER_SCHEMA, else graphile_worker),
    // when it is in this database.
    const { graphileWorkerAdapter, hasGraphileWorkerSchema } = await import('../adapters/graphile-worker/adapter.js');
    return (await hasGraphileWorkerSchema(pool)) ? graphileWorkerAdapter({ pool }) : undefined;
  }
  if (queue === 'pg-boss') {
    const { pgBossAdapter } = await import('../adapters/pg-boss/adapter.js');
    const { rows } = await pool.query<{ present: boolean }>("select to_regclass('pgboss.job') is not null as present");
    return rows[0]?.present === true ? pgBossAdapter({ pool }) : undefined;
  }
  return undefined;
}
