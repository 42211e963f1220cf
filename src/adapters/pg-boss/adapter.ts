import pg from 'pg';
import type { QueueAdapter, QueueJobState } from '../../core/adapter.js';
import { expected } from '../../core/errors.js';
import type { JobRef } from '../../core/job-ref.js';
import type { TerminationReason } from '../../core/reason.js';
import {
  cancelQueuedSql,
  checkSchema,
  DEFAULT_SCHEMA,
  isUuid,
  jobStateSql,
  recordTerminationSql,
  terminationOutput,
} from './sql.js';
import type { PgBossDb, PgBossLike } from './types.js';

/** The `queue` of every pg-boss job reference: `{ queue: 'pg-boss', name: <queue name>, id }`. */
export const PG_BOSS_QUEUE = 'pg-boss';

export type PgBossAdapterOptions =
  | {
      /** A started `PgBoss`: states are read and queued jobs cancelled through its public API. */
      boss: PgBossLike;
      /** pg-boss's schema, for the one write it has no call for. @default the boss's own, else `'pgboss'` */
      schema?: string;
    }
  | {
      /** A pool on pg-boss's database, for a requester that runs no pg-boss (a CLI, an API server). */
      pool: pg.Pool;
      /** @default 'pgboss' */
      schema?: string;
    }
  | {
      connectionString: string;
      /** @default 'pgboss' */
      schema?: string;
    };

/** A `QueueAdapter` for pg-boss jobs, plus `close()` for a pool it opened itself. */
export interface PgBossAdapter extends QueueAdapter {
  readonly queue: 'pg-boss';
  readonly schema: string;
  jobState(ref: JobRef): Promise<QueueJobState>;
  cancelQueued(ref: JobRef, reason: TerminationReason): Promise<boolean>;
  /** Ends the pool the adapter opened from `connectionString`; does nothing otherwise. Safe to call twice. */
  close(): Promise<void>;
}

const QUEUE_NOT_FOUND = 'PGBOSS_QUEUE_NOT_FOUND';

/**
 * Tells a terminator what pg-boss jobs are doing and cancels the queued ones,
 * so `terminate()` answers `already_finished` / `not_found` and stops a job
 * before it runs. `pgBossJobterm()` adds one for you; build one yourself in a
 * process that only requests terminations:
 *
 * ```ts
 * const terminator = createTerminator({ store, adapters: [pgBossAdapter({ connectionString })] });
 * ```
 */
export function pgBossAdapter(options: PgBossAdapterOptions): PgBossAdapter {
  if (typeof options !== 'object' || options === null) {
    throw expected('options', 'an object with `boss`, `pool` or `connectionString`', options);
  }
  if ('boss' in options && options.boss !== undefined) {
    const boss = checkBoss(options.boss);
    return bossAdapter(boss, resolveSchema(options.schema, boss));
  }
  const schema = checkSchema(options.schema ?? DEFAULT_SCHEMA);
  if ('pool' in options && options.pool !== undefined) {
    if (typeof (options.pool as { query?: unknown }).query !== 'function') {
      throw expected('pool', 'a pg Pool', options.pool);
    }
    return sqlAdapter(options.pool, schema, false);
  }
  if ('connectionString' in options && typeof options.connectionString === 'string' && options.connectionString) {
    const pool = new pg.Pool({ connectionString: options.connectionString, max: 2 });
    // An idle client's error (a restarted server) must not crash the process; the next query reports it.
    pool.on('error', () => {});
    return sqlAdapter(pool, schema, true);
  }
  throw expected('options', 'an object with `boss`, `pool` or `connectionString`', options);
}

export function checkBoss(boss: unknown): PgBossLike {
  const methods = ['cancel', 'fail', 'findJobs', 'offWork', 'stop', 'getWipData', 'getDb'] as const;
  if (
    typeof boss !== 'object' ||
    boss === null ||
    methods.some((m) => typeof (boss as Record<string, unknown>)[m] !== 'function')
  ) {
    throw expected('boss', 'a PgBoss instance (pg-boss 12)', boss);
  }
  return boss as PgBossLike;
}

/** The schema the boss was constructed with, read from its own pool's config when it made one. */
export function resolveSchema(given: unknown, boss: PgBossLike): string {
  if (given !== undefined) return checkSchema(given);
  const own = (boss.getDb() as PgBossDb & { config?: { schema?: unknown } }).config?.schema;
  return checkSchema(typeof own === 'string' ? own : DEFAULT_SCHEMA);
}

/** pg-boss job references name their queue: ids are only unique within one (the primary key is `(name, id)`). */
export function queueName(ref: JobRef): string {
  if (ref.name === undefined) {
    throw expected('job.name', "the pg-boss queue name (`{ queue: 'pg-boss', name, id }`)", ref.name);
  }
  return ref.name;
}

function toQueueState(state: string | undefined): QueueJobState {
  switch (state) {
    case undefined:
      return 'not_found';
    case 'created':
    case 'retry':
      return 'queued';
    case 'active':
      return 'running';
    default:
      // completed, cancelled, failed
      return 'finished';
  }
}

function bossAdapter(boss: PgBossLike, schema: string): PgBossAdapter {
  return {
    queue: PG_BOSS_QUEUE,
    schema,
    async jobState(ref) {
      const name = queueName(ref);
      if (!isUuid(ref.id)) return 'not_found';
      try {
        const [job] = await boss.findJobs(name, { id: ref.id });
        return toQueueState(job?.state);
      } catch (error) {
        if ((error as { code?: unknown })?.code === QUEUE_NOT_FOUND) return 'not_found';
        throw error;
      }
    },
    async cancelQueued(ref, reason) {
      const name = queueName(ref);
      if (!isUuid(ref.id)) return false;
      // pg-boss's own cancel, so its tools show the job cancelled. It also
      // cancels a job a worker claimed a moment ago; the kill request (when a
      // store is configured) still reaches that worker, whose own write is
      // then a no-op.
      await boss
        .getDb()
        .executeSql(recordTerminationSql(schema), [name, ref.id, JSON.stringify(terminationOutput(reason))]);
      const result = (await boss.cancel(name, ref.id)) as { affected?: number } | undefined;
      return (result?.affected ?? 0) > 0;
    },
    async close() {},
  };
}

function sqlAdapter(pool: pg.Pool, schema: string, owned: boolean): PgBossAdapter {
  let closed = false;
  return {
    queue: PG_BOSS_QUEUE,
    schema,
    async jobState(ref) {
      const name = queueName(ref);
      if (!isUuid(ref.id)) return 'not_found';
      const { rows } = await pool.query<{ state: string }>(jobStateSql(schema), [name, ref.id]);
      return toQueueState(rows[0]?.state);
    },
    async cancelQueued(ref, reason) {
      const name = queueName(ref);
      if (!isUuid(ref.id)) return false;
      const { rows } = await pool.query(cancelQueuedSql(schema), [
        name,
        ref.id,
        JSON.stringify(terminationOutput(reason)),
      ]);
      return rows.length > 0;
    },
    async close() {
      if (!owned || closed) return;
      closed = true;
      await pool.end();
    },
  };
}
