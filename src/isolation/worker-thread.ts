import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type ResourceLimits, Worker } from 'node:worker_threads';
import { currentJob } from '../core/context.js';
import { checkKnownKeys, expected } from '../core/errors.js';
import { describeReason } from '../core/reason.js';
import { onTerminateUnobserved, peekReason } from '../core/token.js';
import { markTerminationSeen, registerHardStop } from '../middleware/run-job.js';
import { THREAD_CODE } from './thread-code.js';

export interface WorkerThreadOptions {
  /** The module's export to call. @default 'default' */
  exportName?: string;
  /** Node's limits for the thread (heap sizes, stack). */
  resourceLimits?: ResourceLimits;
}

/** What the thread's function gets as its second argument: the job's token, mirrored into the thread. */
export interface ThreadToken {
  readonly signal: AbortSignal;
  readonly reason: { kind: 'kill' | 'shutdown' | 'timeout'; message: string } | undefined;
  isTerminating(): boolean;
  throwIfTerminating(): void;
}

const OPTION_KEYS = ['exportName', 'resourceLimits'];

/**
 * Runs part of a job in a worker thread, so that it can really be stopped:
 * `export default async function (payload, token) { ... }` in `module`.
 *
 * When the job's token fires, the thread's token fires too (cooperative).
 * If the job has not stopped when jobterm escalates (`killTimeout`, or the
 * shutdown timeout), the thread is terminated — a CPU-bound loop included —
 * and the job settles as usual, with `escalated: { hardStopped: true }`.
 * Meanwhile the worker process's event loop stays free, so kills keep
 * arriving in milliseconds.
 *
 * Call it inside a job (an adapter's task or handler, or `terminator.run()`).
 * `payload` and the result must be structured-cloneable. Inside the thread,
 * use the token passed to the function: jobterm's `isTerminating()` there
 * has no job.
 */
export async function runInWorkerThread<T = unknown>(
  module: string | URL,
  payload?: unknown,
  options: WorkerThreadOptions = {},
): Promise<T> {
  const href = moduleHref(module);
  if (typeof options !== 'object' || options === null) throw expected('options', 'an object', options);
  checkKnownKeys('runInWorkerThread() options', options, OPTION_KEYS);
  const exportName = options.exportName ?? 'default';
  if (typeof exportName !== 'string' || exportName.length === 0) {
    throw expected('exportName', 'a non-empty string', exportName);
  }
  const job = currentJob();
  if (job === undefined) {
    throw new Error('jobterm: runInWorkerThread() must be called inside a job run by a terminator');
  }
  const { token } = job;
  token.throwIfTerminating();

  const worker = new Worker(THREAD_CODE, {
    eval: true,
    workerData: { module: href, exportName, payload },
    ...(options.resourceLimits === undefined ? {} : { resourceLimits: options.resourceLimits }),
  });
  let hardStopped = false;
  const removeHardStop = registerHardStop(token, async () => {
    hardStopped = true;
    await worker.terminate();
  });
  // The mirror is jobterm's own subscriber: it must not count as the job seeing its termination.
  const unsubscribe = onTerminateUnobserved(token, (reason) => {
    // The thread may already be gone; a message to an exited worker is dropped.
    worker.postMessage({
      type: 'terminate',
      reason: { kind: reason.kind, message: reason.message },
      description: describeReason(reason),
    });
  });
  try {
    return await new Promise<T>((resolve, reject) => {
      worker.once('message', (message: { type: string; value?: unknown; seen?: boolean; error?: ThreadError }) => {
        // The thread's code saw its termination: the job's return after it is stopping early.
        if (message.seen === true) markTerminationSeen(token);
        if (message.type === 'result') resolve(message.value as T);
        else reject(rebuild(message.error));
      });
      worker.once('error', reject);
      worker.once('exit', (code) => {
        // Reached only when no answer came: terminated by escalation, or the thread died.
        if (hardStopped || peekReason(token) !== undefined) {
          try {
            token.throwIfTerminating();
          } catch (error) {
            reject(error);
            return;
          }
        }
        reject(new Error(`jobterm: the worker thread running ${href} exited with code ${code} before answering`));
      });
    });
  } finally {
    unsubscribe();
    removeHardStop?.();
    // Frees the thread even if the module left timers or sockets open.
    void worker.terminate();
  }
}

interface ThreadError {
  name: string;
  message: string;
  stack?: string;
  reason?: unknown;
}

function rebuild(error: ThreadError | undefined): Error {
  const rebuilt = new Error(error?.message ?? 'the worker thread failed');
  rebuilt.name = error?.name ?? 'Error';
  if (error?.stack) rebuilt.stack = error.stack;
  if (error?.reason !== undefined) (rebuilt as Error & { reason?: unknown }).reason = error.reason;
  return rebuilt;
}

function moduleHref(module: unknown): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== 'string' || module.length === 0) {
    throw expected('module', 'a file URL, or a path to an ES module or CommonJS file', module);
  }
  return /^[a-z][a-z0-9+.-]*:/i.test(module) ? module : pathToFileURL(resolvePath(module)).href;
}
