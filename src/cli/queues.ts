import type pg from 'pg';
import type { QueueAdapter } from '../core/adapter.js';

/**
 * The adapter that lets `jobterm terminate <queue> ...` tell `already_finished`
 * and `not_found` apart, and cancel a job that has not started, for the queue
 * systems jobterm ships adapters for. It shares the CLI's pool.
 *
 * None yet: the terminator then stores the request, and the worker that runs
 * (or picks up) the job applies it. Each adapter adds a case here, loading its
 * module dynamically so one queue's peer dependency never loads for another.
 */
export async function adapterFor(queue: string, pool: pg.Pool): Promise<QueueAdapter | undefined> {
  void queue;
  void pool;
  return undefined;
}
