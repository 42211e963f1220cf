import type { IsolateRunner } from './options.js';

export type IsolateCrashKind = 'exit' | 'signal' | 'out_of_memory' | 'uncaught';

/**
 * The isolate died while it ran the job's isolated part: an uncaught error,
 * `process.exit(n)`, out of memory under `resourceLimits`, a signal such as
 * SIGSEGV. The job fails with it (its `cause` is what the isolate reported);
 * the pool replaces the isolate and goes on.
 */
export class IsolateCrashError extends Error {
  override readonly name = 'IsolateCrashError' as const;
  readonly kind: IsolateCrashKind;
  readonly runner: IsolateRunner;
  readonly exitCode: number | undefined;
  readonly signal: NodeJS.Signals | undefined;

  constructor(
    message: string,
    details: { kind: IsolateCrashKind; runner: IsolateRunner; exitCode?: number; signal?: NodeJS.Signals },
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.kind = details.kind;
    this.runner = details.runner;
    this.exitCode = details.exitCode;
    this.signal = details.signal;
  }
}

/** A payload or a result that cannot cross into or out of the isolate; `path` names the value, when found. */
export class IsolateCloneError extends Error {
  override readonly name = 'IsolateCloneError' as const;
  readonly side: 'payload' | 'result';
  readonly path: string | undefined;

  constructor(message: string, details: { side: 'payload' | 'result'; path?: string }, options?: ErrorOptions) {
    super(message, options);
    this.side = details.side;
    this.path = details.path;
  }
}

export function isIsolateCrashError(error: unknown): error is IsolateCrashError {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'IsolateCrashError';
}

export function isIsolateCloneError(error: unknown): error is IsolateCloneError {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'IsolateCloneError';
}
