import type { FleetJob, FleetOptions, FleetSnapshot, FleetTerminationState, FleetWorker } from '../../core/fleet.js';
import type { JobRef } from '../../core/job-ref.js';
import type { DeadWorker, HeartbeatResult, OpenKill, PresenceRecord } from '../../core/presence.js';
import type { JsonValue } from '../../core/progress.js';
import { makeReason } from '../../core/reason.js';
// Generic parts of the PostgreSQL presence (no `pg` in them): how a record and its jobs are written as JSON.
import { fromStoredJob, recordJson, refOf, type StoredJob } from '../postgres/presence.js';
import type { RedisConnection } from './connection.js';
import {
  CLAIM_DEAD,
  COMPLETE_RESCUE,
  DEREGISTER,
  HEARTBEAT,
  JOB_STATES,
  LIST_WORKERS,
  MARK_ESCALATED,
} from './presence-scripts.js';

/**
 * Presence in Redis: every write is one Lua script (presence-scripts.ts),
 * which checks the worker's secret, or that the record is dead in Redis's
 * clock, in the same atomic step as the write it guards.
 */

/** The keys presence uses, under the store's prefix (docs/redis-store.md). */
export interface PresenceKeys {
  readonly prefix: string;
  readonly workers: string;
  readonly jobs: string;
  readonly progress: string;
  worker(instanceId: string): string;
  request(id: string): string;
}

/** What the record's JSON holds (`recordJson`). */
interface StoredRecord {
  workerId: string;
  host: string;
  pid: number;
  queues: FleetWorker['queues'];
  versions: FleetWorker['versions'];
  startedAt: string;
  heartbeatInterval: number;
  deadAfter: number;
  jobs: StoredJob[];
}

export async function heartbeat(
  redis: RedisConnection,
  keys: PresenceKeys,
  record: PresenceRecord,
  secret: string,
): Promise<HeartbeatResult> {
  const systems = [...new Set(record.queues.map((queue) => queue.queue))];
  const result = await redis.eval(
    HEARTBEAT,
    [keys.workers, keys.worker(record.instanceId)],
    [
      record.instanceId,
      secret,
      recordJson(record),
      Math.round(record.deadAfter),
      JSON.stringify(systems),
      record.startedAt.getTime(),
    ],
  );
  return result === 'created' || result === 'refreshed' ? result : 'refused';
}

export async function deregister(
  redis: RedisConnection,
  keys: PresenceKeys,
  instanceId: string,
  secret: string,
): Promise<void> {
  await redis.eval(DEREGISTER, [keys.workers, keys.worker(instanceId)], [instanceId, secret]);
}

export async function claimDead(
  redis: RedisConnection,
  keys: PresenceKeys,
  rescuerId: string,
  options: { lease: number; limit: number; queues: readonly string[] },
): Promise<DeadWorker[]> {
  const rows = (await redis.eval(
    CLAIM_DEAD,
    [keys.workers],
    // cjson encodes an empty Lua table as an object, so an empty list is sent as '[]' explicitly.
    [keys.prefix, rescuerId, Math.round(options.lease), options.limit, JSON.stringify([...options.queues])],
  )) as Array<[string, string, string]>;
  return rows.map(([instanceId, json, lastSeenAt]) => {
    const record = JSON.parse(json) as StoredRecord;
    return {
      instanceId,
      workerId: record.workerId,
      host: record.host,
      pid: record.pid,
      queues: record.queues,
      jobs: record.jobs.map(fromStoredJob),
      lastSeenAt: new Date(Number(lastSeenAt)),
    };
  });
}

export async function completeRescue(
  redis: RedisConnection,
  keys: PresenceKeys,
  instanceId: string,
  rescuerId: string,
): Promise<void> {
  await redis.eval(COMPLETE_RESCUE, [keys.workers, keys.worker(instanceId)], [instanceId, rescuerId]);
}

export async function markEscalated(
  redis: RedisConnection,
  keys: PresenceKeys,
  requestId: string,
  workerId: string,
): Promise<void> {
  await redis.eval(MARK_ESCALATED, [], [keys.request(requestId), workerId]);
}

/** The hash field naming a job in `<prefix>:jobs` and `<prefix>:progress`. */
function jobField(ref: { queue: string; name?: string | undefined; id: string }): string {
  return JSON.stringify([ref.queue, ref.name ?? '', ref.id]);
}

/** A job's open request, from its hash fields, if it is open and unexpired at `now`. */
interface OpenState {
  id: string;
  message: string;
  requestedBy?: string;
  requestedAt: Date;
  signalledAt?: Date;
  escalatedAt?: Date;
}

function openState(list: string[], now: number): OpenState | undefined {
  if (list.length === 0) return undefined;
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) f[String(list[i])] = String(list[i + 1]);
  if (f.status === 'resolved' || Number(f.expiresAt) <= now || f.id === undefined) return undefined;
  const date = (value: string | undefined) => (value ? new Date(Number(value)) : undefined);
  // Signalled when a worker first fired the job's token: its delivery (MARK_DELIVERED's deliveredAt).
  const signalledAt = date(f.deliveredAt);
  const escalatedAt = date(f.escalatedAt);
  return {
    id: f.id,
    message: f.message ?? '',
    requestedAt: new Date(Number(f.requestedAt)),
    ...(f.requestedBy ? { requestedBy: f.requestedBy } : {}),
    ...(signalledAt ? { signalledAt } : {}),
    ...(escalatedAt ? { escalatedAt } : {}),
  };
}

async function jobStates(
  redis: RedisConnection,
  keys: PresenceKeys,
  refs: ReadonlyArray<{ queue: string; name?: string | undefined; id: string }>,
): Promise<{ now: number; states: Array<{ open: OpenState | undefined; cursor: JsonValue | undefined }> }> {
  if (refs.length === 0) return { now: Date.now(), states: [] };
  const [now, rows] = (await redis.eval(
    JOB_STATES,
    [keys.jobs, keys.progress],
    [keys.prefix, ...refs.map(jobField)],
  )) as [number, Array<[string[], string | null]>];
  return {
    now,
    states: rows.map(([fields, cursor]) => ({
      open: openState(fields, now),
      cursor: typeof cursor === 'string' ? (JSON.parse(cursor) as JsonValue) : undefined,
    })),
  };
}

/** Workers, then one read for every listed job's open request and saved cursor: two round trips. */
export async function selectFleet(
  redis: RedisConnection,
  keys: PresenceKeys,
  options: FleetOptions,
  defaultInterval: number,
): Promise<FleetSnapshot> {
  const [now, rows] = (await redis.eval(LIST_WORKERS, [keys.workers], [keys.prefix])) as [
    number,
    Array<[string, string, string, string]>,
  ];
  const all = rows.map(([instanceId, json, lastSeenAt, deadAfter]) => ({
    instanceId,
    record: JSON.parse(json) as StoredRecord,
    lastSeenAt: Number(lastSeenAt),
    alive: Number(lastSeenAt) + Number(deadAfter) >= now,
  }));
  const workers = all
    .filter(
      (row) =>
        (options.includeDead === true || row.alive) &&
        (options.worker === undefined || row.record.workerId === options.worker || row.instanceId === options.worker) &&
        (options.queue === undefined || row.record.queues.some((q) => q.queue === options.queue)),
    )
    .sort(
      (a, b) =>
        a.record.workerId.localeCompare(b.record.workerId) || a.record.startedAt.localeCompare(b.record.startedAt),
    );
  const jobsOf = (record: StoredRecord) =>
    record.jobs.filter((job) => options.queue === undefined || job.queue === options.queue);
  const jobs = workers.flatMap((row) => jobsOf(row.record));
  const { states } = await jobStates(redis, keys, jobs);
  let index = 0;
  const heartbeatInterval = workers.reduce((most, row) => Math.max(most, row.record.heartbeatInterval), 0);
  return {
    at: new Date(now),
    heartbeatInterval: heartbeatInterval === 0 ? defaultInterval : heartbeatInterval,
    workers: workers.map(
      (row): FleetWorker => ({
        workerId: row.record.workerId,
        instanceId: row.instanceId,
        host: row.record.host,
        pid: row.record.pid,
        queues: row.record.queues,
        versions: row.record.versions,
        startedAt: new Date(row.record.startedAt),
        lastSeenAt: new Date(row.lastSeenAt),
        alive: row.alive,
        jobs: jobsOf(row.record).map((job) => fleetJob(row.record.workerId, job, states[index++])),
      }),
    ),
  };
}

function fleetJob(
  workerId: string,
  job: StoredJob,
  state: { open: OpenState | undefined; cursor: JsonValue | undefined } | undefined,
): FleetJob {
  return {
    ref: refOf(job),
    workerId,
    startedAt: new Date(job.startedAt),
    ...(job.task === undefined ? {} : { task: job.task }),
    ...(job.attempt === undefined ? {} : { attempt: job.attempt }),
    ...(job.isolated === undefined ? {} : { isolated: job.isolated }),
    ...(job.queueWorkerId === undefined ? {} : { queueWorkerId: job.queueWorkerId }),
    ...(state?.cursor === undefined ? {} : { cursor: state.cursor }),
    termination: termination(job, state?.open),
  };
}

/** The request's fields are current (written when they happen); a shutdown or timeout only from the last heartbeat. */
function termination(job: StoredJob, open: OpenState | undefined): FleetJob['termination'] {
  if (open !== undefined) {
    const state: FleetTerminationState =
      open.escalatedAt !== undefined ? 'escalated' : open.signalledAt !== undefined ? 'signalled' : 'requested';
    return {
      state,
      requestId: open.id,
      ...(state === 'requested' ? {} : { kind: 'kill' as const }),
      message: open.message,
      ...(open.requestedBy === undefined ? {} : { requestedBy: open.requestedBy }),
      requestedAt: open.requestedAt,
      ...(open.signalledAt === undefined ? {} : { signalledAt: open.signalledAt }),
      ...(open.escalatedAt === undefined ? {} : { escalatedAt: open.escalatedAt }),
    };
  }
  if (job.termination !== undefined) {
    return { state: 'signalled', kind: job.termination.kind, message: job.termination.message };
  }
  return { state: 'none' };
}

/** The open kill requests for these jobs, read now from Redis (rescue's check before it acts). */
export async function selectOpenFor(
  redis: RedisConnection,
  keys: PresenceKeys,
  refs: readonly JobRef[],
): Promise<OpenKill[]> {
  const { states } = await jobStates(redis, keys, refs);
  const kills: OpenKill[] = [];
  states.forEach(({ open }, i) => {
    if (open === undefined) return;
    kills.push({
      id: open.id,
      ref: refs[i]!,
      reason: makeReason('kill', open.message, {
        requestId: open.id,
        requestedAt: open.requestedAt,
        ...(open.requestedBy === undefined ? {} : { requestedBy: open.requestedBy }),
      }),
    });
  });
  return kills;
}
