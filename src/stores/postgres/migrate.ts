import type pg from 'pg';
import { LATEST_VERSION, MIGRATIONS } from './migrations.js';
import type { SchemaNames } from './schema.js';

/** What `migrate()` did. */
export interface MigrationResult {
  /** The schema's version before. 0 when it did not exist. */
  readonly from: number;
  /** Its version now. */
  readonly to: number;
  /** The versions applied by this call; empty when it was up to date. */
  readonly applied: readonly number[];
}

/** Any PostgreSQL error code that means "the schema or table is not there yet". */
const MISSING = new Set(['42P01', '3F000']);

/**
 * Brings the schema to the latest version. Idempotent and safe to run from
 * many processes at once: the work runs in one transaction under an advisory
 * lock keyed on the schema name, so a second migrator waits, then finds
 * nothing left to do. A schema already up to date is detected with one read
 * and no lock or DDL, so a role without CREATE (a requester) can use a store
 * whose schema someone else migrated.
 */
export async function migrate(pool: pg.Pool, names: SchemaNames): Promise<MigrationResult> {
  const current = await readVersion(pool, names);
  if (current !== undefined && current >= LATEST_VERSION) return { from: current, to: current, applied: [] };

  const client = await pool.connect();
  let released = false;
  try {
    await client.query('BEGIN');
    // Two int4 keys: a fixed one for jobterm's migrations and one per schema, so
    // migrating one schema never waits on another's.
    await client.query("SELECT pg_advisory_xact_lock(hashtext('jobterm:migrate'), hashtext($1))", [names.schema]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${names.quotedSchema}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${names.migrations} (
         version integer PRIMARY KEY,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ version: number }>(
      `SELECT coalesce(max(version), 0)::int AS version FROM ${names.migrations}`,
    );
    const from = rows[0]?.version ?? 0;
    const applied: number[] = [];
    for (const migration of MIGRATIONS) {
      if (migration.version <= from) continue;
      await client.query(migration.sql(names));
      await client.query(`INSERT INTO ${names.migrations} (version, name) VALUES ($1, $2)`, [
        migration.version,
        migration.name,
      ]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
    // A newer jobterm may have migrated further; this one then leaves it as is.
    return { from, to: Math.max(from, LATEST_VERSION), applied };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    // The connection may be in a bad state after a failed DDL; do not return it to the pool.
    client.release(error instanceof Error ? error : true);
    released = true;
    throw error;
  } finally {
    if (!released) client.release();
  }
}

/** The schema's version, or undefined when it has no migrations table yet. */
export async function readVersion(pool: pg.Pool, names: SchemaNames): Promise<number | undefined> {
  try {
    const { rows } = await pool.query<{ version: number }>(
      `SELECT coalesce(max(version), 0)::int AS version FROM ${names.migrations}`,
    );
    return rows[0]?.version ?? 0;
  } catch (error) {
    if (MISSING.has((error as { code?: string }).code ?? '')) return undefined;
    throw error;
  }
}
