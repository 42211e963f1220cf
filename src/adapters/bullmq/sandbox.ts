import type { Job } from 'bullmq';
import { runInWorkerThread, type WorkerThreadOptions } from '../../isolation/worker-thread.js';
import type { SandboxedJob } from './types.js';

/**
 * BullMQ's own sandbox (a file path given to `new Worker()`) runs the
 * processor in a child process that jobterm cannot reach: BullMQ 6.7 sends
 * it a cancel message only (cooperative, 5.70 #3806), and a CPU-bound loop
 * runs on. Given the file instead, `jt.processor(file)` runs it in a worker
 * thread of jobterm's (`runInWorkerThread()`): the token is mirrored into
 * the thread, and at escalation the thread is terminated, a `for (;;) {}`
 * included, while the worker's own loop stays free for other jobs. One
 * thread per job, made at its start and gone at its end, so a killed one is
 * replaced by the next job's.
 */
export function sandboxedFunction(file: string | URL, options: WorkerThreadOptions): (job: Job) => Promise<unknown> {
  return function runSandboxed(job: Job) {
    return runInWorkerThread(file, snapshot(job), options);
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
