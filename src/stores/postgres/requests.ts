import type { JobRef } from '../../core/job-ref.js';
import { makeReason } from '../../core/reason.js';
import type { KillRequest, RequestOutcome, RequestStatus } from '../../core/store.js';
import type { SchemaNames } from './schema.js';

/** Anything that runs a query: a pool or a client. */
export interface Queryable {
  query<R extends object>(text: string, values?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
}

/** A client that can run a named prepared statement. */
export interface PreparingQueryable {
  query<R extends object>(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: R[] }>;
}

/** A kill request as stored, with the bookkeeping `jobterm requests` shows. */
export interface StoredKillRequest extends KillRequest {
  readonly deliveredBy?: string;
  readonly deliveredAt?: Date;
  /** Past `expiresAt` and never resolved: no worker applies it any more; `prune()` deletes it. */
  readonly expired: boolean;
}

export interface Row {
  id: string;
  queue: string;
  queue_name: string;
  job_id: string;
  reason_message: string;
  requested_by: string | null;
  requested_at: Date;
  expires_at: Date;
  status: RequestStatus;
  delivered_by: string | null;
  delivered_at: Date | null;
  outcome: RequestOutcome | null;
  resolved_by: string | null;
  resolved_at: Date | null;
  expired: boolean;
}

export const COLUMNS = `id, queue, queue_name, job_id, reason_message, requested_by, requested_at, expires_at, status,
  delivered_by, delivered_at, outcome, resolved_by, resolved_at, (status <> 'resolved' AND expires_at <= now()) AS expired`;

/** Unresolved and not expired: what workers apply. Implies the predicate of the partial index `kill_requests_open_job`. */
export const OPEN = `status <> 'resolved' AND expires_at > now()`;

/**
 * Stores a request and announces it. The usual case is one statement (one
 * round trip, one implicit transaction, and the NOTIFY goes out only if the
 * row commits), kept simple because planning it is on the latency path of
 * every `terminate()`.
 *
 * A job that already has an open request keeps it: the caller gets that row
 * back (its id differs from the one proposed). An expired request for the job
 * no longer counts: the new one takes its row (the unique index allows one
 * unresolved row per job, and an index predicate cannot mention now()). Two
 * requesters at once: the second's INSERT waits on the first's index entry,
 * then conflicts and takes the first's row. If that row is resolved in
 * between, the INSERT is tried again.
 */
export async function insertRequest(
  db: Queryable,
  names: SchemaNames,
  input: { id: string; ref: JobRef; message: string; requestedBy: string | undefined; expiresAt: Date },
): Promise<StoredKillRequest> {
  const values = [
    input.id,
    input.ref.queue,
    input.ref.name ?? '',
    input.ref.id,
    input.message,
    input.requestedBy ?? null,
    input.expiresAt,
    names.requestChannel,
  ];
  for (let attempt = 0; attempt < 5; attempt++) {
    // Only what the server decides comes back; the rest is known here (parsing a full row costs on this path).
    const inserted = await db.query<{ requested_at: Date }>(
      `INSERT INTO ${names.requests} (id, queue, queue_name, job_id, reason_message, requested_by, expires_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7)
      ON CONFLICT (queue, queue_name, job_id) WHERE status <> 'resolved' DO NOTHING
      RETURNING requested_at, pg_notify($8, id::text)::text AS notified`,
      values,
    );
    const created = inserted.rows[0];
    if (created !== undefined) {
      return {
        id: input.id,
        ref: input.ref,
        reason: makeReason('kill', input.message, {
          requestId: input.id,
          requestedAt: created.requested_at,
          ...(input.requestedBy === undefined ? {} : { requestedBy: input.requestedBy }),
        }),
        expiresAt: input.expiresAt,
        status: 'pending',
        expired: false,
      };
    }
    // The job has an unresolved request: take over an expired one, or return the open one, announced
    // again (delivery is idempotent, and a worker that missed it gets another chance).
    const existing = await db.query<Row>(
      `WITH expired AS (
        UPDATE ${names.requests} SET id = $1, reason_message = $5, requested_by = $6, requested_at = now(),
          expires_at = $7, status = 'pending', delivered_by = NULL, delivered_at = NULL
        WHERE queue = $2 AND queue_name = $3 AND job_id = $4 AND status <> 'resolved' AND expires_at <= now()
        RETURNING *
      ), req AS (
        SELECT * FROM expired
        UNION ALL
        SELECT * FROM ${names.requests}
        WHERE queue = $2 AND queue_name = $3 AND job_id = $4 AND status <> 'resolved' AND expires_at > now()
      )
      SELECT ${COLUMNS}, pg_notify($8, req.id::text)::text AS notified FROM req`,
      values,
    );
    if (existing.rows[0] !== undefined) return fromRow(existing.rows[0]);
  }
  throw new Error('jobterm: could not store the kill request: the open request for the job kept changing');
}

/** Every open request: the workers' full load (start, poll, resync). */
export async function selectOpen(db: Queryable, names: SchemaNames): Promise<StoredKillRequest[]> {
  const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM ${names.requests} WHERE ${OPEN}`);
  return rows.map(fromRow);
}

/**
 * The requests with these ids, whatever their state (the ids come from NOTIFY
 * payloads). With `prepared`, a named prepared statement: only for the
 * dedicated LISTEN connection, where it saves planning on every delivery;
 * pool connections may sit behind a transaction-mode pooler that cannot keep one.
 */
export async function selectByIds(
  db: Queryable | PreparingQueryable,
  names: SchemaNames,
  ids: readonly string[],
  prepared = false,
): Promise<StoredKillRequest[]> {
  // One id is the usual case (a NOTIFY per request); `= $1` plans and binds a little faster than `= ANY`.
  const one = ids.length === 1;
  const text = `SELECT ${COLUMNS} FROM ${names.requests} WHERE ${one ? 'id = $1::uuid' : 'id = ANY($1::uuid[])'}`;
  const values = one ? [ids[0]] : [ids];
  const { rows } = prepared
    ? await (db as PreparingQueryable).query<Row>({
        name: `jobterm_lookup_${one ? 'one' : 'many'}_${names.hash}`,
        text,
        values,
      })
    : await (db as Queryable).query<Row>(text, values);
  return rows.map(fromRow);
}

/**
 * Records which worker fired the token. The terminator sends this without
 * awaiting it, so the job can settle and its resolve land first: a resolved
 * request stays resolved, but still gets its deliverer recorded (once, and
 * never dated after its resolution). An unresolved one records the latest
 * deliverer (a second worker after the first died).
 */
export async function updateDelivered(db: Queryable, names: SchemaNames, id: string, workerId: string): Promise<void> {
  await db.query(
    `UPDATE ${names.requests} SET
       status = CASE WHEN status = 'pending' THEN 'delivered' ELSE status END,
       delivered_by = $2,
       delivered_at = CASE WHEN status = 'resolved' THEN least(now(), resolved_at) ELSE now() END
     WHERE id = $1 AND (status <> 'resolved' OR delivered_by IS NULL)`,
    [id, workerId],
  );
}

/**
 * Records the outcome and announces it, once: a second resolve of the same
 * request changes nothing and announces nothing. Returns whether this call
 * resolved it.
 */
export async function updateResolved(
  db: Queryable,
  names: SchemaNames,
  id: string,
  outcome: RequestOutcome,
  workerId: string,
): Promise<boolean> {
  const { rows } = await db.query(
    `WITH done AS (
      UPDATE ${names.requests} SET status = 'resolved', outcome = $2, resolved_by = $3, resolved_at = now()
      WHERE id = $1 AND status <> 'resolved'
      RETURNING id
    )
    SELECT pg_notify($4, done.id::text)::text AS notified FROM done`,
    [id, outcome, workerId, names.resolvedChannel],
  );
  return rows.length > 0;
}

export async function selectRecent(
  db: Queryable,
  names: SchemaNames,
  options: { pending: boolean; limit: number },
): Promise<StoredKillRequest[]> {
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS} FROM ${names.requests} ${options.pending ? `WHERE ${OPEN}` : ''}
     ORDER BY requested_at DESC, id LIMIT $1`,
    [options.limit],
  );
  return rows.map(fromRow);
}

/** Deletes expired requests, resolved or not, in batches so no statement holds many row locks for long. */
export async function deleteExpired(db: Queryable, names: SchemaNames, batch = 1_000): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await db.query(
      `DELETE FROM ${names.requests} WHERE id IN (
         SELECT id FROM ${names.requests} WHERE expires_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED
       )`,
      [batch],
    );
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < batch) return total;
  }
}

export function fromRow(row: Row): StoredKillRequest {
  const ref: JobRef =
    row.queue_name === ''
      ? { queue: row.queue, id: row.job_id }
      : { queue: row.queue, id: row.job_id, name: row.queue_name };
  return {
    id: row.id,
    ref,
    reason: makeReason('kill', row.reason_message, {
      requestId: row.id,
      requestedAt: row.requested_at,
      ...(row.requested_by === null ? {} : { requestedBy: row.requested_by }),
    }),
    expiresAt: row.expires_at,
    status: row.status,
    ...(row.outcome === null ? {} : { outcome: row.outcome }),
    ...(row.resolved_by === null ? {} : { resolvedBy: row.resolved_by }),
    ...(row.resolved_at === null ? {} : { resolvedAt: row.resolved_at }),
    ...(row.delivered_by === null ? {} : { deliveredBy: row.delivered_by }),
    ...(row.delivered_at === null ? {} : { deliveredAt: row.delivered_at }),
    expired: row.expired,
  };
}

/** A request id as the store writes it (a UUID); anything else in a NOTIFY payload is ignored. */
export const REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
