import { expected } from '../../core/errors.js';
import { describeReason, type TerminationReason } from '../../core/reason.js';

/**
 * jobterm's few statements on pg-boss's own `job` table, for what pg-boss 12
 * has no public call for. Each one is guarded by the job's name, id, state
 * and (where a worker holds it) the attempt, so it never touches a job that
 * moved on. Every value is a parameter; the schema is validated and then
 * interpolated, as pg-boss itself does.
 *
 * They go through the parent `job` table: pg-boss partitions it by `name`
 * (`PARTITION BY LIST (name)`), so PostgreSQL routes each statement to the
 * queue's own table, partitioned queue or not.
 */

/** pg-boss's default schema (`pgboss`), as its `schema` constructor option defaults. */
export const DEFAULT_SCHEMA = 'pgboss';

// pg-boss accepts a bare identifier (folded to lower case, as PostgreSQL does)
// or a double-quoted one used verbatim. jobterm accepts the same two forms,
// without the characters that could end the quoted name.
const BARE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const QUOTED = /^"[A-Za-z0-9_ -]{1,63}"$/;

export function checkSchema(schema: unknown): string {
  if (typeof schema !== 'string' || !(BARE.test(schema) || QUOTED.test(schema))) {
    throw expected('schema', 'a PostgreSQL schema name such as `pgboss` (the one pg-boss was given)', schema);
  }
  return schema;
}

/**
 * Puts an interrupted job back in the queue without spending an attempt:
 * pg-boss 12's own `restore` (used for its localGroupConcurrency excess, not
 * public) does exactly this, so the statement mirrors it. `started_on = NULL`
 * is what makes the next claim keep `retry_count` (pg-boss only increments it
 * when `started_on` is set); `upsert_by_key` is cleared, as restore does, so
 * the job cannot collide in `job_i13` with a newer upsert of its key.
 * `start_after` is already in the past (the job was claimed), so the job is
 * runnable at once, unless the outcome asks for a delay (a throttled
 * iteration): then `start_after` moves to now + the delay, and `keep_until`
 * slides with it by the same retention window, as pg-boss 12's own
 * `updateJob` does, so its deletion sweep (`state < active AND keep_until <
 * now`) cannot remove the waiting job. `output` records why it came back.
 *
 * A job runnable at once then gets the NOTIFY pg-boss's own inserts send
 * (`pg_notify` on `pgboss_` + the first 24 hex digits of sha224(schema),
 * payload the queue name), so workers on `notify` queues fetch it now instead
 * of at their next poll (30 s by default while NOTIFY is active). A delayed
 * one gets none, as pg-boss notifies only for jobs runnable now: workers find
 * it at their first poll after `start_after`.
 *
 * $1 name, $2 id, $3 the attempt's retry_count, $4 output, $5 the schema as
 * pg-boss names its channel, $6 the delay in ms (0: at once).
 */
export function putBackSql(schema: string): string {
  return `WITH back AS (
      UPDATE ${schema}.job
      SET state = 'created', started_on = NULL, heartbeat_on = NULL, upsert_by_key = NULL, output = $4::jsonb,
        start_after = CASE WHEN $6::bigint > 0 THEN now() + $6::bigint * interval '1 millisecond' ELSE start_after END,
        keep_until = CASE WHEN $6::bigint > 0 THEN now() + $6::bigint * interval '1 millisecond' + (keep_until - start_after)
          ELSE keep_until END
      WHERE name = $1 AND id = $2::uuid AND state = 'active' AND retry_count = $3
      RETURNING id
    )
    SELECT id,
      CASE WHEN $6::bigint <= 0 THEN pg_notify('pgboss_' || left(encode(sha224(convert_to($5::text, 'UTF8')), 'hex'), 24), $1) END
    FROM back`;
}

/**
 * `putBackSql` for many jobs in one statement (a shutdown's put-backs), each
 * row with the same state and attempt fences as the single-job statement.
 * The statement is one transaction: a unique violation on one row (a
 * `short`/`stately` queue) writes none of them.
 *
 * $1 names, $2 ids, $3 retry counts, $4 outputs (JSON text), $5 the schema
 * for pg-boss's NOTIFY channel, $6 delays in ms; arrays of one length.
 */
export function putBackManySql(schema: string): string {
  return `WITH input AS (
      SELECT * FROM unnest($1::text[], $2::uuid[], $3::int[], $4::text[], $6::bigint[]) AS t(name, id, retry_count, output, delay)
    ), back AS (
      UPDATE ${schema}.job AS job
      SET state = 'created', started_on = NULL, heartbeat_on = NULL, upsert_by_key = NULL, output = input.output::jsonb,
        start_after = CASE WHEN input.delay > 0 THEN now() + input.delay * interval '1 millisecond' ELSE job.start_after END,
        keep_until = CASE WHEN input.delay > 0 THEN now() + input.delay * interval '1 millisecond' + (job.keep_until - job.start_after)
          ELSE job.keep_until END
      FROM input
      WHERE job.name = input.name AND job.id = input.id AND job.state = 'active' AND job.retry_count = input.retry_count
      RETURNING job.id, job.name, input.delay
    )
    SELECT id,
      CASE WHEN delay <= 0 THEN pg_notify('pgboss_' || left(encode(sha224(convert_to($5::text, 'UTF8')), 'hex'), 24), name) END
    FROM back`;
}

/**
 * The schema text pg-boss hashes into its NOTIFY channel: quotes that change
 * nothing (`"pgboss"`) are dropped, everything else is kept as written
 * (pg-boss 12's `normalizeSchemaName`).
 */
export function notifyChannelSchema(schema: string): string {
  return /^"[a-z_][a-z0-9_]*"$/.test(schema) ? schema.slice(1, -1) : schema;
}

/**
 * Records why a job is being cancelled, just before pg-boss's `cancel()`, so
 * no reader ever sees it cancelled without its reason (`cancel()` writes no
 * output, and a retried job still carries its last failure there). Guarded
 * to unfinished jobs: if the job completes first, its completion writes its
 * own output and the cancel that follows changes nothing.
 *
 * $1 name, $2 id, $3 output.
 */
export function recordTerminationSql(schema: string): string {
  return `UPDATE ${schema}.job SET output = $3::jsonb
    WHERE name = $1 AND id = $2::uuid AND state < 'completed'`;
}

/** A job's state, for a requester without a pg-boss instance. $1 name, $2 id. */
export function jobStateSql(schema: string): string {
  return `SELECT state::text AS state FROM ${schema}.job WHERE name = $1 AND id = $2::uuid`;
}

/**
 * pg-boss's `cancelJobs` for a requester without a pg-boss instance, limited
 * to jobs no worker holds (`created`, `retry`), with the reason in `output`.
 *
 * $1 name, $2 id, $3 output.
 */
export function cancelQueuedSql(schema: string): string {
  return `UPDATE ${schema}.job
    SET state = 'cancelled', completed_on = now(), output = $3::jsonb
    WHERE name = $1 AND id = $2::uuid AND state IN ('created', 'retry')
    RETURNING id`;
}

/** PostgreSQL's unique_violation: a queue policy (short, stately) already holds a queued job with this key. */
export const UNIQUE_VIOLATION = '23505';

/**
 * What jobterm stores in a job's `output` when it ends one: the shape pg-boss
 * gives a failed job's error (`name`, `message`), plus the reason.
 */
export function terminationOutput(reason: TerminationReason): Record<string, unknown> {
  return {
    name: 'JobTerminatedError',
    message: describeReason(reason),
    reason: {
      kind: reason.kind,
      message: reason.message,
      requestedAt: reason.requestedAt.toISOString(),
      ...(reason.requestId === undefined ? {} : { requestId: reason.requestId }),
      ...(reason.requestedBy === undefined ? {} : { requestedBy: reason.requestedBy }),
    },
  };
}
