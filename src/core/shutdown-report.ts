import type { JobRef } from './job-ref.js';
import type { JobStatus } from './outcome.js';

/** What `shutdown()` resolves to: every job that was running when it started, and how each ended. */
export interface ShutdownReport {
  readonly jobs: ReadonlyArray<{ readonly ref: JobRef; readonly status: JobStatus; readonly escalated: boolean }>;
  /** How many jobs did not stop within the timeout. */
  readonly escalated: number;
  readonly durationMs: number;
}
