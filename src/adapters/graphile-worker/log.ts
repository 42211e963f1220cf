import type { Job, Logger } from 'graphile-worker';
import type { Written } from './settle.js';

/**
 * graphile-worker 0.18 learns how a job ended only from whether its task
 * threw (`worker.ts`), so a job jobterm put back in the queue or ended on
 * request must throw, and graphile then logs every such ending as
 * `ERROR: Failed task 42 (...) with error 'Interrupted: worker shutting
 * down'`. That line is false for these endings: the job did not fail, and
 * jobterm's own write (already made) decided its row. The plugin therefore
 * wraps graphile's logger so that this one line, for these errors only, is
 * logged at `info` and says what happened. Every other line, a real failure
 * included, passes through unchanged.
 */

/** What jobterm's write did for a job whose task throws only so that graphile records it. */
const endings = new WeakMap<object, Written>();

/** Called by the wrapped task just before it throws `error` for an ending jobterm already wrote. */
export function recordEnding(error: object, written: Written): void {
  endings.set(error, written);
}

/** How each of jobterm's writes reads in the log, in graphile's own "Completed task" / "Failed task" shape. */
const ENDINGS: Partial<Record<Written, { verb: string; what: string }>> = {
  ended: { verb: 'Terminated', what: 'ended for good, not retried' },
  put_back: { verb: 'Put back', what: 'back in the queue at once, attempt not spent' },
  refunded: { verb: 'Interrupted', what: "attempt not spent, runs again after graphile's retry delay" },
};

/** The info line graphile's `Failed task` line becomes, or undefined to keep graphile's own. */
export function endingLine(meta: unknown): string | undefined {
  if (typeof meta !== 'object' || meta === null) return undefined;
  const { failure, error, job, duration } = meta as {
    failure?: unknown;
    error?: unknown;
    job?: Job;
    duration?: unknown;
  };
  if (failure !== true || typeof error !== 'object' || error === null || job === undefined) return undefined;
  const written = endings.get(error);
  const ending = ENDINGS[written ?? 'none'];
  if (ending === undefined) return undefined;
  const ms = typeof duration === 'number' ? `, ${duration.toFixed(2)}ms` : '';
  return `${ending.verb} task ${job.id} (${job.task_identifier}${ms}): ${ending.what} ('${(error as { message?: unknown }).message}')`;
}

/**
 * A logger that behaves as `logger` in every way (same scope, same log
 * function, same class) except that graphile's `Failed task` line for an
 * ending jobterm wrote is logged at `info`, with `failure` left out of its
 * meta and `jobterm` (`'ended' | 'put_back' | 'refunded'`) added. The
 * caller's logger object is not modified.
 */
export function withTrueEndings<T extends Logger>(logger: T): T {
  const wrapped = Object.create(logger) as T;
  Object.defineProperties(wrapped, {
    scope: {
      // graphile 0.18 scopes a logger per job for `helpers.logger` (label
      // 'job'); the `Failed task` line comes from the worker's scope, so the
      // per-job one is left unwrapped and running a job costs nothing more.
      value: (scope: Record<string, unknown>) =>
        scope.label === 'job' ? logger.scope(scope) : withTrueEndings(logger.scope(scope)),
    },
    error: {
      value: (message: string, meta?: Record<string, unknown>) => {
        const line = endingLine(meta);
        if (line === undefined) return logger.error(message, meta);
        const { failure: _failure, ...rest } = meta as Record<string, unknown>;
        return logger.info(line, { ...rest, jobterm: endings.get(rest.error as object) });
      },
    },
  });
  return wrapped;
}
