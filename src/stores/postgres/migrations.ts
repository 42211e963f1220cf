import { FLEET_MIGRATION } from './fleet-migration.js';
import type { SchemaNames } from './schema.js';

/**
 * One step of the schema, applied once, in order, inside the migration
 * transaction (see migrate.ts). Never edit a migration that has shipped:
 * append a new one with the next version.
 */
export interface Migration {
  /** 1, 2, 3, ...: consecutive, no gaps. */
  readonly version: number;
  /** What it adds, recorded in the migrations table. */
  readonly name: string;
  /** The SQL, built from validated and quoted names only. */
  sql(names: SchemaNames): string;
}

/**
 * Every migration of the jobterm schema. To add a table (e.g. iteration's
 * progress table), append one entry `{ version: <last + 1>, name, sql }`;
 * `migrate()` applies it under the same lock, and `jobterm migrate` picks it up.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'kill requests',
    sql: ({ requests: t }) => `
      CREATE TABLE ${t} (
        id uuid PRIMARY KEY,
        -- The job: queue system, queue name within it ('' when the queue's ids are global), job id.
        queue text NOT NULL CHECK (queue <> ''),
        queue_name text NOT NULL DEFAULT '',
        job_id text NOT NULL CHECK (job_id <> ''),
        reason_kind text NOT NULL DEFAULT 'kill' CHECK (reason_kind = 'kill'),
        reason_message text NOT NULL,
        requested_by text,
        requested_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'resolved')),
        delivered_by text,
        delivered_at timestamptz,
        outcome text CHECK (outcome IN ('terminated', 'already_finished', 'not_found')),
        resolved_by text,
        resolved_at timestamptz,
        CHECK ((status = 'resolved') = (outcome IS NOT NULL))
      );
      -- At most one open request per job: two requesters at once get the same row (ON CONFLICT on this index).
      -- Being partial, it is also what workers scan to load the open requests (start, poll, resync).
      CREATE UNIQUE INDEX kill_requests_open_job ON ${t} (queue, queue_name, job_id) WHERE status <> 'resolved';
      -- prune() deletes by expiry; \`jobterm requests\` lists newest first.
      CREATE INDEX kill_requests_expires_at ON ${t} (expires_at);
      CREATE INDEX kill_requests_requested_at ON ${t} (requested_at DESC);
      COMMENT ON TABLE ${t} IS 'jobterm: durable kill requests. INSERT here (through jobterm) terminates jobs.';
    `,
  },
  {
    version: 2,
    name: 'iteration progress',
    sql: ({ progress: t }) => `
      CREATE TABLE ${t} (
        -- The job, as in kill_requests.
        queue text NOT NULL CHECK (queue <> ''),
        queue_name text NOT NULL DEFAULT '',
        job_id text NOT NULL CHECK (job_id <> ''),
        -- iterate()'s cursor: a JSON value, checked before it is written.
        cursor jsonb NOT NULL,
        saves integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (queue, queue_name, job_id)
      );
      COMMENT ON TABLE ${t} IS 'jobterm: iterate() cursors of jobs that stopped before finishing; deleted when the iteration completes.';
    `,
  },
  // Version 3 belongs to branch `requests` (kill_requests writes through
  // SECURITY DEFINER functions). This placeholder only keeps the versions
  // consecutive on this branch: at merge, take `requests`' migration 3 and drop it.
  { version: 3, name: 'reserved (requests)', sql: ({ migrations }) => `SELECT 1 FROM ${migrations} LIMIT 0` },
  FLEET_MIGRATION,
];

/** The version a fully migrated schema is at. */
export const LATEST_VERSION = MIGRATIONS.length;

// A gap or a duplicate would make a schema skip or repeat a step: fail at load, not in production.
MIGRATIONS.forEach((migration, index) => {
  if (migration.version !== index + 1) {
    throw new Error(`jobterm: migration ${index} has version ${migration.version}; expected ${index + 1}`);
  }
});
