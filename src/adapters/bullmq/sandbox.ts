import type { Job } from 'bullmq';
import { isolated } from '../../isolation/isolated.js';
import type { IsolatedOptions } from '../../isolation/options.js';
import type { SandboxedJob } from './types.js';

/**
 * BullMQ's own sandbox (a file path given to `new Worker()`) runs the
 * processor in a child process that jobterm cannot reach: BullMQ 6.7 sends
 * it a cancel message only (cooperative, 5.70 #3806), and a CPU-bound loop
 * runs on. Given the file instead, `jt.processor(file)` runs it on
 * jobterm's isolation pools (`isolated()`, a pooled worker thread by
 * default, or a child process with `runner: 'process'`): the token is
 * mirrored in (in a thread, a flag even a synchronous loop reads), and at
 * escalation the thread is terminated or the process killed, a `for (;;) {}`
 * included, while the worker's own loop stays free for other jobs; the pool
 * replaces the isolate it lost.
 */
export function sandboxedFunction(
  file: string | URL,
  options: Partial<IsolatedOptions>,
): (job: Job) => Promise<unknown> {
  const run = isolated<SandboxedJob, unknown>(file, { runner: 'thread', ...options });
  return function runSandboxed(job: Job) {
    return run(snapshot(job));
  };
}

/** The job's fields, structured-cloneable, as BullMQ's own sandbox hands them (`job.asJSONSandbox()` without the methods). */
function snapshot(job: Job): SandboxedJob {
  return {
    id: job.id as string,
    name: job.name,
    queueName: job.queueName,
    data: job.data,
    opts: JSON.parse(JSON.stringify(job.opts ?? {})),
    attemptsMade: job.attemptsMade,
    attemptsStarted: job.attemptsStarted,
    timestamp: job.timestamp,
    progress: job.progress,
  };
}
