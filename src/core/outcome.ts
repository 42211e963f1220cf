import type { JobRef } from './job-ref.js';
import type { TerminationReason } from './reason.js';

/**
 * How one run of a job ended, as `terminator.run()` reports it. Adapters turn
 * it into the queue's state (see DESIGN.md's semantics table).
 *
 * - `completed`: returned normally, not terminating.
 * - `terminated`: a `kill`; end it for good, never retry.
 * - `interrupted`: a `shutdown` or `timeout`; `resumable` says whether it may
 *   go back in the queue without spending an attempt (shutdowns always;
 *   timeouts only when the job saved progress, so a job that always overruns
 *   cannot loop forever).
 * - `failed`: threw, not terminating; the queue's retry rules apply.
 *
 * `escalated` is true when the job did not stop in time and jobterm settled it
 * without waiting; its late result is ignored.
 */
export type JobOutcome<T = unknown> =
  | { readonly status: 'completed'; readonly value: T }
  | { readonly status: 'terminated'; readonly reason: TerminationReason; readonly escalated: boolean }
  | {
      readonly status: 'interrupted';
      readonly reason: TerminationReason;
      readonly escalated: boolean;
      readonly resumable: boolean;
      /** Put it back to run no sooner than this many ms from now (a throttled iteration); 0 or absent: at once. */
      readonly retryDelay?: number;
    }
  | { readonly status: 'failed'; readonly error: unknown };

export type JobStatus = JobOutcome['status'];

/** A job currently registered in this process, as `terminator.running()` lists it. */
export interface RunningJobInfo {
  readonly ref: JobRef;
  readonly startedAt: Date;
  readonly reason: TerminationReason | undefined;
  readonly deadline: Date | undefined;
  /** What the adapter told about the job (`RunOptions.details`), for the fleet view. */
  readonly details?: JobDetails | undefined;
}

/** What an adapter can tell about a running job, beyond its reference. */
export interface JobDetails {
  /** Task identifier (graphile-worker) or queue name (pg-boss, BullMQ). */
  readonly task?: string;
  /** 1 for the first attempt. */
  readonly attempt?: number;
  readonly isolated?: 'thread' | 'process';
  /** The queue-side id of the worker that claimed it (graphile-worker's `locked_by`). */
  readonly queueWorkerId?: string;
}
