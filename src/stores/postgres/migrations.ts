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
  {
    version: 3,
    name: 'worker writes through functions',
    sql: (names) => {
      const t = names.requests;
      const s = names.quotedSchema;
      return `
      -- Workers record delivery and resolution only through these two
      -- functions (SECURITY DEFINER: they run as the schema's owner), so a
      -- worker role needs EXECUTE on them and SELECT on the table, never
      -- UPDATE: it cannot point a request at another job, rewrite its reason,
      -- requester or times, or reopen one. Each moves a request one step along
      -- pending -> delivered -> resolved, once.

      -- Records which worker fired the job's token, once. The terminator sends
      -- it without awaiting it, so the resolve can land first: a resolved
      -- request stays resolved but still gets its deliverer (never dated after
      -- its resolution).
      CREATE FUNCTION ${s}.mark_delivered(request_id uuid, worker text) RETURNS boolean
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
      BEGIN
        IF worker IS NULL OR worker = '' OR char_length(worker) > 200 THEN
          RAISE EXCEPTION 'jobterm: worker must be a non-empty text of at most 200 characters' USING ERRCODE = '22023';
        END IF;
        UPDATE ${t} SET
          status = CASE WHEN status = 'pending' THEN 'delivered' ELSE status END,
          delivered_by = worker,
          delivered_at = CASE WHEN status = 'resolved' THEN least(now(), resolved_at) ELSE now() END
        WHERE id = request_id AND delivered_by IS NULL;
        RETURN FOUND;
      END
      $fn$;

      -- Records how the request ended and announces it, once: a resolved
      -- request is never changed again. With unless_delivered (a requester or
      -- a sweep that re-read the queue and found the job ended), a request a
      -- worker marked delivered is left to that worker, whose answer is on its
      -- way, unless five minutes passed without one (it died in between).
      CREATE FUNCTION ${s}.resolve_request(request_id uuid, result text, worker text, unless_delivered boolean DEFAULT false)
        RETURNS boolean
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
      BEGIN
        IF worker IS NULL OR worker = '' OR char_length(worker) > 200 THEN
          RAISE EXCEPTION 'jobterm: worker must be a non-empty text of at most 200 characters' USING ERRCODE = '22023';
        END IF;
        UPDATE ${t} SET status = 'resolved', outcome = result, resolved_by = worker, resolved_at = now()
        WHERE id = request_id AND status <> 'resolved'
          AND (NOT unless_delivered OR status = 'pending' OR delivered_at < now() - interval '5 minutes');
        IF NOT FOUND THEN
          RETURN false;
        END IF;
        PERFORM pg_notify(${quoteLiteral(names.resolvedChannel)}, request_id::text);
        RETURN true;
      END
      $fn$;

      -- Functions are executable by PUBLIC by default: only the roles granted
      -- EXECUTE (docs/postgres-store.md) may call these.
      REVOKE ALL ON FUNCTION ${s}.mark_delivered(uuid, text) FROM PUBLIC;
      REVOKE ALL ON FUNCTION ${s}.resolve_request(uuid, text, text, boolean) FROM PUBLIC;

      -- Whoever can UPDATE the table (a role granted it before this version,
      -- the owner by mistake): a request never changes job, and a resolved
      -- one keeps its history; only its deliverer may still be recorded, once.
      CREATE FUNCTION ${s}.kill_requests_guard() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
      BEGIN
        IF (NEW.queue, NEW.queue_name, NEW.job_id) IS DISTINCT FROM (OLD.queue, OLD.queue_name, OLD.job_id) THEN
          RAISE EXCEPTION 'jobterm: a kill request never changes job' USING ERRCODE = '42501';
        END IF;
        IF OLD.status = 'resolved' AND (
          (NEW.id, NEW.reason_kind, NEW.reason_message, NEW.requested_by, NEW.requested_at, NEW.expires_at,
           NEW.status, NEW.outcome, NEW.resolved_by, NEW.resolved_at)
          IS DISTINCT FROM
          (OLD.id, OLD.reason_kind, OLD.reason_message, OLD.requested_by, OLD.requested_at, OLD.expires_at,
           OLD.status, OLD.outcome, OLD.resolved_by, OLD.resolved_at)
          OR (OLD.delivered_by IS NOT NULL
              AND (NEW.delivered_by, NEW.delivered_at) IS DISTINCT FROM (OLD.delivered_by, OLD.delivered_at))
        ) THEN
          RAISE EXCEPTION 'jobterm: a resolved kill request is never changed' USING ERRCODE = '42501';
        END IF;
        RETURN NEW;
      END
      $fn$;
      CREATE TRIGGER kill_requests_guard BEFORE UPDATE ON ${t}
        FOR EACH ROW EXECUTE FUNCTION ${s}.kill_requests_guard();
    `;
    },
  },
  FLEET_MIGRATION,
];

/** A SQL string literal; the values passed here are built from validated names. */
function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** The version a fully migrated schema is at. */
export const LATEST_VERSION = MIGRATIONS.length;

// A gap or a duplicate would make a schema skip or repeat a step: fail at load, not in production.
MIGRATIONS.forEach((migration, index) => {
  if (migration.version !== index + 1) {
    throw new Error(`jobterm: migration ${index} has version ${migration.version}; expected ${index + 1}`);
  }
});
