/**
 * Why a job is being terminated.
 *
 * - `kill`: someone asked (`terminate()`, the CLI). The job ends for good.
 * - `shutdown`: the worker process running it is stopping. The job goes back
 *   to the queue without spending an attempt.
 * - `timeout`: the job's `maxRuntime` ran out.
 */
export type TerminationKind = 'kill' | 'shutdown' | 'timeout';

export const TERMINATION_KINDS: readonly TerminationKind[] = ['kill', 'shutdown', 'timeout'];

export interface TerminationReason {
  readonly kind: TerminationKind;
  /** Human-readable; recorded in the queue (graphile's `last_error`, pg-boss's `output`). */
  readonly message: string;
  /** The durable kill request behind a `kill`, when it came through a store. */
  readonly requestId?: string;
  /** Who asked: a user name, a service, `cli@host`. */
  readonly requestedBy?: string;
  readonly requestedAt: Date;
}

/** Kill beats shutdown and timeout: a job asked to die must not be put back in the queue. */
export function outranks(next: TerminationReason, current: TerminationReason | undefined): boolean {
  if (current === undefined) return true;
  return next.kind === 'kill' && current.kind !== 'kill';
}

export function makeReason(
  kind: TerminationKind,
  message: string,
  extra: { requestId?: string; requestedBy?: string; requestedAt?: Date } = {},
): TerminationReason {
  return Object.freeze({
    kind,
    message,
    ...(extra.requestId === undefined ? {} : { requestId: extra.requestId }),
    ...(extra.requestedBy === undefined ? {} : { requestedBy: extra.requestedBy }),
    requestedAt: extra.requestedAt ?? new Date(),
  });
}

/** The prefix jobterm writes into a queue's error column, e.g. `Terminated: deploy rollback`. */
export function describeReason(reason: TerminationReason): string {
  const label = reason.kind === 'kill' ? 'Terminated' : reason.kind === 'shutdown' ? 'Interrupted' : 'Timed out';
  const by = reason.requestedBy ? ` (by ${reason.requestedBy})` : '';
  return `${label}: ${reason.message}${by}`;
}
