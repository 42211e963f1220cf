import type { Job } from 'bullmq';
import type { TerminationToken } from '../../core/token.js';

/**
 * A job as a wrapped processor sees it: BullMQ's own `Job` (its methods and
 * fields, through a proxy that answers `token`: middleware/job-view.ts;
 * BullMQ's object itself is not changed) with the termination token beside them.
 */
export type JobWithToken<J extends Job = Job> = J & {
  /** Fires on a kill, a shutdown, `maxRuntime`, or BullMQ's own `worker.cancelJob()` (for a processor that declares the signal). */
  readonly token: TerminationToken;
};

/**
 * A processor as jobterm wraps it: BullMQ's `(job, token, signal)`, where
 * `signal` is the termination token's signal (BullMQ's own `cancelJob`
 * signal is forwarded into it). Like BullMQ, jobterm passes it only to a
 * function that declares the third parameter (`job.token.signal` is the
 * same), and only then does BullMQ make a signal of its own for the job.
 */
export type JobtermProcessor<J extends Job, R> = (
  job: JobWithToken<J>,
  lockToken: string | undefined,
  signal: AbortSignal,
) => R | PromiseLike<R>;

/** What a sandboxed processor module exports (default): a plain copy of the job, and the token mirrored into its thread. */
export interface SandboxedJob<D = unknown> {
  readonly id: string;
  readonly name: string;
  readonly queueName: string;
  readonly data: D;
  readonly opts: Record<string, unknown>;
  readonly attemptsMade: number;
  readonly attemptsStarted: number;
  readonly timestamp: number;
  readonly progress: unknown;
}
