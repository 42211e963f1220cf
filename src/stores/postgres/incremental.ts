import type { JobRef } from '../../core/job-ref.js';
import { COLUMNS, fromRow, OPEN, type Queryable, type Row, type StoredKillRequest, selectByIds } from './requests.js';
import type { SchemaNames } from './schema.js';

/**
 * Polling what changed instead of reloading every open request (migration 4's
 * `change_xid`, set by a trigger on every insert and update).
 *
 * The watermark is `pg_snapshot_xmin()` of the snapshot a read ran in: every
 * transaction older than it has committed or aborted, so a row it wrote that
 * was not visible then never will be, and a row written later gets a newer
 * `change_xid`. Reading `change_xid >= watermark` therefore misses nothing
 * (whatever order concurrent writers commit in), and re-reads the rows of
 * transactions still open at the last read, which is harmless: applying a
 * request is idempotent. A long-running transaction anywhere in the database
 * holds the watermark back, so those polls read more rows, never fewer.
 */

/** A watermark from which the next poll reads, as the text of an `xid8`. */
export type Watermark = string;

/** The watermark now; call it just before a full read, whose snapshot is then newer. */
export async function currentWatermark(db: Queryable): Promise<Watermark> {
  const { rows } = await db.query<{ next: string }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS next');
  return rows[0]!.next;
}

/**
 * The ids of the requests written since `since` (at most `limit`; `more`
 * when there were more), and the next watermark, in one statement, hence
 * one snapshot. Idle, it reads no row: an index range scan past the newest.
 */
export async function selectChangedIds(
  db: Queryable,
  names: SchemaNames,
  since: Watermark,
  limit: number,
): Promise<{ ids: string[]; next: Watermark; more: boolean }> {
  const { rows } = await db.query<{ next: string; ids: string[] }>(
    `SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS next,
       ARRAY(SELECT id::text FROM ${names.requests} WHERE change_xid >= $1::xid8 ORDER BY change_xid LIMIT $2) AS ids`,
    [since, limit + 1],
  );
  const row = rows[0]!;
  return { ids: row.ids.slice(0, limit), next: row.next, more: row.ids.length > limit };
}

/** Rows of the changed requests; re-exported so the store reads through one module. */
export { selectByIds };

/** Open requests, at most `limit` (the store's bound on what it holds in memory). */
export async function selectOpenUpTo(db: Queryable, names: SchemaNames, limit: number): Promise<StoredKillRequest[]> {
  const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM ${names.requests} WHERE ${OPEN} LIMIT $1`, [limit]);
  return rows.map(fromRow);
}

/** The open request for one job, read at its start when the store holds too many to keep in memory. */
export async function selectOpenForJob(
  db: Queryable,
  names: SchemaNames,
  ref: JobRef,
): Promise<StoredKillRequest | undefined> {
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS} FROM ${names.requests}
     WHERE queue = $1 AND queue_name = $2 AND job_id = $3 AND ${OPEN}`,
    [ref.queue, ref.name ?? '', ref.id],
  );
  return rows[0] === undefined ? undefined : fromRow(rows[0]);
}

/** The open requests of these jobs (the ones running here, after a full read above the bound). */
export async function selectOpenForJobs(
  db: Queryable,
  names: SchemaNames,
  refs: readonly JobRef[],
): Promise<StoredKillRequest[]> {
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS} FROM ${names.requests}
     WHERE (queue, queue_name, job_id) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[])) AND ${OPEN}`,
    [refs.map((ref) => ref.queue), refs.map((ref) => ref.name ?? ''), refs.map((ref) => ref.id)],
  );
  return rows.map(fromRow);
}
