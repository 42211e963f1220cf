import { once } from 'node:events';
import { deserialize } from 'node:v8';
import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { type DescribedError, payloadCloneError } from './crossing.js';
import { IsolateCrashError } from './errors.js';
import { TerminationFlag } from './flag.js';
import type { ResolvedPoolOptions } from './options.js';
import {
  type IsolateAnswer,
  type IsolatePool,
  type IsolatePoolStats,
  type IsolateRun,
  type IsolateTask,
  STOPPED,
} from './pool.js';

/**
 * The handler each thread runs. A file, because piscina loads its handler by
 * path: the same name sits beside this module in src/ and beside the bundled
 * chunks in dist/ (tsup builds it from src/isolation/isolate-thread.cjs).
 */
const HANDLER = new URL('./isolate-thread.cjs', import.meta.url);

/**
 * Worker threads from piscina: a slot's start-up is paid once, aborting one
 * task terminates only its thread, and piscina starts a new thread for the
 * next task. Each call gets its own SharedArrayBuffer flag.
 */
export class ThreadPool implements IsolatePool {
  private readonly piscina: Piscina;
  private running = 0;
  private closing: Promise<void> | undefined;
  /** Threads escalation is terminating: piscina forgets them at once, close() still awaits their exit. */
  private readonly exiting = new Set<Promise<unknown>>();
  private readonly goneListeners = new Set<(gone: { runner: 'thread'; id: number }) => void>();

  constructor(private readonly options: ResolvedPoolOptions) {
    this.piscina = new Piscina({
      filename: HANDLER.href,
      minThreads: 0,
      maxThreads: options.size,
      idleTimeout: options.idleTimeout,
      maxQueue: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 1,
      ...(options.resourceLimits === undefined ? {} : { resourceLimits: options.resourceLimits }),
      ...(options.execArgv === undefined ? {} : { execArgv: [...options.execArgv] }),
    });
    // Errors of threads with no task (there are none to fail) must not crash the process.
    this.piscina.on('error', () => {});
  }

  start(task: IsolateTask): IsolateRun {
    const flag = new TerminationFlag();
    const controller = new AbortController();
    let stopped = false;
    this.running++;
    const answer = this.piscina
      .run({ ...task, flag: flag.buffer }, { signal: controller.signal })
      .then(
        (raw: RawAnswer): IsolateAnswer => (raw.ok ? { ok: true, value: deserialize(raw.value), seen: raw.seen } : raw),
        (error: unknown) => {
          if (stopped || this.closing !== undefined) throw STOPPED;
          throw this.failure(error, task);
        },
      )
      .finally(() => {
        this.running--;
      });
    const threadOf = (): Worker | undefined => {
      const id = flag.threadId;
      return id === 0 ? undefined : this.piscina.threads.find((thread) => thread.threadId === id);
    };
    return {
      answer,
      terminate: (reason, deadline) => {
        flag.write(reason, deadline);
        // Not started in a thread yet: it never will be.
        if (flag.threadId === 0) {
          stopped = true;
          controller.abort();
        }
      },
      hardStop: async () => {
        if (flag.finished) return;
        const thread = threadOf();
        const id = thread?.threadId ?? -1;
        const gone = thread === undefined || id === -1 ? undefined : once(thread, 'exit');
        stopped = true;
        controller.abort();
        if (gone === undefined) return;
        this.exiting.add(gone);
        try {
          await gone;
        } finally {
          this.exiting.delete(gone);
        }
        for (const listener of this.goneListeners) listener({ runner: 'thread', id });
      },
    };
  }

  onGone(listener: (gone: { runner: 'thread'; id: number }) => void): () => void {
    this.goneListeners.add(listener);
    return () => this.goneListeners.delete(listener);
  }

  stats(): IsolatePoolStats {
    return {
      runner: 'thread',
      isolates: this.piscina.threads.length,
      running: this.running,
      queued: this.piscina.queueSize,
    };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.piscina.destroy();
      await Promise.allSettled([...this.exiting]);
    })();
    return this.closing;
  }

  private failure(error: unknown, task: IsolateTask): Error {
    const where = `${task.module}#${task.exportName}`;
    const name = (error as { name?: unknown } | null)?.name;
    if (name === 'DataCloneError') return payloadCloneError(task.payload, error, where, structuredClone);
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'ERR_WORKER_OUT_OF_MEMORY') {
      return new IsolateCrashError(
        `jobterm: the worker thread running ${where} ran out of memory (resourceLimits ${JSON.stringify(this.options.resourceLimits ?? {})})`,
        { kind: 'out_of_memory', runner: 'thread' },
        { cause: error },
      );
    }
    const message = error instanceof Error ? error.message : String(error);
    const exit = /worker exited with code: (-?\d+)/.exec(message);
    if (exit !== null) {
      const exitCode = Number(exit[1]);
      return new IsolateCrashError(
        `jobterm: the worker thread running ${where} exited with code ${exitCode} before answering`,
        { kind: 'exit', runner: 'thread', exitCode },
        { cause: error },
      );
    }
    return new IsolateCrashError(
      `jobterm: the worker thread running ${where} crashed: ${message}`,
      { kind: 'uncaught', runner: 'thread' },
      { cause: error },
    );
  }
}

type RawAnswer = { ok: true; value: Uint8Array; seen: boolean } | { ok: false; error: DescribedError; seen: boolean };
