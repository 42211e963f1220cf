import { JobTerminatedError } from './errors.js';
import { outranks, type TerminationReason } from './reason.js';

/**
 * What a running job holds to learn it is being terminated.
 *
 * Contract (as abort-controller-x writes it for abortable functions): a job
 * that sees `isTerminating()` or its `signal` abort should stop soon, clean
 * up, and either throw (ideally the `JobTerminatedError`, via
 * `throwIfTerminating()`) or return. Either way the job's ending follows the
 * reason, not what it returned.
 */
export interface TerminationToken {
  /** Aborts once, with a {@link JobTerminatedError} as its `reason`. Pass it to `fetch`, streams, timers. */
  readonly signal: AbortSignal;
  /** Undefined until termination starts. A `kill` replaces an earlier `shutdown` or `timeout`. */
  readonly reason: TerminationReason | undefined;
  /** When jobterm stops waiting and escalates, if known. */
  readonly deadline: Date | undefined;
  isTerminating(): boolean;
  /** Throws the `JobTerminatedError` if terminating; otherwise does nothing. */
  throwIfTerminating(): void;
  /**
   * Runs `fn` once when termination starts (at once, if it has already
   * started). Callbacks run in the order added; one that throws is reported
   * and does not stop the others. Returns an unsubscribe that is safe to call
   * twice.
   */
  onTerminate(fn: (reason: TerminationReason) => void): () => void;
}

export type CallbackErrorHandler = (error: unknown) => void;

/** The writable side of a token, kept by the terminator. */
export class TokenSource {
  readonly token: TerminationToken;
  // Made on first use: most jobs never read their signal, and an
  // AbortController is the heaviest part of a token.
  private controller: AbortController | undefined;
  /** What the signal aborts with: the first reason's error (an AbortSignal aborts once). */
  private abortError: JobTerminatedError | undefined;
  private currentReason: TerminationReason | undefined;
  private currentDeadline: Date | undefined;
  private callbacks: Array<(reason: TerminationReason) => void> | undefined = [];

  constructor(private readonly onCallbackError: CallbackErrorHandler) {
    this.token = new Token(this);
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortError !== undefined) this.controller.abort(this.abortError);
    }
    return this.controller.signal;
  }

  get deadline(): Date | undefined {
    return this.currentDeadline;
  }

  get reason(): TerminationReason | undefined {
    return this.currentReason;
  }

  /**
   * Starts termination, or upgrades it to a kill. Returns true when the
   * reason changed. The signal aborts only the first time: an AbortSignal
   * cannot abort twice, so a kill that follows a shutdown shows in `reason`.
   */
  terminate(reason: TerminationReason, deadline?: Date): boolean {
    if (!outranks(reason, this.currentReason)) return false;
    const first = this.currentReason === undefined;
    this.currentReason = reason;
    this.currentDeadline = deadline;
    if (first) {
      this.abortError = new JobTerminatedError(reason);
      this.controller?.abort(this.abortError);
      const callbacks = this.callbacks ?? [];
      this.callbacks = undefined;
      for (const fn of callbacks) this.call(fn, reason);
    }
    return true;
  }

  setDeadline(deadline: Date | undefined): void {
    this.currentDeadline = deadline;
  }

  error(cause?: unknown): JobTerminatedError {
    const reason = this.currentReason;
    if (reason === undefined) throw new Error('jobterm: error() called on a token that is not terminating');
    return new JobTerminatedError(reason, cause === undefined ? undefined : { cause });
  }

  /** Drops pending callbacks; called when the job settles. */
  dispose(): void {
    this.callbacks = undefined;
  }

  /** `token.onTerminate()`. */
  subscribe(fn: (reason: TerminationReason) => void): () => void {
    if (typeof fn !== 'function') throw new TypeError(`Expected \`fn\` to be a function, got ${typeof fn}`);
    if (this.currentReason !== undefined) {
      this.call(fn, this.currentReason);
      return () => {};
    }
    if (this.callbacks === undefined) return () => {};
    this.callbacks.push(fn);
    return () => {
      const index = this.callbacks?.indexOf(fn) ?? -1;
      if (index !== -1) this.callbacks?.splice(index, 1);
    };
  }

  private call(fn: (reason: TerminationReason) => void, reason: TerminationReason): void {
    try {
      fn(reason);
    } catch (error) {
      this.onCallbackError(error);
    }
  }
}

/**
 * The read side of a token: one small object per job. Its methods are made
 * on first use and kept, so a job that never calls them allocates nothing
 * more, and `const { throwIfTerminating } = token` still works.
 */
class Token implements TerminationToken {
  private isTerminatingFn: (() => boolean) | undefined;
  private throwIfTerminatingFn: (() => void) | undefined;
  private onTerminateFn: ((fn: (reason: TerminationReason) => void) => () => void) | undefined;

  constructor(private readonly source: TokenSource) {}

  get signal(): AbortSignal {
    return this.source.signal;
  }

  get reason(): TerminationReason | undefined {
    return this.source.reason;
  }

  get deadline(): Date | undefined {
    return this.source.deadline;
  }

  get isTerminating(): () => boolean {
    const source = this.source;
    this.isTerminatingFn ??= () => source.reason !== undefined;
    return this.isTerminatingFn;
  }

  get throwIfTerminating(): () => void {
    const source = this.source;
    this.throwIfTerminatingFn ??= () => {
      if (source.reason !== undefined) throw source.error();
    };
    return this.throwIfTerminatingFn;
  }

  get onTerminate(): (fn: (reason: TerminationReason) => void) => () => void {
    const source = this.source;
    this.onTerminateFn ??= (fn) => source.subscribe(fn);
    return this.onTerminateFn;
  }
}
