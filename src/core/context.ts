import { AsyncLocalStorage } from 'node:async_hooks';
import type { JobRef } from './job-ref.js';
import type { ProgressStore } from './progress.js';
import type { TerminationToken } from './token.js';

/** What jobterm knows about the job whose code is running now. */
export interface JobContext {
  readonly token: TerminationToken;
  readonly ref: JobRef;
  /** Where `iterate()` keeps this job's cursor, when the terminator has one. */
  readonly progress: ProgressStore | undefined;
}

/**
 * The running job, per async context. One storage per copy of jobterm;
 * adapters and `iterate()` read it through the functions below, so a job's
 * helpers need no token passed down to them.
 */
const storage = new AsyncLocalStorage<JobContext>();

export function withJob<T>(context: JobContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The running job's context, or undefined outside a job. */
export function currentJob(): JobContext | undefined {
  return storage.getStore();
}

/** The running job's token, or undefined outside a job. */
export function currentToken(): TerminationToken | undefined {
  return storage.getStore()?.token;
}

/** False outside a job. */
export function isTerminating(): boolean {
  return storage.getStore()?.token.isTerminating() ?? false;
}

/** Throws the job's `JobTerminatedError` if it is terminating; does nothing outside a job. */
export function throwIfTerminating(): void {
  storage.getStore()?.token.throwIfTerminating();
}
