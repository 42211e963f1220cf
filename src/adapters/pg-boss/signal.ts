import type { TerminationKind } from '../../core/reason.js';
import type { RunOptions } from '../../middleware/run-job.js';
import type { PgBossJob } from './types.js';

// Timers can fire up to a millisecond early; the expiry race starts a little
// after the handler does, so this only absorbs clock granularity.
const EXPIRY_SLACK_MS = 20;

/**
 * Forwards pg-boss's own `job.signal` into each job's token with the kind it
 * means. pg-boss 12 aborts that signal (checked on 12.38):
 * - on expiry (`expireInSeconds` after the handler started; the batch's
 *   largest, at least 1 s): aborted with a bare `AbortError`. pg-boss has
 *   already failed the batch by then, so its retry rules apply -> `timeout`;
 * - at the end of `stop()`'s grace period (`failWip()`), also a bare
 *   `AbortError`, after pg-boss failed the job ("pg-boss shut down while
 *   active") -> `shutdown`;
 * - when a heartbeat finds the job's claim gone, with an `Error` reason: the
 *   row left `active` under this attempt (expired by a supervisor, failed or
 *   cancelled by someone else) -> `timeout`, never `kill`, because a kill's
 *   cancel is not fenced to this attempt and must not reach a retry another
 *   worker holds.
 * - after the handler returned (its expiry race cancels itself through the
 *   same controller): the listener is gone by then.
 *
 * The two bare aborts look alike, so they are told apart by time: one that
 * comes before the expiry can only be `stop()`.
 *
 * Each `job.signal` is `AbortSignal.any([batch, claim])`, and a listener on
 * such a composite signal costs Node far more than one on a plain signal
 * (it tracks the sources through weak references). Without heartbeats no
 * claim signal ever aborts, so every job's signal aborts exactly when the
 * batch's does: the first job's signal then serves the whole batch, and the
 * jobs share one forward entry (one listener, by middleware/forward.ts).
 *
 * The signal is forwarded as it is, with a `classify` that names the kind
 * when it aborts: no signal or listener of jobterm's own per job. The
 * terminator's run() adds the one listener and removes it when the job
 * settles.
 */
export function forwardPgBossSignals(
  jobs: readonly PgBossJob[],
  startedAt: number,
): { forJob(job: PgBossJob): Forward } {
  let expiresMs = 1000;
  let perJob = jobs.length === 1;
  // By index: for-of's iterator showed in the count (bench instructions).
  for (let i = 0; i < jobs.length; i++) {
    const job = jobs[i]!;
    expiresMs = Math.max(expiresMs, (job.expireInSeconds || 0) * 1000);
    if ((job as { heartbeatSeconds?: number | null }).heartbeatSeconds) perJob = true;
  }
  if (!perJob) {
    const shared = forwardOne(jobs[0]!.signal, startedAt, expiresMs, false);
    return { forJob: () => shared };
  }
  // Each job's own signal, heard by that job alone: listened on directly.
  return { forJob: (job) => forwardOne(job.signal, startedAt, expiresMs, true) };
}

type Forward = NonNullable<RunOptions<unknown>['forward']>;
type Classified = { readonly kind: TerminationKind; readonly message: string };

const NOTHING_TO_FORWARD: Forward = [];

function forwardOne(
  signal: AbortSignal | undefined,
  startedAt: number,
  expiresMs: number,
  exclusive: boolean,
): Forward {
  if (!(signal instanceof AbortSignal)) return NOTHING_TO_FORWARD;
  // Told once per abort: every job sharing the signal gets the same answer.
  let classified: Classified | undefined;
  const classify = (aborted: AbortSignal): Classified => {
    classified ??= classifyAbort(aborted, startedAt, expiresMs);
    return classified;
  };
  return [{ signal, classify, exclusive }];
}

function classifyAbort(signal: AbortSignal, startedAt: number, expiresMs: number): Classified {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name !== 'AbortError') {
    return { kind: 'timeout', message: `pg-boss took the job back: ${reason.message}` };
  }
  if (performance.now() - startedAt >= expiresMs - EXPIRY_SLACK_MS) {
    return { kind: 'timeout', message: `pg-boss expired the job after ${expiresMs / 1000} s (expireInSeconds)` };
  }
  return { kind: 'shutdown', message: 'pg-boss stop() ended the grace period' };
}
