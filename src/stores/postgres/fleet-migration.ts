import { fleetNames } from './fleet-names.js';
import type { Migration } from './migrations.js';
import type { SchemaNames } from './schema.js';

/**
 * Migration 4: worker presence (docs/fleet.md) and what incremental polling
 * and the fleet view need on kill_requests. Additive only on kill_requests:
 * new columns and a trigger, so it composes with migration 3's SECURITY
 * DEFINER write functions.
 *
 * Roles are enforced here, not by convention: no application role gets a
 * privilege on `workers`; every write goes through a SECURITY DEFINER
 * function that checks the caller holds the row's secret (a heartbeat, a
 * deregistration) or that the row is dead in the database's own clock (a
 * rescue). Functions are revoked from PUBLIC; docs/fleet.md lists the GRANTs.
 */
export const FLEET_MIGRATION: Migration = {
  version: 4,
  name: 'fleet: worker presence, signalled/escalated, change tracking',
  sql: (names: SchemaNames) => {
    const f = fleetNames(names);
    const t = names.requests;
    // Every function pins its search_path, so a caller cannot shadow a
    // built-in with an object of its own (SECURITY DEFINER hygiene).
    const definer = 'SECURITY DEFINER SET search_path = pg_catalog, pg_temp';
    // The queue-side ids a heartbeat claims, from its record.
    const claimed = `SELECT DISTINCT q->>'queue' AS queue, id AS queue_id FROM jsonb_array_elements(p_record->'queues') AS q,
      jsonb_array_elements_text(coalesce(q->'queueIds', '[]'::jsonb)) AS id`;
    const dead = (alias: string) => `${alias}.last_seen_at + ${alias}.dead_after * interval '1 millisecond' < now()`;
    return `
      ALTER TABLE ${t}
        -- When a worker first fired the job's token (a copy of the first delivered_at, kept by the trigger below).
        ADD COLUMN signalled_at timestamptz,
        -- When the job ignored its token past killTimeout and jobterm settled it without it.
        ADD COLUMN escalated_at timestamptz,
        ADD COLUMN escalated_by text,
        -- The transaction that last wrote the row: workers poll what changed since a watermark (incremental.ts).
        ADD COLUMN change_xid xid8,
        -- withdraw(): the requester took it back before any worker applied it (it is then expired, never applied).
        ADD COLUMN withdrawn_at timestamptz,
        ADD COLUMN withdrawn_by text;
      CREATE INDEX kill_requests_change_xid ON ${t} (change_xid);

      CREATE FUNCTION ${f.trackChange}() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
      BEGIN
        NEW.change_xid := pg_current_xact_id();
        -- An expired request's row taken over by a new request starts afresh.
        IF TG_OP = 'UPDATE' AND NEW.id <> OLD.id THEN
          NEW.signalled_at := NULL;
          NEW.escalated_at := NULL;
          NEW.escalated_by := NULL;
        END IF;
        IF NEW.delivered_at IS NOT NULL AND NEW.signalled_at IS NULL THEN
          NEW.signalled_at := NEW.delivered_at;
        END IF;
        RETURN NEW;
      END
      $fn$;
      CREATE TRIGGER kill_requests_track_change BEFORE INSERT OR UPDATE ON ${t}
        FOR EACH ROW EXECUTE FUNCTION ${f.trackChange}();

      CREATE FUNCTION ${f.markEscalated}(p_id uuid, p_worker text) RETURNS void LANGUAGE sql ${definer} AS $fn$
        UPDATE ${t} SET escalated_at = now(), escalated_by = p_worker
        WHERE id = p_id AND escalated_at IS NULL;
      $fn$;

      -- Withdraws a request no worker has applied yet: it expires now, so no worker applies it, and the NOTIFY on
      -- the resolved channel makes every worker drop it from memory. A delivered or resolved one is left alone.
      CREATE FUNCTION ${f.withdraw}(p_id uuid, p_by text) RETURNS text LANGUAGE plpgsql ${definer} AS $fn$
      DECLARE
        v_status text;
        v_expired boolean;
      BEGIN
        SELECT status, expires_at <= now() INTO v_status, v_expired FROM ${t} WHERE id = p_id FOR UPDATE;
        IF NOT FOUND THEN RETURN 'not_found'; END IF;
        IF v_status <> 'pending' THEN RETURN v_status; END IF;
        IF v_expired THEN RETURN 'expired'; END IF;
        UPDATE ${t} SET expires_at = now(), withdrawn_at = now(), withdrawn_by = p_by WHERE id = p_id;
        PERFORM pg_notify(${literal(names.resolvedChannel)}, p_id::text);
        RETURN 'withdrawn';
      END
      $fn$;

      CREATE TABLE ${f.workers} (
        -- One per terminator instance (a UUID made at start), so a restart with the same host and pid is a new row.
        instance_id uuid PRIMARY KEY,
        -- sha256 of a secret only that instance holds: what makes a heartbeat or a deregistration its own.
        secret_hash bytea NOT NULL,
        worker_id text NOT NULL,
        host text NOT NULL,
        pid integer NOT NULL,
        -- [{ queue, names?, queueIds? }]; queue_systems is the set of queue values, for rescue's filter.
        queues jsonb NOT NULL DEFAULT '[]',
        queue_systems text[] NOT NULL DEFAULT '{}',
        versions jsonb NOT NULL DEFAULT '{}',
        -- The running jobs as of the last heartbeat: [{ queue, name?, id, task?, attempt?, isolated?, queueWorkerId?, startedAt, termination? }].
        jobs jsonb NOT NULL DEFAULT '[]',
        started_at timestamptz NOT NULL,
        last_seen_at timestamptz NOT NULL DEFAULT now(),
        heartbeat_interval integer NOT NULL CHECK (heartbeat_interval > 0),
        -- The worker's own dead threshold in ms: a rescuer never applies a shorter one of its own.
        dead_after integer NOT NULL CHECK (dead_after > heartbeat_interval),
        rescue_by text,
        rescue_at timestamptz
      );
      CREATE INDEX workers_last_seen_at ON ${f.workers} (last_seen_at);
      COMMENT ON TABLE ${f.workers} IS 'jobterm: live workers (heartbeats). Written only through jobterm''s presence_* functions.';

      -- A queue-side id (a graphile-worker pool id) belongs to one worker: a forged row cannot claim a live pool's id
      -- and so cannot get that pool's jobs unlocked by a rescue.
      CREATE TABLE ${f.workerQueueIds} (
        queue text NOT NULL,
        queue_id text NOT NULL,
        instance_id uuid NOT NULL REFERENCES ${f.workers} (instance_id) ON DELETE CASCADE,
        PRIMARY KEY (queue, queue_id)
      );
      CREATE INDEX worker_queue_ids_instance ON ${f.workerQueueIds} (instance_id);

      CREATE VIEW ${f.fleetView} AS
        SELECT instance_id, worker_id, host, pid, queues, versions, jobs, started_at, last_seen_at,
          heartbeat_interval, dead_after, rescue_by, rescue_at, NOT (${dead('w')}) AS alive
        FROM ${f.workers} AS w;

      CREATE FUNCTION ${f.heartbeat}(p_instance uuid, p_secret text, p_record jsonb) RETURNS text
      LANGUAGE plpgsql ${definer} AS $fn$
      DECLARE
        v_hash bytea;
        v_found ${f.workers}%ROWTYPE;
        v_result text;
        v_taken integer;
      BEGIN
        IF p_secret IS NULL OR length(p_secret) < 32 THEN
          RAISE EXCEPTION 'jobterm: a presence secret has at least 32 characters' USING ERRCODE = '22023';
        END IF;
        v_hash := sha256(convert_to(p_secret, 'UTF8'));
        SELECT * INTO v_found FROM ${f.workers} WHERE instance_id = p_instance FOR UPDATE;
        IF FOUND THEN
          IF v_found.secret_hash <> v_hash THEN
            RAISE EXCEPTION 'jobterm: worker % is another process''s presence', p_instance USING ERRCODE = '42501';
          END IF;
          -- A rescue is handing its jobs back: the worker is dead as far as the fleet knows.
          IF v_found.rescue_by IS NOT NULL THEN
            RETURN 'refused';
          END IF;
          UPDATE ${f.workers} SET
            worker_id = p_record->>'workerId', host = p_record->>'host', pid = (p_record->>'pid')::integer,
            queues = p_record->'queues',
            queue_systems = ARRAY(SELECT DISTINCT q->>'queue' FROM jsonb_array_elements(p_record->'queues') AS q),
            versions = p_record->'versions', jobs = p_record->'jobs', last_seen_at = now(),
            heartbeat_interval = (p_record->>'heartbeatInterval')::integer, dead_after = (p_record->>'deadAfter')::integer
          WHERE instance_id = p_instance;
          v_result := 'refreshed';
        ELSE
          INSERT INTO ${f.workers} (instance_id, secret_hash, worker_id, host, pid, queues, queue_systems, versions, jobs,
            started_at, heartbeat_interval, dead_after)
          VALUES (p_instance, v_hash, p_record->>'workerId', p_record->>'host', (p_record->>'pid')::integer,
            p_record->'queues',
            ARRAY(SELECT DISTINCT q->>'queue' FROM jsonb_array_elements(p_record->'queues') AS q),
            p_record->'versions', p_record->'jobs', (p_record->>'startedAt')::timestamptz,
            (p_record->>'heartbeatInterval')::integer, (p_record->>'deadAfter')::integer);
          v_result := 'created';
        END IF;
        WITH n AS (${claimed})
        DELETE FROM ${f.workerQueueIds} AS w WHERE w.instance_id = p_instance
          AND NOT EXISTS (SELECT 1 FROM n WHERE n.queue = w.queue AND n.queue_id = w.queue_id);
        WITH n AS (${claimed})
        INSERT INTO ${f.workerQueueIds} (queue, queue_id, instance_id)
          SELECT n.queue, n.queue_id, p_instance FROM n ON CONFLICT DO NOTHING;
        WITH n AS (${claimed})
        SELECT count(*) INTO v_taken FROM n JOIN ${f.workerQueueIds} AS w
          ON w.queue = n.queue AND w.queue_id = n.queue_id WHERE w.instance_id <> p_instance;
        IF v_taken > 0 THEN
          RAISE EXCEPTION 'jobterm: % queue id(s) of worker % are registered by another worker', v_taken, p_instance
            USING ERRCODE = '23505';
        END IF;
        RETURN v_result;
      END
      $fn$;

      CREATE FUNCTION ${f.deregister}(p_instance uuid, p_secret text) RETURNS boolean LANGUAGE sql ${definer} AS $fn$
        WITH gone AS (
          DELETE FROM ${f.workers}
          WHERE instance_id = p_instance AND secret_hash = sha256(convert_to(p_secret, 'UTF8'))
          RETURNING 1
        )
        SELECT count(*) > 0 FROM gone;
      $fn$;

      -- Claims dead rows for one rescuer. The inner SELECT skips rows a heartbeat holds; the outer WHERE re-checks
      -- under the row lock (READ COMMITTED re-evaluates it on the newest version), so a heartbeat that commits
      -- first keeps its worker alive, and two rescuers never claim the same row within a lease.
      CREATE FUNCTION ${f.claimDead}(p_rescuer text, p_queues text[], p_lease integer, p_limit integer)
      RETURNS TABLE (instance_id uuid, worker_id text, host text, pid integer, queues jsonb, jobs jsonb,
        last_seen_at timestamptz)
      LANGUAGE sql ${definer} AS $fn$
        UPDATE ${f.workers} AS w SET rescue_by = p_rescuer, rescue_at = now()
        WHERE w.instance_id IN (
            SELECT d.instance_id FROM ${f.workers} AS d
            WHERE ${dead('d')} AND d.queue_systems <@ p_queues
              AND (d.rescue_by IS NULL OR d.rescue_at + p_lease * interval '1 millisecond' < now())
            ORDER BY d.last_seen_at LIMIT p_limit FOR UPDATE SKIP LOCKED)
          AND ${dead('w')}
          AND (w.rescue_by IS NULL OR w.rescue_at + p_lease * interval '1 millisecond' < now())
        RETURNING w.instance_id, w.worker_id, w.host, w.pid, w.queues, w.jobs, w.last_seen_at;
      $fn$;

      CREATE FUNCTION ${f.completeRescue}(p_instance uuid, p_rescuer text) RETURNS void LANGUAGE sql ${definer} AS $fn$
        DELETE FROM ${f.workers} WHERE instance_id = p_instance AND rescue_by = p_rescuer;
      $fn$;

      REVOKE ALL ON ${f.workers}, ${f.workerQueueIds}, ${f.fleetView} FROM PUBLIC;
      REVOKE EXECUTE ON FUNCTION ${f.heartbeat}(uuid, text, jsonb), ${f.deregister}(uuid, text),
        ${f.claimDead}(text, text[], integer, integer), ${f.completeRescue}(uuid, text),
        ${f.markEscalated}(uuid, text), ${f.withdraw}(uuid, text) FROM PUBLIC;
    `;
  },
};

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
