import type { TerminationToken } from '../../core/token.js';

/**
 * What jobterm adds to a task's `helpers`, as `helpers.jobterm`, next to
 * graphile's own `helpers.abortSignal` (which keeps working, and also fires
 * the token as a `shutdown`). The same token is `currentToken()` anywhere in
 * the task's code.
 */
export interface JobtermHelpers {
  /** This job's termination token. */
  readonly token: TerminationToken;
  /** `token.signal`: aborts with a `JobTerminatedError` when the job is being terminated. */
  readonly signal: AbortSignal;
}

declare module 'graphile-worker' {
  interface JobHelpers {
    /**
     * jobterm's termination token for this job. Present when the task runs
     * under jobterm's plugin (`makeJobtermPreset`) or `wrapTaskList()`.
     */
    jobterm: JobtermHelpers;
  }
}

export function makeJobtermHelpers(token: TerminationToken): JobtermHelpers {
  return {
    token,
    get signal() {
      return token.signal;
    },
  };
}
