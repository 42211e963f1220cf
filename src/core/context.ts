import { AsyncLocalStorage } from 'node:async_hooks';
import type { TerminationToken } from './token.js';

/**
 * The token of the job whose code is running now. One storage per copy of
 * jobterm; adapters and `iterate()` read it through the functions below, so
 * a job's helpers need no token passed down to them.
 */
const storage = new AsyncLocalStorage<TerminationToken>();

export function withToken<T>(token: TerminationToken, fn: () => T): T {
  return storage.run(token, fn);
}

/** The running job's token, or undefined outside a job. */
export function currentToken(): TerminationToken | undefined {
  return storage.getStore();
}

/** False outside a job. */
export function isTerminating(): boolean {
  return storage.getStore()?.isTerminating() ?? false;
}

/** Throws the job's `JobTerminatedError` if it is terminating; does nothing outside a job. */
export function throwIfTerminating(): void {
  storage.getStore()?.throwIfTerminating();
}
