import pg from 'pg';
import type { QueueAdapter, QueueJobState } from '../../core/adapter.js';
import { expected } from '../../core/errors.js';
import type { JobRef } from '../../core/job-ref.js';
import type { TerminationReason } from '../../core/reason.js';
import {
  describePostgresFailure,
  describePostgresTarget,
  isPostgresUnreadable,
  QueueUnreadableError,
} from '../../core/unavailable.js';
import { canonicalPgBossRef, PG_BOSS_QUEUE } from './ref.js';
import {
  cancelQueuedSql,
  checkSchema,
  DEFAULT_SCHEMA,
  jobStateSql,
  recordTerminationSql,
  terminationOutput,
} from './sql.js';
import type { PgBossDb, PgBossLike } from './types.js';

export { PG_BOSS_QUEUE } from './ref.js';

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
    const where = describePostgresTarget((options.pool as { options?: pg.PoolConfig }).options ?? {});
    return sqlAdapter(options.pool, schema, false, where);
  }
  if ('connectionString' in options && typeof options.connectionString === 'string' && options.connectionString) {
    const { connectionString } = options;
    const pool = new pg.Pool({ connectionString, max: 2, connectionTimeoutMillis: 10_000 });
    // An idle client's error (a restarted server) must not crash the process; the next query reports it.
    pool.on('error', () => {});
    return sqlAdapter(pool, schema, true, describePostgresTarget({ connectionString }));
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

/**
 * Runs one of the adapter's reads or writes, turning the driver's errors into
 * jobterm's: a lost connection is a DatabaseUnavailableError, tables that
 * cannot be read a QueueUnreadableError naming the schema and what to check.
 */
async function guarded<T>(schema: string, where: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (isPostgresUnreadable(error)) {
      const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
      throw new QueueUnreadableError(
        `jobterm: could not read pg-boss's jobs in schema ${schema} at ${where} (${detail}): check that this is pg-boss's database, that pg-boss has started there (it creates its schema), that the schema is right (\`schema\` of pgBossAdapter()), and that this role may read it`,
        { cause: error },
      );
    }
    throw describePostgresFailure(error, where);
  }
}

function bossAdapter(boss: PgBossLike, schema: string): PgBossAdapter {
  const where = "pg-boss's database";
  return {
    queue: PG_BOSS_QUEUE,
    schema,
    canonicalRef: canonicalPgBossRef,
    async jobState(ref) {
      const { name, id } = canonicalPgBossRef(ref) as { name: string; id: string };
      try {
        const [job] = await guarded(schema, where, () => boss.findJobs(name, { id }));
        return toQueueState(job?.state);
      } catch (error) {
        if ((error as { code?: unknown })?.code === QUEUE_NOT_FOUND) return 'not_found';
        throw error;
      }
    },
    async cancelQueued(ref, reason) {
      const { name, id } = canonicalPgBossRef(ref) as { name: string; id: string };
      // pg-boss's own cancel, so its tools show the job cancelled. It also
      // cancels a job a worker claimed a moment ago; the kill request (when a
      // store is configured) still reaches that worker, whose own write is
      // then a no-op.
      return guarded(schema, where, async () => {
        await boss
          .getDb()
          .executeSql(recordTerminationSql(schema), [name, id, JSON.stringify(terminationOutput(reason))]);
        const result = (await boss.cancel(name, id)) as { affected?: number } | undefined;
        return (result?.affected ?? 0) > 0;
      });
    },
    async close() {},
  };
}

function sqlAdapter(pool: pg.Pool, schema: string, owned: boolean, where: string): PgBossAdapter {
  let closed = false;
  return {
    queue: PG_BOSS_QUEUE,
    schema,
    canonicalRef: canonicalPgBossRef,
    async jobState(ref) {
      const { name, id } = canonicalPgBossRef(ref) as { name: string; id: string };
      const { rows } = await guarded(schema, where, () =>
        pool.query<{ state: string }>(jobStateSql(schema), [name, id]),
      );
      return toQueueState(rows[0]?.state);
    },
    async cancelQueued(ref, reason) {
      const { name, id } = canonicalPgBossRef(ref) as { name: string; id: string };
      const { rows } = await guarded(schema, where, () =>
        pool.query(cancelQueuedSql(schema), [name, id, JSON.stringify(terminationOutput(reason))]),
      );
      return rows.length > 0;
    },
    async close() {
      if (!owned || closed) return;
      closed = true;
      await pool.end();
    },
  };
}
