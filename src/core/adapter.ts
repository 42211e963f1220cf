import type { FleetQueue } from './fleet.js';
import type { JobRef } from './job-ref.js';
import type { DeadWorker, OpenKill, PresenceJob, RescueResult } from './presence.js';
import type { TerminationReason } from './reason.js';

/** A job's state as its queue records it. */
export type QueueJobState = 'queued' | 'running' | 'finished' | 'not_found';

/**
 * What a queue adapter tells the terminator about jobs that are not running
 * in this process. Every method is optional: a terminator without adapters
 * still terminates jobs it runs itself and stores requests for the others.
 */
export interface QueueAdapter {
  /** The `queue` of the job references this adapter answers for, e.g. `'pg-boss'`. */
  readonly queue: string;
  /** Reads the job's state from the queue's own storage. */
  jobState?(ref: JobRef): Promise<QueueJobState>;
  /**
   * Ends a job that has not started, through the queue's own cancel where it
   * has one. Resolves true when the queue now holds it as ended for good;
   * false when a worker claimed it first (the kill request then stops it).
   */
  cancelQueued?(ref: JobRef, reason: TerminationReason): Promise<boolean>;
  /**
   * What this process serves of the queue, for its presence record: queue
   * names and the queue library's own ids for this worker (graphile-worker
   * pool ids, pg-boss worker ids). Present on the adapters of worker
   * processes; called at every heartbeat, so it must be cheap.
   */
  describeWorker?(): FleetQueue | undefined;
  /**
   * Hands a dead worker's jobs back to the queue (graphile-worker:
   * `force_unlock_workers`), ending for good those with an open kill
   * request. Called by exactly one live worker per dead one; must be safe to
   * repeat (a rescuer that dies mid-way is retried after its lease).
   */
  rescue?(input: RescueInput): Promise<RescueResult>;
}

/** What a rescue gets: the dead worker, its ids in this queue, the jobs it last reported, and their open kills. */
export interface RescueInput {
  readonly worker: DeadWorker;
  readonly queue: FleetQueue;
  readonly jobs: readonly PresenceJob[];
  readonly kills: readonly OpenKill[];
}
