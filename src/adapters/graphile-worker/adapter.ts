import pg from 'pg';
import type { QueueAdapter, QueueJobState } from '../../core/adapter.js';
import { expected } from '../../core/errors.js';
import { type JobRef, validateJobRef } from '../../core/job-ref.js';
import { describeReason, type TerminationReason } from '../../core/reason.js';
import {
  describePostgresFailure,
  describePostgresTarget,
  isPostgresUnreadable,
  QueueUnreadableError,
} from '../../core/unavailable.js';
import { canonicalJobId, checkJobKey, GRAPHILE_WORKER_QUEUE, jobRef } from './ref.js';
import { checkSchema, defaultSchema, type GraphileSql, graphileSql } from './sql.js';

/** Runs one statement and returns its rows: a pg pool, or graphile's `withPgClient`. */
export type Query = (text: string, values: readonly unknown[]) => Promise<Array<Record<string, unknown>>>;

export interface GraphileWorkerAdapterOptions {
  /**
   * A pg pool (or client) on graphile-worker's database. jobterm runs one
   * short query per `terminate()` on it and never closes it.
   */
  pool?: { query(text: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }> };
  /** Used when no `pool` is given: jobterm opens a pool of at most 2 connections, closed by `close()`. */
  connectionString?: string;
  /** graphile-worker's schema. @default process.env.GRAPHILE_WORKER_SCHEMA || 'graphile_worker' */
  schema?: string;
}

/** What `terminate()` needs to know about graphile-worker jobs that do not run in this process. */
export interface GraphileWorkerAdapter extends QueueAdapter {
  readonly queue: typeof GRAPHILE_WORKER_QUEUE;
  /**
   * `running` (locked by a worker in the last 4 hours), `queued` (waiting,
   * retrying, or stale-locked), `finished` (permanently failed, or deleted
   * after completing), `not_found` (no job ever had this id).
   */
  jobState(ref: JobRef): Promise<QueueJobState>;
  /** Permanently fails the job through graphile's `permanently_fail_jobs()`; false if a worker holds it. */
  cancelQueued(ref: JobRef, reason: TerminationReason): Promise<boolean>;
  /**
   * The reference of the job that holds `jobKey` now, or undefined. Resolve
   * a key right before terminating: graphile moves a key to a new job when
   * it is replaced while running.
   */
  refForKey(jobKey: string): Promise<JobRef | undefined>;
  /** Closes the pool jobterm opened for `connectionString`; a pool you passed is left open. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * The requester side of jobterm's graphile-worker support, for processes
 * that terminate jobs without running them (an API server, the CLI): pass it
 * as `createTerminator({ adapters: [graphileWorkerAdapter(...)] })` so that
 * `terminate()` answers `already_finished` and `not_found` and cancels
 * queued jobs. Worker processes get one from the plugin.
 */
export function graphileWorkerAdapter(options: GraphileWorkerAdapterOptions): GraphileWorkerAdapter {
  if (typeof options !== 'object' || options === null) throw expected('options', 'an object', options);
  const { pool, connectionString } = options;
  const schema = checkSchema(options.schema ?? defaultSchema());
  if (pool !== undefined && connectionString !== undefined) {
    throw expected('options', 'an object with `pool` or `connectionString`, not both', 'both');
  }
  if (pool !== undefined) {
    if (typeof pool !== 'object' || pool === null || typeof pool.query !== 'function') {
      throw expected('pool', 'a pg Pool or Client', pool);
    }
    const where = describePostgresTarget((pool as { options?: pg.PoolConfig }).options ?? {});
    return makeGraphileWorkerAdapter(async (text, values) => (await pool.query(text, [...values])).rows, schema, {
      where,
    });
  }
  if (typeof connectionString !== 'string' || connectionString.length === 0) {
    throw expected('connectionString', 'a PostgreSQL connection string (or pass `pool`)', connectionString);
  }
  const own = new pg.Pool({ connectionString, max: 2, connectionTimeoutMillis: 10_000 });
  // An idle client's error (server restart) must not crash the process; the next query reconnects.
  own.on('error', () => {});
  let closed: Promise<void> | undefined;
  return makeGraphileWorkerAdapter(async (text, values) => (await own.query(text, [...values])).rows, schema, {
    where: describePostgresTarget({ connectionString }),
    close: () => {
      closed ??= own.end();
      return closed;
    },
  });
}

/**
 * The adapter over any way of running a query, e.g. graphile's `withPgClient`
 * inside a worker. `where` names the database in errors (host:port/db).
 */
export function makeGraphileWorkerAdapter(
  run: Query,
  schema: string,
  options: { where?: string; close?: () => Promise<void> } = {},
): GraphileWorkerAdapter {
  const sql: GraphileSql = graphileSql(schema);
  const where = options.where ?? "graphile-worker's database";
  // One error per kind of failure, whichever statement hit it: a lost
  // connection is DatabaseUnavailableError, unreadable tables QueueUnreadableError.
  const query: Query = async (text, values) => {
    try {
      return await run(text, values);
    } catch (error) {
      if (isPostgresUnreadable(error)) {
        const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
        throw new QueueUnreadableError(
          `jobterm: could not read graphile-worker's jobs in schema "${schema}" at ${where} (${detail}): check that this is graphile-worker's database, that graphile-worker has run there (it creates its schema on start), that the schema is right (\`schema\` of graphileWorkerAdapter(), or GRAPHILE_WORKER_SCHEMA), and that this role may read it`,
          { cause: error },
        );
      }
      throw describePostgresFailure(error, where);
    }
  };
  return {
    queue: GRAPHILE_WORKER_QUEUE,
    canonicalRef: (ref) => ({ queue: GRAPHILE_WORKER_QUEUE, id: idOf(ref) }),
    async jobState(ref) {
      const id = idOf(ref);
      const [row] = await query(sql.jobState, [id, sql.jobsTable]);
      const state = row?.state as QueueJobState | null | undefined;
      if (state) return state;
      return row?.issued === true ? 'finished' : 'not_found';
    },
    async cancelQueued(ref, reason) {
      const id = idOf(ref);
      const rows = await query(sql.cancelQueued, [id, describeReason(reason)]);
      return rows.length > 0;
    },
    async refForKey(jobKey) {
      const [row] = await query(sql.idForKey, [checkJobKey(jobKey)]);
      return row === undefined ? undefined : jobRef(String(row.id));
    },
    close: options.close ?? (async () => {}),
  };
}

/** A graphile reference's id, canonical; graphile ids are unique across its queues, so a `name` could never match a running job. */
function idOf(ref: JobRef): string {
  const checked = validateJobRef(ref);
  if (checked.queue !== GRAPHILE_WORKER_QUEUE) {
    throw expected('job.queue', `'${GRAPHILE_WORKER_QUEUE}'`, checked.queue);
  }
  if (checked.name !== undefined) {
    throw expected('job.name', 'undefined for graphile-worker (its job ids are unique across queues)', checked.name);
  }
  return canonicalJobId(checked.id);
}
