import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A bench worker's line on stdout: an event kind, a job id or index, a time (ms since the epoch, fractional). */
export interface WorkerMessage {
  e: string;
  i?: string;
  t?: number;
}

/**
 * Reads a bench worker process's JSON lines and returns `next(kind, id)`,
 * which resolves with that message whether it came before or after the call.
 * Rejects after `timeout` ms, or at once if the worker has exited.
 */
export function connectWorker(child: ChildProcess, label: string) {
  const seen = new Map<string, WorkerMessage>();
  const waiting = new Map<string, { resolve: (message: WorkerMessage) => void; reject: (error: Error) => void }>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const message = JSON.parse(line) as WorkerMessage;
    const key = `${message.e}:${message.i ?? ''}`;
    const waiter = waiting.get(key);
    if (waiter) {
      waiting.delete(key);
      waiter.resolve(message);
    } else seen.set(key, message);
  });
  let exited = false;
  child.once('exit', (code) => {
    exited = true;
    for (const [key, waiter] of waiting) waiter.reject(new Error(`${label} exited (${code}) while waiting for ${key}`));
    waiting.clear();
  });
  return (e: string, i = '', timeout = 10_000): Promise<WorkerMessage> => {
    const key = `${e}:${i}`;
    const early = seen.get(key);
    if (early) {
      seen.delete(key);
      return Promise.resolve(early);
    }
    if (exited) return Promise.reject(new Error(`${label} exited before ${key}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(key);
        reject(new Error(`${label} sent no ${key} within ${timeout} ms`));
      }, timeout);
      waiting.set(key, {
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  };
}
