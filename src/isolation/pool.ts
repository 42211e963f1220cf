import type { JobRef } from '../core/job-ref.js';
import type { TerminationReason } from '../core/reason.js';
import type { DescribedError } from './crossing.js';
import type { IsolateRunner } from './options.js';

/** One isolated call, as it crosses into the isolate. */
export interface IsolateTask {
  /** The module's URL (file:, or anything `import()` takes). */
  readonly module: string;
  readonly exportName: string;
  readonly payload: unknown;
  /** The job's reference, for `currentJob()` inside the isolate. */
  readonly ref: JobRef;
}

/** What the isolate answered; `seen` is the job's "saw its termination" bit. */
export type IsolateAnswer =
  | { readonly ok: true; readonly value: unknown; readonly seen: boolean }
  | { readonly ok: false; readonly error: DescribedError; readonly seen: boolean };

/** One call running (or waiting) in a pool. */
export interface IsolateRun {
  /**
   * The isolate's answer. Rejects with an `IsolateCrashError` (the isolate
   * died), an `IsolateCloneError` (the payload could not cross), or
   * `STOPPED` after `hardStop()` or a cancel before start.
   */
  readonly answer: Promise<IsolateAnswer>;
  /** Mirrors the job's termination into the isolate (cooperative); a call that has not started is cancelled. */
  terminate(reason: TerminationReason, deadline: Date | undefined): void;
  /** Escalation: stops the isolate for real; resolves once it is gone. The pool replaces it on demand. */
  hardStop(): Promise<void>;
}

export interface IsolatePoolStats {
  readonly runner: IsolateRunner;
  /** Isolates alive now (threads or child processes), busy or idle. */
  readonly isolates: number;
  /** Calls running now. */
  readonly running: number;
  /** Calls waiting for a free isolate. */
  readonly queued: number;
  /** Child process ids, for a `'process'` pool. */
  readonly pids?: readonly number[];
}

export interface IsolatePool {
  start(task: IsolateTask): IsolateRun;
  stats(): IsolatePoolStats;
  /**
   * Calls `listener` each time an isolate is gone (escalation's hard stop
   * waited for it, a crash, an idle exit): for benchmarks and dashboards.
   * Returns a remove.
   */
  onGone(listener: (gone: { readonly runner: IsolateRunner; readonly id: number }) => void): () => void;
  /** Stops every isolate (running calls reject with `STOPPED`) and resolves once all are gone. Safe to call twice. */
  close(): Promise<void>;
}

/** What a run rejects with when it was stopped on purpose (escalation, cancel, pool closed). */
export const STOPPED = Object.freeze(new Error('jobterm: the isolate was stopped'));
