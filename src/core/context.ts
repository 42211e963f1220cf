import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
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

/**
 * Inside an isolate (a pooled worker thread or child process, src/isolation)
 * the job runs in the parent; the isolate's runtime registers its context
 * under this registered symbol, so any copy of jobterm loaded there finds it.
 * Read only when there is no job in this copy's own storage.
 */
const ISOLATE_CONTEXT = Symbol.for('jobterm.isolate.context');

function isolateJob(): JobContext | undefined {
  return (globalThis as { [ISOLATE_CONTEXT]?: () => JobContext | undefined })[ISOLATE_CONTEXT]?.();
}

/**
 * Calls `fn` with `context` as the running job, in the caller's async
 * context otherwise: the caller's other AsyncLocalStorage stores (tracing,
 * request ids) reach the job as they would without jobterm, and the caller
 * gets its own context back when `fn` returns.
 *
 * Not `storage.run()`: in Node 24 (AsyncContextFrame) it is `enterWith(context)`
 * and then `enterWith(prior)` in a `finally`, two copies of the caller's
 * context frame (a Map) per job, and the second leaves a frame holding
 * `storage -> undefined` behind that every later copy iterates: ~4,300
 * instructions per job (Node 24.22). An AsyncResource made here captures the
 * caller's frame; inside its `runInAsyncScope()`, `enterWith()` adds the job
 * to one copy of it, and the scope's end puts the caller's very frame back:
 * ~1,400 instructions. With async_hooks' AsyncLocalStorage (Node 22, or 24
 * with `--no-async-context-frame`) `enterWith()` writes the store on this
 * resource, the one executing, so the caller's is untouched there as well.
 * The job's code runs with this resource as its `executionAsyncId()`.
 */
export function withJob<T>(context: JobContext, fn: () => T): T {
  return new AsyncResource('jobterm.job').runInAsyncScope(enterJob, null, context, fn) as T;
}

function enterJob<T>(context: JobContext, fn: () => T): T {
  storage.enterWith(context);
  return fn();
}

/** The running job's context, or undefined outside a job. */
export function currentJob(): JobContext | undefined {
  return storage.getStore() ?? isolateJob();
}

/** The running job's token, or undefined outside a job. */
export function currentToken(): TerminationToken | undefined {
  return (storage.getStore() ?? isolateJob())?.token;
}

/** False outside a job. */
export function isTerminating(): boolean {
  return (storage.getStore() ?? isolateJob())?.token.isTerminating() ?? false;
}

/** Throws the job's `JobTerminatedError` if it is terminating; does nothing outside a job. */
export function throwIfTerminating(): void {
  (storage.getStore() ?? isolateJob())?.token.throwIfTerminating();
}
