import type {
  FleetJob,
  FleetOptions,
  FleetQueue,
  FleetSnapshot,
  FleetTerminationState,
  FleetWorker,
} from '../../core/fleet.js';
import type { JobRef } from '../../core/job-ref.js';
import type { DeadWorker, OpenKill, PresenceJob, PresenceRecord } from '../../core/presence.js';
import type { JsonValue } from '../../core/progress.js';
import { makeReason, type TerminationKind } from '../../core/reason.js';
import type { WithdrawStatus } from '../../core/store.js';
import { fleetNames } from './fleet-names.js';
import type { Queryable } from './requests.js';
import type { SchemaNames } from './schema.js';

/**
 * Presence in PostgreSQL: every write is a call to one of migration 4's
 * SECURITY DEFINER functions (so the database, not jobterm, decides who may
 * refresh or remove a row); reads go through the `fleet_workers` view.
 */

/** How a job is stored in `workers.jobs` (and in the Redis store's worker records). */
export interface StoredJob {
  queue: string;
  name?: string;
  id: string;
  task?: string;
  attempt?: number;
  isolated?: 'thread' | 'process';
  queueWorkerId?: string;
  startedAt: string;
  termination?: { kind: TerminationKind; message: string };
}

export function recordJson(record: PresenceRecord): string {
  return JSON.stringify({
    workerId: record.workerId,
    host: record.host,
    pid: record.pid,
    queues: record.queues,
    versions: record.versions,
    startedAt: record.startedAt.toISOString(),
    heartbeatInterval: Math.round(record.heartbeatInterval),
    deadAfter: Math.round(record.deadAfter),
    jobs: record.jobs.map(toStoredJob),
  });
}

function toStoredJob(job: PresenceJob): StoredJob {
  const stored: StoredJob = { queue: job.ref.queue, id: job.ref.id, startedAt: job.startedAt.toISOString() };
  if (job.ref.name !== undefined) stored.name = job.ref.name;
  if (job.task !== undefined) stored.task = job.task;
  if (job.attempt !== undefined) stored.attempt = job.attempt;
  if (job.isolated !== undefined) stored.isolated = job.isolated;
  if (job.queueWorkerId !== undefined) stored.queueWorkerId = job.queueWorkerId;
  if (job.termination !== undefined) stored.termination = job.termination;
  return stored;
}

export function fromStoredJob(job: StoredJob): PresenceJob {
  return {
    ref: refOf(job),
    startedAt: new Date(job.startedAt),
    ...(job.task === undefined ? {} : { task: job.task }),
    ...(job.attempt === undefined ? {} : { attempt: job.attempt }),
    ...(job.isolated === undefined ? {} : { isolated: job.isolated }),
    ...(job.queueWorkerId === undefined ? {} : { queueWorkerId: job.queueWorkerId }),
    ...(job.termination === undefined ? {} : { termination: job.termination }),
  };
}

export function refOf(job: { queue: string; name?: string; id: string }): JobRef {
  return job.name === undefined || job.name === ''
    ? { queue: job.queue, id: job.id }
    : { queue: job.queue, id: job.id, name: job.name };
}

export async function heartbeat(
  db: Queryable,
  names: SchemaNames,
  record: PresenceRecord,
  secret: string,
): Promise<'created' | 'refreshed' | 'refused'> {
  const { rows } = await db.query<{ result: 'created' | 'refreshed' | 'refused' }>(
    `SELECT ${fleetNames(names).heartbeat}($1::uuid, $2::text, $3::jsonb) AS result`,
    [record.instanceId, secret, recordJson(record)],
  );
  return rows[0]?.result ?? 'refused';
}

export async function deregister(db: Queryable, names: SchemaNames, instanceId: string, secret: string): Promise<void> {
  await db.query(`SELECT ${fleetNames(names).deregister}($1::uuid, $2::text)`, [instanceId, secret]);
}

export async function claimDead(
  db: Queryable,
  names: SchemaNames,
  rescuerId: string,
  queues: readonly string[],
  options: { lease: number; limit: number },
): Promise<DeadWorker[]> {
  const { rows } = await db.query<{
    instance_id: string;
    worker_id: string;
    host: string;
    pid: number;
    queues: FleetQueue[];
    jobs: StoredJob[];
    last_seen_at: Date;
  }>(`SELECT * FROM ${fleetNames(names).claimDead}($1::text, $2::text[], $3::integer, $4::integer)`, [
    rescuerId,
    queues,
    Math.round(options.lease),
    options.limit,
  ]);
  return rows.map((row) => ({
    instanceId: row.instance_id,
    workerId: row.worker_id,
    host: row.host,
    pid: row.pid,
    queues: row.queues,
    jobs: row.jobs.map(fromStoredJob),
    lastSeenAt: row.last_seen_at,
  }));
}

export async function completeRescue(
  db: Queryable,
  names: SchemaNames,
  instanceId: string,
  rescuerId: string,
): Promise<void> {
  await db.query(`SELECT ${fleetNames(names).completeRescue}($1::uuid, $2::text)`, [instanceId, rescuerId]);
}

export async function markEscalated(db: Queryable, names: SchemaNames, requestId: string, workerId: string) {
  await db.query(`SELECT ${fleetNames(names).markEscalated}($1::uuid, $2::text)`, [requestId, workerId]);
}

export async function withdraw(
  db: Queryable,
  names: SchemaNames,
  requestId: string,
  withdrawnBy: string | undefined,
): Promise<WithdrawStatus> {
  const { rows } = await db.query<{ status: WithdrawStatus }>(
    `SELECT ${fleetNames(names).withdraw}($1::uuid, $2::text) AS status`,
    [requestId, withdrawnBy ?? null],
  );
  return rows[0]!.status;
}

interface WorkerRow {
  instance_id: string;
  worker_id: string;
  host: string;
  pid: number;
  queues: FleetQueue[];
  versions: { jobterm: string; node: string };
  jobs: StoredJob[];
  started_at: Date;
  last_seen_at: Date;
  heartbeat_interval: number;
  alive: boolean;
}

interface JobStateRow {
  queue: string;
  name: string;
  id: string;
  request_id: string | null;
  reason_message: string | null;
  requested_by: string | null;
  requested_at: Date | null;
  signalled_at: Date | null;
  escalated_at: Date | null;
  cursor: JsonValue | null;
  now: Date;
}

/** Workers from the view, then one read for every listed job's open request and saved cursor: two round trips. */
export async function selectFleet(
  db: Queryable,
  names: SchemaNames,
  options: FleetOptions,
  defaultInterval: number,
): Promise<FleetSnapshot> {
  const f = fleetNames(names);
  const { rows: workerRows } = await db.query<WorkerRow & { now: Date }>(
    `SELECT *, now() AS now FROM ${f.fleetView} ${options.includeDead === true ? '' : 'WHERE alive'}
     ORDER BY worker_id, started_at`,
  );
  let at = workerRows[0]?.now ?? new Date();
  const workers = workerRows.filter(
    (row) =>
      (options.worker === undefined || row.worker_id === options.worker || row.instance_id === options.worker) &&
      (options.queue === undefined || row.queues.some((q) => q.queue === options.queue)),
  );
  const jobs = workers.flatMap((row) =>
    row.jobs.filter((job) => options.queue === undefined || job.queue === options.queue),
  );
  const states = new Map<string, JobStateRow>();
  if (jobs.length > 0) {
    const { rows } = await db.query<JobStateRow>(
      `SELECT j.queue, j.name, j.id, r.id AS request_id, r.reason_message, r.requested_by, r.requested_at,
         r.signalled_at, r.escalated_at, p.cursor, now() AS now
       FROM unnest($1::text[], $2::text[], $3::text[]) AS j(queue, name, id)
       LEFT JOIN ${names.requests} AS r ON r.queue = j.queue AND r.queue_name = j.name AND r.job_id = j.id
         AND r.status <> 'resolved' AND r.expires_at > now()
       LEFT JOIN ${names.progress} AS p ON p.queue = j.queue AND p.queue_name = j.name AND p.job_id = j.id
       -- Only the jobs with something to say: nearly all running jobs have
       -- neither, and 5,000 empty rows cost more to send and parse than the
       -- rest of the read (the dashboard's 50 x 100 benchmark).
       WHERE r.id IS NOT NULL OR p.cursor IS NOT NULL`,
      [jobs.map((job) => job.queue), jobs.map((job) => job.name ?? ''), jobs.map((job) => job.id)],
    );
    for (const row of rows) states.set(stateKey(row.queue, row.name, row.id), row);
    at = rows[0]?.now ?? at;
  }
  const heartbeatInterval = workers.reduce((most, row) => Math.max(most, row.heartbeat_interval), 0);
  return {
    at,
    heartbeatInterval: heartbeatInterval === 0 ? defaultInterval : heartbeatInterval,
    workers: workers.map(
      (row): FleetWorker => ({
        workerId: row.worker_id,
        instanceId: row.instance_id,
        host: row.host,
        pid: row.pid,
        queues: row.queues,
        versions: row.versions,
        startedAt: row.started_at,
        lastSeenAt: row.last_seen_at,
        alive: row.alive,
        jobs: row.jobs
          .filter((job) => options.queue === undefined || job.queue === options.queue)
          .map((job) => fleetJob(row.worker_id, job, states.get(stateKey(job.queue, job.name ?? '', job.id)))),
      }),
    ),
  };
}

function stateKey(queue: string, name: string, id: string): string {
  return `${queue}\0${name}\0${id}`;
}

function fleetJob(workerId: string, job: StoredJob, state: JobStateRow | undefined): FleetJob {
  // Fields set one by one, not spread: this runs for every job of the fleet (5,000 in the benchmark).
  const out: { -readonly [K in keyof FleetJob]: FleetJob[K] } = {
    ref: refOf(job),
    workerId,
    startedAt: new Date(job.startedAt),
    termination: termination(job, state),
  };
  if (job.task !== undefined) out.task = job.task;
  if (job.attempt !== undefined) out.attempt = job.attempt;
  if (job.isolated !== undefined) out.isolated = job.isolated;
  if (job.queueWorkerId !== undefined) out.queueWorkerId = job.queueWorkerId;
  if (state?.cursor !== null && state?.cursor !== undefined) out.cursor = state.cursor;
  return out;
}

/**
 * The kill request's columns are current (written when they happen); a
 * shutdown or timeout is known only from the worker's last heartbeat.
 */
function termination(job: StoredJob, state: JobStateRow | undefined): FleetJob['termination'] {
  if (state?.request_id !== null && state?.request_id !== undefined) {
    const stateName: FleetTerminationState =
      state.escalated_at !== null ? 'escalated' : state.signalled_at !== null ? 'signalled' : 'requested';
    return {
      state: stateName,
      requestId: state.request_id,
      ...(stateName === 'requested' ? {} : { kind: 'kill' as const }),
      ...(state.reason_message === null ? {} : { message: state.reason_message }),
      ...(state.requested_by === null ? {} : { requestedBy: state.requested_by }),
      ...(state.requested_at === null ? {} : { requestedAt: state.requested_at }),
      ...(state.signalled_at === null ? {} : { signalledAt: state.signalled_at }),
      ...(state.escalated_at === null ? {} : { escalatedAt: state.escalated_at }),
    };
  }
  if (job.termination !== undefined) {
    return { state: 'signalled', kind: job.termination.kind, message: job.termination.message };
  }
  return { state: 'none' };
}

/** The open kill requests for these jobs, whatever process stored them (rescue's check before it acts). */
export async function selectOpenFor(db: Queryable, names: SchemaNames, refs: readonly JobRef[]): Promise<OpenKill[]> {
  if (refs.length === 0) return [];
  const { rows } = await db.query<{
    queue: string;
    queue_name: string;
    job_id: string;
    id: string;
    reason_message: string;
    requested_by: string | null;
    requested_at: Date;
  }>(
    `SELECT r.queue, r.queue_name, r.job_id, r.id, r.reason_message, r.requested_by, r.requested_at
     FROM unnest($1::text[], $2::text[], $3::text[]) AS j(queue, name, id)
     JOIN ${names.requests} AS r ON r.queue = j.queue AND r.queue_name = j.name AND r.job_id = j.id
     WHERE r.status <> 'resolved' AND r.expires_at > now()`,
    [refs.map((ref) => ref.queue), refs.map((ref) => ref.name ?? ''), refs.map((ref) => ref.id)],
  );
  return rows.map((row) => ({
    id: row.id,
    ref: refOf({ queue: row.queue, name: row.queue_name, id: row.job_id }),
    reason: makeReason('kill', row.reason_message, {
      requestId: row.id,
      requestedAt: row.requested_at,
      ...(row.requested_by === null ? {} : { requestedBy: row.requested_by }),
    }),
  }));
}
