import type { FleetOptions, FleetQueue, FleetSnapshot } from './fleet.js';
import type { JobRef } from './job-ref.js';
import type { TerminationKind, TerminationReason } from './reason.js';

/**
 * Worker presence: what a store keeps so that any process can list the live
 * workers and their running jobs (`terminator.fleet()`), and so that a dead
 * worker's jobs can be rescued. The PostgreSQL store implements it in
 * `src/stores/postgres/presence.ts`; `jobterm/redis` implements the same
 * interface.
 *
 * The invariant every implementation keeps: a presence record is refreshed
 * or removed only by the worker that wrote it (it holds a secret only it
 * knows) or by the one rescue that declared it dead, after re-checking, in
 * the store, that its last heartbeat is older than its own dead threshold.
 */

export type HeartbeatResult = 'created' | 'refreshed' | 'refused';

/** One running job as its worker reports it in a heartbeat. */
export interface PresenceJob {
  readonly ref: JobRef;
  /** Task identifier (graphile-worker) or queue name (pg-boss, BullMQ). */
  readonly task?: string;
  readonly attempt?: number;
  readonly isolated?: 'thread' | 'process';
  /** The queue-side id of the worker that claimed it (graphile-worker's pool id, its `locked_by`). */
  readonly queueWorkerId?: string;
  readonly startedAt: Date;
  /** The job's local termination, if its token fired (kill, shutdown or timeout). */
  readonly termination?: { readonly kind: TerminationKind; readonly message: string };
}

/** What one heartbeat writes. */
export interface PresenceRecord {
  /** Unique per terminator instance (a UUID); the key of the record. */
  readonly instanceId: string;
  /** The terminator's `workerId`, as shown and as it signs its writes to kill requests. */
  readonly workerId: string;
  readonly host: string;
  readonly pid: number;
  readonly queues: readonly FleetQueue[];
  readonly versions: { readonly jobterm: string; readonly node: string };
  readonly startedAt: Date;
  /** ms between heartbeats. */
  readonly heartbeatInterval: number;
  /** ms after the last heartbeat at which this worker counts as dead (its own threshold, not the reader's). */
  readonly deadAfter: number;
  readonly jobs: readonly PresenceJob[];
}

/** A dead worker, claimed by one rescuer: what it last reported. */
export interface DeadWorker {
  readonly instanceId: string;
  readonly workerId: string;
  readonly host: string;
  readonly pid: number;
  readonly queues: readonly FleetQueue[];
  readonly jobs: readonly PresenceJob[];
  readonly lastSeenAt: Date;
}

export interface PresenceStore {
  /**
   * Writes this worker's record. The first call creates it with `secret`
   * (later calls must pass the same): `created`; then `refreshed`. `refused`
   * while a rescue is handing this worker's jobs back (it was declared dead);
   * `created` again once that rescue removed the record.
   */
  heartbeat(record: PresenceRecord, secret: string): Promise<HeartbeatResult>;
  /** Removes this worker's record (a clean shutdown). Safe to call twice. */
  deregister(instanceId: string, secret: string): Promise<void>;
  /** Every live worker and its jobs, with each job's termination state from the kill requests. */
  fleet(options?: FleetOptions): Promise<FleetSnapshot>;
  /**
   * Claims the records of dead workers for `rescuerId`, at most `limit`, among
   * those whose queue systems are all in `queues` (the ones this rescuer has
   * an adapter for; a worker that served none is claimed by anyone): a
   * record is claimed by one rescuer only, and only while, in the store's own
   * clock, its last heartbeat is older than its own `deadAfter`. A claim that
   * is not completed within `lease` ms can be taken by another rescuer.
   */
  claimDead(
    rescuerId: string,
    options: { lease: number; limit: number; queues: readonly string[] },
  ): Promise<DeadWorker[]>;
  /** Removes a record this rescuer claimed, once its jobs were handed back. */
  completeRescue(instanceId: string, rescuerId: string): Promise<void>;
  /** The open kill requests for these jobs, read now from the store (not from memory). */
  openKillsFor(refs: readonly JobRef[]): Promise<OpenKill[]>;
  /** Records on the request that its job was escalated (it ignored its token past killTimeout). */
  markEscalated(requestId: string, workerId: string): Promise<void>;
}

/** An open kill request, as a rescue needs it. */
export interface OpenKill {
  readonly id: string;
  readonly ref: JobRef;
  readonly reason: TerminationReason;
}

/** What a queue adapter does with a dead worker's jobs (see `QueueAdapter.rescue`). */
export interface RescueResult {
  /** Handed back to the queue, attempt spent as for any crash. */
  readonly requeued: readonly JobRef[];
  /** Ended for good because they had an open kill request. */
  readonly terminated: readonly JobRef[];
}

export const PRESENCE_DEFAULTS = Object.freeze({
  /** ms between heartbeats: how stale `fleet()`'s job lists can be. */
  heartbeatInterval: 5_000,
  /** A worker whose last heartbeat is older than this many intervals is dead. */
  deadAfterBeats: 4,
  /** Hand a dead worker's jobs back to its queue at once. */
  rescue: true,
});

/** Whether a store keeps presence (the PostgreSQL and Redis stores do). */
export function isPresenceStore(store: unknown): store is PresenceStore {
  const candidate = store as Partial<PresenceStore> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.heartbeat === 'function' &&
    typeof candidate.fleet === 'function' &&
    typeof candidate.claimDead === 'function'
  );
}
