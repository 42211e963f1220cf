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
 * batch's does: one listener on the first job's signal then serves the whole
 * batch, and the jobs share one pair of forwarded signals.
 *
 * `forJob(job)` gives the `forward` entries for that job's
 * `terminator.run()`; `dispose()` removes every listener (safe to call twice).
 */
export function forwardPgBossSignals(
  jobs: readonly PgBossJob[],
  startedAt: number,
): { forJob(job: PgBossJob): Forward; dispose(): void } {
  const expiresMs = Math.max(1, ...jobs.map((j) => j.expireInSeconds || 0)) * 1000;
  const perJob =
    jobs.length === 1 || jobs.some((job) => (job as { heartbeatSeconds?: number | null }).heartbeatSeconds);
  if (!perJob) {
    const shared = forwardOne(jobs[0]!.signal, startedAt, expiresMs);
    return { forJob: () => shared.forward, dispose: shared.dispose };
  }
  const each = new Map<PgBossJob, ReturnType<typeof forwardOne>>();
  for (const job of jobs) each.set(job, forwardOne(job.signal, startedAt, expiresMs));
  return {
    forJob: (job) => each.get(job)!.forward,
    dispose() {
      for (const entry of each.values()) entry.dispose();
    },
  };
}

type Forward = NonNullable<RunOptions<unknown>['forward']>;

function forwardOne(signal: AbortSignal, startedAt: number, expiresMs: number): { forward: Forward; dispose(): void } {
  const timeout = new AbortController();
  const shutdown = new AbortController();
  const forward: Forward = [
    { signal: timeout.signal, kind: 'timeout' as TerminationKind },
    { signal: shutdown.signal, kind: 'shutdown' as TerminationKind },
  ];
  if (!(signal instanceof AbortSignal)) return { forward, dispose() {} };
  const onAbort = () => {
    const reason: unknown = signal.reason;
    if (reason instanceof Error && reason.name !== 'AbortError') {
      timeout.abort(new Error(`pg-boss took the job back: ${reason.message}`));
    } else if (performance.now() - startedAt >= expiresMs - EXPIRY_SLACK_MS) {
      timeout.abort(new Error(`pg-boss expired the job after ${expiresMs / 1000} s (expireInSeconds)`));
    } else {
      shutdown.abort(new Error('pg-boss stop() ended the grace period'));
    }
  };
  if (signal.aborted) {
    onAbort();
    return { forward, dispose() {} };
  }
  signal.addEventListener('abort', onAbort, { once: true });
  return { forward, dispose: () => signal.removeEventListener('abort', onAbort) };
}
