import { checkKnownKeys, expected } from '../core/errors.js';
import type { WorkerThreadOptions } from './index.js';
import { isolated } from './isolated.js';

const OPTION_KEYS = ['exportName', 'resourceLimits'];

/**
 * @deprecated Use `isolated(module, { runner: 'thread' })`, which this now is:
 * the call runs in the terminator's pooled worker threads instead of a fresh
 * thread per call, and the export's token (and jobterm's free functions)
 * see a termination even inside a synchronous loop.
 */
export async function runInWorkerThread<T = unknown>(
  module: string | URL,
  payload?: unknown,
  options: WorkerThreadOptions = {},
): Promise<T> {
  if (typeof options !== 'object' || options === null) throw expected('options', 'an object', options);
  checkKnownKeys('runInWorkerThread() options', options, OPTION_KEYS);
  return isolated<unknown, T>(module, { runner: 'thread', ...options })(payload);
}
