import type { JobRef } from './job-ref.js';
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
  /**
   * The queue's own spelling of a job reference, before anything is stored
   * or compared: a request stored under another spelling would never match
   * the running job's token (pg-boss ids in upper case, graphile ids with
   * leading zeros). Throws a `TypeError` naming the field for what cannot be
   * an id of this queue. Without it, references are kept as given. It may
   * look the job up (BullMQ's `<id>@<timestamp>`, so a kill never lands on a
   * later job that reuses a custom id).
   */
  canonicalRef?(ref: JobRef): JobRef | Promise<JobRef>;
  /**
   * Reads the job's state from the queue's own storage. Rejects with a
   * `QueueUnreadableError` when the queue's tables cannot be read, and a
   * `DatabaseUnavailableError` when its database cannot be reached.
   */
  jobState?(ref: JobRef): Promise<QueueJobState>;
  /**
   * Ends a job that has not started, through the queue's own cancel where it
   * has one. Resolves true when the queue now holds it as ended for good;
   * false when a worker claimed it first (the kill request then stops it).
   */
  cancelQueued?(ref: JobRef, reason: TerminationReason): Promise<boolean>;
}
