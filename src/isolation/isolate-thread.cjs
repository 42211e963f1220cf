'use strict';
/**
 * The task handler piscina runs in each pooled worker thread (see
 * isolate-runtime.cjs). The job's flag is a SharedArrayBuffer the parent
 * writes: `isTerminating()` reads it with Atomics, so a synchronous loop sees
 * a termination at once; `Atomics.waitAsync` wakes this thread's event loop
 * to fire the signal for code that awaits.
 */
const { threadId } = require('node:worker_threads');
const { FLAG, SharedFlag, crossable, runTask } = require('./isolate-runtime.cjs');

module.exports = async function jobtermIsolatedTask(task) {
  const words = new Int32Array(task.flag, 0, FLAG.HEADER_BYTES / 4);
  // Tells the parent which thread runs the job, so escalation can await its exit.
  Atomics.store(words, FLAG.THREAD_ID, threadId);
  const flag = new SharedFlag(task.flag);
  let token;
  const waiting = Atomics.waitAsync(words, FLAG.STATE, FLAG.RUNNING);
  if (waiting.async) {
    waiting.value.then(() => {
      if (Atomics.load(words, FLAG.STATE) === FLAG.TERMINATING) token?.sync();
    });
  }
  const answer = await runTask(task, flag, (made) => {
    token = made;
  });
  // Releases the waiter above, so nothing of this job stays pending.
  Atomics.store(words, FLAG.STATE, FLAG.FINISHED);
  Atomics.notify(words, FLAG.STATE);
  return crossable(answer);
};
