import type { ResourceLimits } from 'node:worker_threads';
import type { TerminationToken } from '../core/token.js';

export {
  IsolateCloneError,
  IsolateCrashError,
  type IsolateCrashKind,
  isIsolateCloneError,
  isIsolateCrashError,
} from './errors.js';
export { isolated, isolationStats, moduleHref } from './isolated.js';
export {
  ISOLATED_OPTION_KEYS,
  ISOLATION_DEFAULTS,
  type IsolatedOptions,
  type IsolateRunner,
  resolveIsolatedOptions,
} from './options.js';
export type { IsolatePoolStats } from './pool.js';
export { runInWorkerThread } from './worker-thread.js';

/** @deprecated `runInWorkerThread()`'s options; use `isolated()`'s. */
export interface WorkerThreadOptions {
  /** The module's export to call. @default 'default' */
  exportName?: string;
  /** Node's limits for the thread (heap sizes, stack). */
  resourceLimits?: ResourceLimits;
}

/** @deprecated The isolated export's token is a full {@link TerminationToken}. */
export type ThreadToken = TerminationToken;
