import { expected } from '../../core/errors.js';

/**
 * Every statement jobterm runs against graphile-worker's schema, checked
 * against graphile-worker 0.18's migrations (000020). Reads go through the
 * public `jobs` view and the public `permanently_fail_jobs()` function; the
 * two writes that have no public equivalent touch `_private_jobs` and
 * `_private_job_queues` (docs/graphile-worker.md names each column and why).
 */
export interface GraphileSql {
  /** The schema, quoted for SQL. */
  readonly schema: string;
  /**
   * Ends a running job for good: `attempts = max_attempts` (graphile's own
   * `permanentlyFailJobs` skips locked jobs, so it cannot do this) and
   * `last_error`, and releases this pool's locks on the job and its named
   * queue. `$1` job id, `$2` message, `$3` pool id (graphile's `locked_by`).
   */
  readonly endForGood: string;
  /**
   * Puts an interrupted job back at once, its attempt not spent: graphile
   * added 1 to `attempts` when it claimed the job, so this takes it back;
   * `run_at` stays (it was already due, so the job keeps its place) and both
   * locks go. Only safe once the pool has stopped fetching: graphile's own
   * fail write that follows (`where locked_by = <pool>`) must not find the
   * job claimed again by the same pool. `$1` id, `$2` message, `$3` pool id,
   * `$4` retry delay in ms (a throttled iteration; 0: at once).
   */
  readonly putBack: string;
  /**
   * `putBack` for many jobs of one pool in one statement (a shutdown's
   * put-backs, put-back-batch.ts): each row gets exactly the single
   * statement's write under the same fence (`locked_by` = this pool), and a
   * named queue is released only where this pool holds it. The shape of
   * graphile's own batched writes (`batchFailJobs`, `returnJobs`: one
   * `update ... from` a list, then the queues of the rows it returned).
   * `$1` ids, `$2` messages, `$3` retry delays in ms (arrays of one length,
   * ids distinct), `$4` pool id.
   */
  readonly putBackMany: string;
  /**
   * Takes back the claimed attempt but leaves the job locked, for when the
   * pool may still fetch: graphile's fail write then unlocks it (with its
   * retry delay) and no claim can slip in between. `$1` id, `$2` pool id,
   * `$3` retry delay in ms (0: none beyond graphile's).
   */
  readonly refundAttempt: string;
  /**
   * graphile's own complete write (`completeJobs`), for jobs that end while
   * their pool shuts down. `$1` id, `$2` pool id.
   */
  readonly complete: string;
  /**
   * graphile's own fail write (`failJobs`: retry delay `exp(attempts)`
   * seconds), for jobs that end while their pool shuts down. `$1` id,
   * `$2` message, `$3` pool id, `$4` replacement payload (batch jobs) or null.
   */
  readonly fail: string;
  /** `$1` id, `$2` the jobs table's name for `pg_get_serial_sequence`. */
  readonly jobState: string;
  /** `$1` job key. */
  readonly idForKey: string;
  /** graphile's own `permanently_fail_jobs()`: skips locked jobs. `$1` id, `$2` message. */
  readonly cancelQueued: string;
  /** The qualified name of `_private_jobs`, a parameter of `jobState`. */
  readonly jobsTable: string;
}

/** graphile-worker's default, with the same environment override its preset reads. */
export function defaultSchema(): string {
  return process.env.GRAPHILE_WORKER_SCHEMA || 'graphile_worker';
}

/** PostgreSQL's identifier limit (NAMEDATALEN - 1). */
const MAX_IDENTIFIER = 63;

export function checkSchema(schema: unknown): string {
  if (typeof schema !== 'string' || schema.length === 0 || schema.length > MAX_IDENTIFIER || schema.includes('\0')) {
    throw expected('schema', `a PostgreSQL schema name of 1 to ${MAX_IDENTIFIER} characters`, schema);
  }
  return schema;
}

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

const cache = new Map<string, GraphileSql>();

/** The statements for one schema; `schema` is already checked. */
export function graphileSql(schema: string): GraphileSql {
  let sql = cache.get(schema);
  if (sql === undefined) {
    sql = build(quoteIdentifier(schema));
    cache.set(schema, sql);
  }
  return sql;
}

function build(s: string): GraphileSql {
  // Both writes release the named queue the same way graphile's own
  // completeJobs/failJobs do: only if this pool holds it.
  const releaseQueue = (poolParam: string) => `
update ${s}._private_job_queues as job_queues
  set locked_by = null, locked_at = null
  from j
  where job_queues.id = j.job_queue_id and job_queues.locked_by = ${poolParam}::text`;
  return {
    schema: s,
    jobsTable: `${s}._private_jobs`,
    endForGood: `with j as (
  update ${s}._private_jobs as jobs
    set attempts = jobs.max_attempts,
        last_error = $2::text,
        updated_at = now(),
        -- Unlock only if this pool still holds it (the CASEs read the old row).
        locked_at = case when jobs.locked_by = $3::text then null else jobs.locked_at end,
        locked_by = case when jobs.locked_by = $3::text then null else jobs.locked_by end
    where jobs.id = $1::bigint
    returning jobs.job_queue_id
)${releaseQueue('$3')}`,
    putBack: `with j as (
  update ${s}._private_jobs as jobs
    set attempts = greatest(0, jobs.attempts - 1),
        run_at = case when $4::bigint > 0 then now() + $4::bigint * interval '1 millisecond'
                      else least(jobs.run_at, now()) end,
        last_error = $2::text,
        updated_at = now(),
        locked_at = null,
        locked_by = null
    where jobs.id = $1::bigint and jobs.locked_by = $3::text
    returning jobs.job_queue_id
)${releaseQueue('$3')}`,
    // One row of input per job; `update ... from` joins each job row to its
    // own input row (ids are distinct, so no row has two candidates), and
    // every expression is putBack's with `$n` read from that row.
    putBackMany: `with input as (
  select * from unnest($1::bigint[], $2::text[], $3::bigint[]) as t(id, message, delay)
), j as (
  update ${s}._private_jobs as jobs
    set attempts = greatest(0, jobs.attempts - 1),
        run_at = case when input.delay > 0 then now() + input.delay * interval '1 millisecond'
                      else least(jobs.run_at, now()) end,
        last_error = input.message,
        updated_at = now(),
        locked_at = null,
        locked_by = null
    from input
    where jobs.id = input.id and jobs.locked_by = $4::text
    returning jobs.job_queue_id
)${releaseQueue('$4')}`,
    complete: `with j as (
  delete from ${s}._private_jobs as jobs
    where jobs.id = $1::bigint and jobs.locked_by = $2::text
    returning jobs.job_queue_id
)${releaseQueue('$2')}`,
    fail: `with j as (
  update ${s}._private_jobs as jobs
    set last_error = $2::text,
        run_at = greatest(now(), jobs.run_at) + (exp(least(jobs.attempts, 10)) * interval '1 second'),
        locked_by = null,
        locked_at = null,
        payload = coalesce($4::json, jobs.payload)
    where jobs.id = $1::bigint and jobs.locked_by = $3::text
    returning jobs.job_queue_id
)${releaseQueue('$3')}`,
    refundAttempt: `update ${s}._private_jobs as jobs
  set attempts = greatest(0, jobs.attempts - 1),
      run_at = case when $3::bigint > 0 then now() + $3::bigint * interval '1 millisecond' else jobs.run_at end,
      updated_at = now()
  where jobs.id = $1::bigint and jobs.locked_by = $2::text`,
    // A lock older than 4 hours is graphile's "stale" lock (resetLockedAt frees
    // it and permanently_fail_jobs ignores it), so such a job counts as queued.
    // A missing row was completed (graphile deletes completed jobs) if its id
    // was ever issued by the identity sequence; otherwise it never existed.
    jobState: `select
  (select case
      when jobs.locked_at is not null and jobs.locked_at > now() - interval '4 hours' then 'running'
      when jobs.attempts >= jobs.max_attempts then 'finished'
      else 'queued'
    end
    from ${s}.jobs as jobs where jobs.id = $1::bigint) as state,
  coalesce($1::bigint <= pg_sequence_last_value(pg_get_serial_sequence($2::text, 'id')::regclass), false) as issued`,
    idForKey: `select jobs.id::text as id from ${s}.jobs as jobs where jobs.key = $1::text`,
    cancelQueued: `select jobs.id from ${s}.permanently_fail_jobs(array[$1::bigint], $2::text) as jobs`,
  };
}
