import { JobTerminatedError } from './errors.js';
import { outranks, type TerminationReason } from './reason.js';

/**
 * What a running job holds to learn it is being terminated.
 *
 * Contract (as abort-controller-x writes it for abortable functions): a job
 * that sees `isTerminating()` or its `signal` abort should stop soon, clean
 * up, and either throw (ideally the `JobTerminatedError`, via
 * `throwIfTerminating()`) or return. A throw after the token fired is the
 * termination; a return is the job's completion unless the job saw its
 * termination first (DESIGN.md, "Did the job see it?"): `isTerminating()`
 * answered true, `throwIfTerminating()` threw, `reason` was read defined,
 * the signal's `aborted`, `reason` or `throwIfAborted()` was used after it
 * aborted, or an `onTerminate` callback ran.
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

/**
 * Told when an `onTerminate` callback throws: the running job itself, an
 * object with a method, so that a job makes no closure for an error that
 * almost never happens.
 */
export interface CallbackErrorHandler {
  callbackFailed(error: unknown): void;
}

type Callback = (reason: TerminationReason) => void;

/** The writable side of a token, kept by the terminator. */
export class TokenSource {
  readonly token: TerminationToken;
  /**
   * The job saw its termination: after the token fired, its code got true
   * from `isTerminating()`, had `throwIfTerminating()` throw, read `reason`,
   * read the signal's `aborted`/`reason` or called its `throwIfAborted()`, or
   * had an `onTerminate` callback run. jobterm's own reads go through the
   * source (or `peekReason()` / `onTerminateUnobserved()`) and never set it.
   */
  seen = false;
  // Made on first use: most jobs never read their signal, and an
  // AbortController is the heaviest part of a token.
  private controller: AbortController | undefined;
  /** What the signal aborts with: the first reason's error (an AbortSignal aborts once). */
  private abortError: JobTerminatedError | undefined;
  private currentReason: TerminationReason | undefined;
  private currentDeadline: Date | undefined;
  // undefined: none yet (made on first subscribe, not for every job); null:
  // fired or disposed, nothing more is kept.
  private callbacks: Callback[] | null | undefined;
  /** jobterm's own subscribers (the isolation mirror): they run first and never count as seen. */
  private internalCallbacks: Callback[] | null | undefined;
  /**
   * True while the signal dispatches its `abort` event. Reads of the signal's
   * `aborted`/`reason` then come from listeners, which do not count by
   * themselves: a library's listener (undici's, for a `fetch` that finished
   * long ago but whose Request is not yet collected) reads `this.reason`
   * whether or not the job still cares. One that acts makes the job throw.
   */
  dispatching = false;
  /**
   * The running job this token belongs to, for the calls a job makes from
   * inside (middleware/run-job.ts); cleared when it settles. A field, not a
   * WeakMap keyed by token: a WeakMap's set and delete for every job, and
   * the ephemeron work they give the GC, cost more than the rest of a token.
   */
  owner: unknown;

  constructor(private readonly onCallbackError: CallbackErrorHandler) {
    this.token = new Token(this);
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortError !== undefined) {
        instrumentSignal(this.controller.signal, this);
        this.controller.abort(this.abortError);
      }
    }
    return this.controller.signal;
  }

  get deadline(): Date | undefined {
    return this.currentDeadline;
  }

  /** jobterm's own read: never counts as the job seeing it. */
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
      if (this.controller !== undefined) {
        // Instrumented only now: a read counts as seen only once the signal
        // has aborted, and own accessors on every job's signal made it a
        // slow object (0.7 µs per signal; a plain one costs 0.06 µs).
        instrumentSignal(this.controller.signal, this);
        this.dispatching = true;
        try {
          this.controller.abort(this.abortError);
        } finally {
          this.dispatching = false;
        }
      }
      const internal = this.internalCallbacks;
      const callbacks = this.callbacks;
      this.internalCallbacks = null;
      this.callbacks = null;
      if (internal) for (const fn of internal) this.call(fn, reason);
      if (callbacks && callbacks.length > 0) {
        this.seen = true;
        for (const fn of callbacks) this.call(fn, reason);
      }
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
    this.callbacks = null;
    this.internalCallbacks = null;
  }

  /** `token.onTerminate()`; `internal` for jobterm's own subscribers, which never count as seen. */
  subscribe(fn: Callback, internal = false): () => void {
    if (typeof fn !== 'function') throw new TypeError(`Expected \`fn\` to be a function, got ${typeof fn}`);
    if (this.currentReason !== undefined) {
      if (!internal) this.seen = true;
      this.call(fn, this.currentReason);
      return () => {};
    }
    const list = internal ? this.internalCallbacks : this.callbacks;
    if (list === null) return () => {};
    const callbacks = list ?? [];
    if (list === undefined) {
      if (internal) this.internalCallbacks = callbacks;
      else this.callbacks = callbacks;
    }
    callbacks.push(fn);
    return () => {
      const index = callbacks.indexOf(fn);
      if (index !== -1) callbacks.splice(index, 1);
    };
  }

  private call(fn: Callback, reason: TerminationReason): void {
    try {
      fn(reason);
    } catch (error) {
      this.onCallbackError.callbackFailed(error);
    }
  }
}

/**
 * The read side of a token: one small object per job. Its methods are made
 * on first use and kept, so a job that never calls them allocates nothing
 * more, and `const { throwIfTerminating } = token` still works. Each of them
 * records that the job saw its termination when it reports one.
 */
class Token implements TerminationToken {
  private isTerminatingFn: (() => boolean) | undefined;
  private throwIfTerminatingFn: (() => void) | undefined;
  private onTerminateFn: ((fn: Callback) => () => void) | undefined;

  constructor(readonly source: TokenSource) {}

  get signal(): AbortSignal {
    return this.source.signal;
  }

  get reason(): TerminationReason | undefined {
    const source = this.source;
    const reason = source.reason;
    if (reason !== undefined) source.seen = true;
    return reason;
  }

  get deadline(): Date | undefined {
    return this.source.deadline;
  }

  get isTerminating(): () => boolean {
    const source = this.source;
    this.isTerminatingFn ??= () => {
      if (source.reason === undefined) return false;
      source.seen = true;
      return true;
    };
    return this.isTerminatingFn;
  }

  get throwIfTerminating(): () => void {
    const source = this.source;
    this.throwIfTerminatingFn ??= () => {
      if (source.reason === undefined) return;
      source.seen = true;
      throw source.error();
    };
    return this.throwIfTerminatingFn;
  }

  get onTerminate(): (fn: Callback) => () => void {
    const source = this.source;
    this.onTerminateFn ??= (fn) => source.subscribe(fn);
    return this.onTerminateFn;
  }
}

/**
 * The source behind a token jobterm made and handed back to itself (a batch's
 * entered tokens), without sourceOf()'s `instanceof`, which showed in the
 * batch path's count. Only for a token known to be jobterm's.
 */
export function ownSourceOf(token: TerminationToken): TokenSource {
  return (token as Token).source;
}

/** The source behind one of jobterm's tokens, or undefined for any other object. */
export function sourceOf(token: TerminationToken): TokenSource | undefined {
  return token instanceof Token ? token.source : undefined;
}

/**
 * The token's reason, read on jobterm's behalf (iteration, forwarding,
 * isolation): it never counts as the job seeing its termination.
 */
export function peekReason(token: TerminationToken): TerminationReason | undefined {
  const source = sourceOf(token);
  return source === undefined ? token.reason : source.reason;
}

/** `token.onTerminate(fn)` for jobterm's own subscribers (the isolation mirror): never counts as seen. */
export function onTerminateUnobserved(token: TerminationToken, fn: Callback): () => void {
  const source = sourceOf(token);
  return source === undefined ? token.onTerminate(fn) : source.subscribe(fn, true);
}

/** Whether the job behind `token` saw its termination (see `TokenSource.seen`). */
export function terminationSeen(token: TerminationToken): boolean {
  return sourceOf(token)?.seen === true;
}

// The signal jobterm hands a job is a plain AbortSignal (`instanceof`,
// `fetch`, `addEventListener`, `AbortSignal.any` all work as usual), with
// `aborted`, `reason` and `throwIfAborted` shadowed on the instance by
// accessors that record a read made after it aborted. The accessors and
// their descriptors are shared by every signal: instrumenting one allocates
// nothing of its own but the signal's link to its source.
const SOURCE = Symbol('jobterm.tokenSource');
const signalProto = AbortSignal.prototype;
const abortedOf = Object.getOwnPropertyDescriptor(signalProto, 'aborted')!.get!;
const reasonOf = Object.getOwnPropertyDescriptor(signalProto, 'reason')!.get!;
const protoThrowIfAborted = signalProto.throwIfAborted;

type InstrumentedSignal = AbortSignal & { [SOURCE]?: TokenSource };

function noteRead(signal: InstrumentedSignal): void {
  const source = signal[SOURCE];
  if (source !== undefined && !source.dispatching) source.seen = true;
}

const SEEN_ON_READ: PropertyDescriptorMap = {
  aborted: {
    configurable: true,
    get(this: InstrumentedSignal): boolean {
      const aborted = abortedOf.call(this) as boolean;
      if (aborted) noteRead(this);
      return aborted;
    },
  },
  reason: {
    configurable: true,
    get(this: InstrumentedSignal): unknown {
      if (abortedOf.call(this)) noteRead(this);
      return reasonOf.call(this);
    },
  },
  throwIfAborted: {
    configurable: true,
    writable: true,
    value: function throwIfAborted(this: InstrumentedSignal): void {
      if (abortedOf.call(this)) noteRead(this);
      protoThrowIfAborted.call(this);
    },
  },
};

function instrumentSignal(signal: InstrumentedSignal, source: TokenSource): void {
  signal[SOURCE] = source;
  Object.defineProperties(signal, SEEN_ON_READ);
}
