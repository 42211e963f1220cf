import type { TerminationToken } from '../../core/token.js';

/**
 * What jobterm adds to a task's `helpers`, as `helpers.jobterm`, next to
 * graphile's own `helpers.abortSignal` (which keeps working, and also fires
 * the token as a `shutdown`). The same token is `currentToken()` anywhere in
 * the task's code.
 */
export class JobtermHelpers {
  /** This job's termination token. */
  readonly token: TerminationToken;

  constructor(token: TerminationToken) {
    this.token = token;
  }

  /** `token.signal`: aborts with a `JobTerminatedError` when the job is being terminated. */
  get signal(): AbortSignal {
    return this.token.signal;
  }
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
