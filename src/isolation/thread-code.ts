/**
 * What runs inside the worker thread, as source: an `eval` worker needs no
 * entry file, so the same code works from jobterm's sources, its ESM build
 * and its CommonJS build. It imports the job's module, calls the export with
 * the payload and a token of its own, and answers with one message.
 *
 * The thread's token mirrors the job's: the main thread posts `terminate`
 * when the job's token fires, and the thread's signal aborts with a
 * `JobTerminatedError`-named error carrying the reason. A thread whose code
 * never yields cannot see it; escalation then terminates the thread. Whether
 * the thread's code saw its termination (`isTerminating()` true,
 * `throwIfTerminating()` threw, `reason` read while set) goes back with the
 * result as `seen`, so a return after it counts as stopping early.
 */
export const THREAD_CODE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const controller = new AbortController();
let reason;
let seen = false;
parentPort.on('message', (message) => {
  if (message && message.type === 'terminate' && !controller.signal.aborted) {
    reason = message.reason;
    const error = new Error(message.description);
    error.name = 'JobTerminatedError';
    error.reason = reason;
    controller.abort(error);
  }
});
const token = {
  get signal() { return controller.signal; },
  get reason() { if (reason !== undefined) seen = true; return reason; },
  isTerminating: () => { if (reason === undefined) return false; seen = true; return true; },
  throwIfTerminating: () => { if (reason !== undefined) { seen = true; throw controller.signal.reason; } },
};
const describe = (error) =>
  error instanceof Error
    ? { name: error.name, message: error.message, stack: error.stack, reason: error.reason }
    : { name: 'Error', message: String(error) };
import(workerData.module)
  .then((mod) => {
    const fn = mod[workerData.exportName];
    if (typeof fn !== 'function') {
      throw new TypeError('Expected export \`' + workerData.exportName + '\` of ' + workerData.module + ' to be a function, got ' + typeof fn);
    }
    return fn(workerData.payload, token);
  })
  .then(
    (value) => {
      try {
        parentPort.postMessage({ type: 'result', value, seen });
      } catch (error) {
        parentPort.postMessage({ type: 'error', error: describe(error) });
      }
    },
    (error) => parentPort.postMessage({ type: 'error', error: describe(error) }),
  )
  .finally(() => parentPort.close());
`;
