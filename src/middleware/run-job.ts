import { clockNow } from '../core/clock.js';
import { withJob } from '../core/context.js';
import { type Deferred, makeDeferred } from '../core/deferred.js';
import type { TerminatorEvents } from '../core/events.js';
import type { JobRef } from '../core/job-ref.js';
import type { Logger } from '../core/logger.js';
import type { JobDetails, JobOutcome, RunningJobInfo } from '../core/outcome.js';
import type { ProgressStore } from '../core/progress.js';
import { makeReason, type TerminationKind, type TerminationReason } from '../core/reason.js';
import type { RegisteredJob, Registry } from '../core/registry.js';
import type { Resources } from '../core/resources.js';
import { ownSourceOf, sourceOf, type TerminationToken, TokenSource } from '../core/token.js';
import { type AbortTarget, forwardAbortTo, listenOnceFor, type Subscription } from './forward.js';

/** Options for one `terminator.run()`. */
export interface RunOptions<T> {
  /**
   * Signals from the queue forwarded into the job's token, e.g. pg-boss's
   * `job.signal` as `timeout`, graphile's `helpers.abortSignal` as
   * `shutdown`. Each listener is removed when the job settles: jobterm does
   * not combine them with `AbortSignal.any`, which has leaked in Node. Jobs
   * that share one signal share one listener on it (`forward.ts`).
   */
  readonly forward?: ReadonlyArray<ForwardedSignal>;
  /**
   * Writes the outcome into the queue. Awaited before the job leaves
   * `running()`, before its kill request is marked resolved, and by
   * `shutdown()`, so a process never exits with a queue write in flight.
   */
  readonly settle?: (outcome: JobOutcome<T>) => void | Promise<void>;
  /**
   * Escalation's hard stop, for jobs that run isolated (a worker thread, a
   * child process): kill it for real. Without one, an escalated in-process
   * job keeps running in the background and `unresponsive` is emitted.
   */
  readonly hardStop?: (reason: TerminationReason) => void | Promise<void>;
  /** Interrupt the job with kind `timeout` after this many milliseconds. */
  readonly maxRuntime?: number | undefined;
  /**
   * What the fleet view shows about the job (task, attempt, ...). Read only
   * at heartbeats, so a getter costs nothing on the job's path.
   */
  readonly details?: JobDetails;
  /**
   * `false`: the job's function runs outside the job's async context, so
   * `currentToken()` does not find this job there. For a function that only
   * hands the token to code shared by several jobs (a pg-boss batch
   * handler), where one context would be the wrong job's anyway.
   * @default true
   */
  readonly context?: boolean;
}

/**
 * A queue's signal forwarded into a job's token: with a fixed `kind` (and
 * `message`, else the signal's reason), or `classify`, which reads the signal
 * when it aborts and says what it meant (pg-boss's one signal means expiry,
 * stop() or a lost claim).
 */
export type ForwardedSignal = (
  | { readonly signal: AbortSignal; readonly kind: TerminationKind; readonly message?: string }
  | {
      readonly signal: AbortSignal;
      readonly classify: (signal: AbortSignal) => { readonly kind: TerminationKind; readonly message: string };
    }
) & {
  /**
   * True when no other running job forwards this signal (pg-boss's per-job
   * `job.signal` at batchSize 1, BullMQ's per-job signal): jobterm then
   * listens on it directly, without the fan-out that lets jobs share one
   * listener (forward.ts). A shared signal marked exclusive gets one
   * listener per job, as `addEventListener` would.
   * @default false
   */
  readonly exclusive?: boolean;
};

/** What a job needs from the terminator that runs it. */
export interface JobHost {
  readonly logger: Logger;
  readonly killTimeout: number;
  readonly progress: ProgressStore | undefined;
  register(job: RegisteredJob): void;
  unregister(job: RegisteredJob): void;
  /** A kill already requested for this job (from the store's memory: no round trip). */
  pendingKill(ref: JobRef): TerminationReason | undefined;
  /** The shutdown in progress, with its deadline, if any. */
  shutdownInProgress(): { reason: TerminationReason; graceMs: number } | undefined;
  emit<K extends keyof TerminatorEvents>(event: K, payload: TerminatorEvents[K]): void;
  /** Records the ending on the job's kill request, if it had one. Never rejects. */
  afterSettle(ref: JobRef, outcome: JobOutcome): Promise<void> | undefined;
  /** What the terminator's jobs share and its shutdown closes (isolation pools). */
  readonly resources: Resources;
}

/**
 * The running job behind a token, for the calls a job makes from inside
 * (markProgressSaved, registerHardStop, interruptFromInside); undefined once it settles.
 */
function runningJobOf(token: TerminationToken): RunningJob<unknown> | undefined {
  return sourceOf(token)?.owner as RunningJob<unknown> | undefined;
}

/** Marks, from inside a job, that it saved progress: a `timeout` then puts it back without spending an attempt. */
export function markProgressSaved(token: TerminationToken): void {
  const job = runningJobOf(token);
  if (job !== undefined) job.progressSaved = true;
}

/**
 * Marks that the job saw its termination, from code that observed it on the
 * job's behalf (an isolated job reports its bit with its result). A job that
 * saw its termination and then returned stopped early; one that never saw it
 * completed (DESIGN.md, "Did the job see it?").
 */
export function markTerminationSeen(token: TerminationToken): void {
  const job = runningJobOf(token);
  if (job !== undefined) job.source.seen = true;
}

/**
 * Lets the job's own code tell escalation how to stop it for real (a worker
 * thread it started, say). Returns a remove, safe to call twice; false-y
 * when the token is not a running job's.
 */
export function registerHardStop(
  token: TerminationToken,
  hardStop: (reason: TerminationReason) => void | Promise<void>,
): (() => void) | undefined {
  const job = runningJobOf(token);
  if (job === undefined) return undefined;
  job.innerHardStop = hardStop;
  return () => {
    if (job.innerHardStop === hardStop) job.innerHardStop = undefined;
  };
}

/**
 * What a job's function returns when the call its jobs share reports its
 * ending instead (`endSharedJob()`; pg-boss's batch handler, see
 * adapters/pg-boss/shared-batch-call.ts): the run then attaches no reaction
 * of its own. A reaction per job was a promise, two closures and a microtask
 * for every job of a batch that all wait on one result (bench instructions).
 * A thenable that never settles, so a run that did get one would wait for
 * escalation, never end early.
 * @internal
 */
// biome-ignore lint/suspicious/noThenProperty: a thenable on purpose, so that mistaking it for the job's promise is harmless.
export const ENDS_WITH_SHARED_CALL: PromiseLike<never> = Object.freeze({ then: () => ENDS_WITH_SHARED_CALL });

/**
 * The shared call of a job whose function returned ENDS_WITH_SHARED_CALL
 * ended: as if the function's own promise had settled that way. A no-op once
 * the job has settled (it was escalated while the call ran).
 * @internal
 */
export function endSharedJob(token: TerminationToken, ending: SharedEnding): void {
  // The call's tokens are the ones its jobs' runs handed it: jobterm's own.
  (ownSourceOf(token).owner as RunningJob<unknown> | undefined)?.sharedCallEnded(ending);
}

/**
 * How a shared call ended, as the ending of each job that did not see its
 * termination: one object for the whole batch (nobody changes an outcome),
 * not one per job.
 * @internal
 */
export type SharedEnding = Extract<JobOutcome, { status: 'completed' | 'failed' }>;

/** The resources of the terminator that runs the job holding `token` (isolation pools); undefined outside a job. */
export function resourcesOf(token: TerminationToken): Resources | undefined {
  return runningJobOf(token)?.resources;
}

/**
 * Terminates the job that holds `token` from inside it (`iterate()`'s
 * `maxRuntime` and throttle), optionally asking to be put back only after
 * `retryDelay` ms. Returns false when the token is not a running job's.
 */
export function interruptFromInside(token: TerminationToken, reason: TerminationReason, retryDelay?: number): boolean {
  const job = runningJobOf(token);
  if (job === undefined) return false;
  if (retryDelay !== undefined && retryDelay > 0) job.retryDelay = retryDelay;
  job.terminate(reason, job.killTimeout);
  return true;
}

/**
 * One job's life, as a small state machine rather than an async function:
 * start() sets the job up and calls its code; the first ending (the job's
 * own, or escalation's) goes on to the queue write, the kill request's
 * record, the events, and leaves the registry. Its only promise is the one
 * `run()` returns: an async function here cost a generator frame, a promise
 * per `await` and a turn per step, for every job (bench instructions).
 *
 * Order, as the async version had it: an ending from the job's code goes on
 * at once (it already comes from a promise reaction); one from escalation or
 * from inside start() goes on a microtask later, so escalate()'s caller and
 * run()'s caller finish first. The job leaves `running()` and its `done`
 * resolves before the promise `run()` returned does.
 */
class RunningJob<T> implements RegisteredJob, AbortTarget<ForwardedSignal> {
  readonly source: TokenSource;
  /** A number, not a Date: only running() needs the Date, and this runs for every job. */
  private readonly startedAt: number;
  progressSaved = false;
  retryDelay: number | undefined;
  /** A hard stop the job's own code registered (runIsolated()), used when `run()` was given none. */
  innerHardStop: ((reason: TerminationReason) => void | Promise<void>) | undefined;
  /** The promise `run()` returns; undefined when the outcome goes into a collector's slot instead. */
  readonly result: Promise<JobOutcome<T>> | undefined;
  private resolveResult: ((outcome: JobOutcome<T>) => void) | undefined;
  private rejectResult: ((error: unknown) => void) | undefined;
  private isDecided = false;
  /** True while start() runs: an ending then goes on a microtask later. */
  private starting = true;
  // Every job resolves `result`; only shutdown() and terminate({ wait }) ask
  // for `done`, so its promise is made on demand (this runs for every job).
  private finalOutcome: JobOutcome<T> | undefined;
  private finished: Deferred<JobOutcome<T>> | undefined;
  private escalationTimer: NodeJS.Timeout | undefined;
  private maxRuntimeTimer: NodeJS.Timeout | undefined;
  /**
   * The subscriptions to the queue's signals: one for the usual single
   * signal (no array per job), an array for several; undefined when there
   * are none (or they are gone).
   */
  private forwarded: Subscription | Subscription[] | undefined;
  private jobSettled = false;
  // The registry's links (core/registry.ts), declared so every job has one shape.
  inRegistry: Registry | undefined;
  prevInRegistry: RegisteredJob | undefined;
  nextInRegistry: RegisteredJob | undefined;

  constructor(
    readonly ref: JobRef,
    private readonly host: JobHost,
    private readonly options: RunOptions<T>,
    /** Where the outcome goes for a batch's run (OutcomeCollector): no promise of the job's own. */
    private readonly collector: OutcomeCollector<T> | undefined,
    private readonly slot: number,
  ) {
    this.result =
      collector === undefined
        ? new Promise((resolve, reject) => {
            this.resolveResult = resolve;
            this.rejectResult = reject;
          })
        : undefined;
    this.startedAt = clockNow();
    this.source = new TokenSource(this);
    this.source.owner = this;
  }

  /** An `onTerminate` callback of the job's threw (TokenSource's CallbackErrorHandler). */
  callbackFailed(error: unknown): void {
    this.host.emit('error', { error, during: 'onTerminate', ref: this.ref });
  }

  get killTimeout(): number {
    return this.host.killTimeout;
  }

  get resources(): Resources {
    return this.host.resources;
  }

  get info(): RunningJobInfo {
    return {
      ref: this.ref,
      startedAt: new Date(this.startedAt),
      reason: this.source.reason,
      deadline: this.source.token.deadline,
      details: this.options.details,
    };
  }

  get done(): Promise<JobOutcome<T>> {
    if (this.finalOutcome !== undefined) return Promise.resolve(this.finalOutcome);
    this.finished ??= makeDeferred<JobOutcome<T>>();
    return this.finished.promise;
  }

  /**
   * Make the token, apply a pending kill or a shutdown before the job
   * starts, forward the queue's signals, arm maxRuntime, and run the job
   * inside the token's context.
   */
  start(job: (token: TerminationToken) => T | PromiseLike<T>): void {
    const { host, options, ref } = this;
    const { token } = this.source;
    host.register(this);
    try {
      // A kill stored before the job was claimed stops it here, before it starts.
      const pending = host.pendingKill(ref);
      if (pending !== undefined) this.terminate(pending, host.killTimeout);
      const shutdown = host.shutdownInProgress();
      if (shutdown !== undefined) this.terminate(shutdown.reason, shutdown.graceMs);

      const forward = options.forward;
      if (forward !== undefined && forward.length > 0) {
        if (forward.length === 1) {
          this.forwarded = listenForAbort(forward[0]!, this);
        } else {
          const subscriptions: Subscription[] = [];
          for (let i = 0; i < forward.length; i++) subscriptions.push(listenForAbort(forward[i]!, this));
          this.forwarded = subscriptions;
        }
      }
      if (options.maxRuntime !== undefined) {
        this.maxRuntimeTimer = setTimeout(
          () =>
            this.terminate(makeReason('timeout', `maxRuntime of ${options.maxRuntime} ms reached`), host.killTimeout),
          options.maxRuntime,
        );
        this.maxRuntimeTimer.unref();
      }

      // jobterm's own read (the source's): it must not count as the job seeing it.
      if (this.source.reason !== undefined) {
        // Never started: nothing to wait for.
        this.jobEnded(true, this.source.error());
      } else {
        let result: T | PromiseLike<T>;
        try {
          result =
            options.context === false ? job(token) : withJob({ token, ref, progress: host.progress }, () => job(token));
        } catch (error) {
          result = Promise.reject(error);
        }
        // Both handlers attached at once: a rejection after escalation is
        // ignored, never unhandled.
        if (result !== ENDS_WITH_SHARED_CALL) {
          Promise.resolve(result).then(
            (value) => this.jobEnded(false, value),
            (error: unknown) => this.jobEnded(true, error),
          );
        }
      }
    } catch (error) {
      this.crash(error);
    }
    this.starting = false;
  }

  /** A forwarded signal aborted (AbortTarget, middleware/forward.ts). */
  forwardedAbort(entry: ForwardedSignal): void {
    const { kind, message } =
      'classify' in entry
        ? entry.classify(entry.signal)
        : { kind: entry.kind, message: entry.message ?? describeAbort(entry.signal) };
    this.terminate(makeReason(kind, message), kind === 'shutdown' ? undefined : this.host.killTimeout);
  }

  /** The first ending wins; the rest of the job's life goes on from here. */
  private end(outcome: JobOutcome<T>, now: boolean): void {
    if (this.isDecided) return;
    this.isDecided = true;
    if (now && !this.starting) this.afterDecided(outcome);
    else queueMicrotask(() => this.afterDecided(outcome));
  }

  terminate(reason: TerminationReason, graceMs: number | undefined): boolean {
    if (this.isDecided) return false;
    const deadline = graceMs === undefined ? undefined : new Date(Date.now() + graceMs);
    if (!this.source.terminate(reason, deadline)) return false;
    this.host.emit('terminating', { ref: this.ref, reason });
    // Shutdown escalation is driven by shutdown() itself, for all jobs at once;
    // kills and timeouts each get their own timer.
    if (reason.kind !== 'shutdown' && graceMs !== undefined) {
      clearTimeout(this.escalationTimer);
      this.escalationTimer = setTimeout(() => this.escalate(), graceMs);
      this.escalationTimer.unref();
    }
    return true;
  }

  escalate(): void {
    if (this.isDecided) return;
    const reason = this.source.reason;
    if (reason === undefined) return;
    const hardStop = this.options.hardStop ?? this.innerHardStop;
    this.host.emit('escalated', { ref: this.ref, reason, hardStopped: hardStop !== undefined });
    this.host.logger.warn('job did not stop in time; settling it without waiting', {
      job: this.ref,
      kind: reason.kind,
    });
    this.end(this.fromReason(reason, true), false);
    if (hardStop !== undefined) {
      Promise.resolve()
        .then(() => hardStop(reason))
        .catch((error) => this.host.emit('error', { error, during: 'hardStop', ref: this.ref }));
    } else if (!this.jobSettled) {
      this.host.emit('unresponsive', { ref: this.ref, reason });
    }
  }

  /** See endSharedJob(). */
  sharedCallEnded(ending: SharedEnding): void {
    this.jobEnded(ending.status === 'failed', undefined, ending as JobOutcome<T>);
  }

  /**
   * The job's own ending: first one wins, so a late result after escalation
   * is ignored. After the token fired, a throw is the termination, and so is
   * a return from a job that saw it (it stopped early); a job that returned
   * without seeing it did its work and completed (DESIGN.md, "Did the job
   * see it?"): a drop-in changes nothing for a job that never asks.
   */
  private jobEnded(threw: boolean, valueOrError: unknown, ending?: JobOutcome<T>): void {
    this.jobSettled = true;
    if (this.isDecided) return;
    const reason = this.source.reason;
    if (reason !== undefined && (threw || this.source.seen)) this.end(this.fromReason(reason, false), true);
    else if (ending !== undefined) this.end(ending, true);
    else if (threw) this.end({ status: 'failed', error: valueOrError }, true);
    else this.end({ status: 'completed', value: valueOrError as T }, true);
  }

  fromReason(reason: TerminationReason, escalated: boolean): JobOutcome<T> {
    if (reason.kind === 'kill') return { status: 'terminated', reason, escalated };
    const resumable = reason.kind === 'shutdown' || this.progressSaved;
    return this.retryDelay === undefined
      ? { status: 'interrupted', reason, escalated, resumable }
      : { status: 'interrupted', reason, escalated, resumable, retryDelay: this.retryDelay };
  }

  /** Decided: stop listening, let a late kill win, and write the outcome to the queue (`settle`). */
  private afterDecided(decided: JobOutcome<T>): void {
    // Scheduled a microtask earlier, and jobterm's own step threw meanwhile
    // (crash()): the job has left, and nothing of it is written.
    if (this.finalOutcome !== undefined) return;
    try {
      this.removeListeners();
      const outcome = killWins(decided, this.host.pendingKill(this.ref));
      const { options } = this;
      if (options.settle === undefined) {
        this.recordEnding(outcome);
        return;
      }
      let settling: void | Promise<void>;
      try {
        // Not waited for when it returns nothing: most endings need no
        // write (a completion the queue records itself). A method call:
        // the options can be an object whose settle() uses `this`
        // (graphile-worker's GraphileJobRun).
        settling = options.settle(outcome);
      } catch (error) {
        this.settleFailed(outcome, error);
        return;
      }
      if (settling === undefined) this.recordEnding(outcome);
      else
        Promise.resolve(settling).then(
          () => this.recordEnding(outcome),
          (error: unknown) => this.settleFailed(outcome, error),
        );
    } catch (error) {
      this.crash(error);
    }
  }

  /**
   * The queue holds nothing of this ending (the adapters retried while the
   * database was unreachable, then gave up): no `terminated` or
   * `interrupted`, which promise the write landed, and the kill request
   * stays open, so the job's next claim (the queue's own recovery) is
   * stopped before it starts. See docs/queue-writes.md.
   */
  private settleFailed(outcome: JobOutcome<T>, error: unknown): void {
    this.host.emit('error', { error, during: 'settle', ref: this.ref });
    this.complete(outcome);
  }

  /** The queue write landed: record the ending on the kill request, if any (never rejects), then tell. */
  private recordEnding(outcome: JobOutcome<T>): void {
    try {
      const recorded = this.host.afterSettle(this.ref, outcome);
      if (recorded === undefined) this.announce(outcome);
      else
        recorded.then(
          () => this.announce(outcome),
          (error: unknown) => this.crash(error),
        );
    } catch (error) {
      this.crash(error);
    }
  }

  private announce(outcome: JobOutcome<T>): void {
    const { host, ref } = this;
    try {
      if (outcome.status === 'terminated') {
        host.emit('terminated', { ref, reason: outcome.reason, escalated: outcome.escalated });
      } else if (outcome.status === 'interrupted') {
        host.emit('interrupted', {
          ref,
          reason: outcome.reason,
          escalated: outcome.escalated,
          resumable: outcome.resumable,
        });
      }
    } catch (error) {
      this.crash(error);
      return;
    }
    this.complete(outcome);
  }

  /** Leaves nothing behind: listeners, timers, the registry entry, the token's owner; then resolves `run()`. */
  private complete(outcome: JobOutcome<T>): void {
    this.leave(outcome);
    if (this.collector === undefined) this.resolveResult!(outcome);
    else this.collector.set(this.slot, outcome);
  }

  /**
   * A throw from jobterm's own steps (not the job's: that is an outcome):
   * `run()` rejects with it, after the job has left, as the async version's
   * `finally` did.
   */
  private crash(error: unknown): void {
    if (this.finalOutcome !== undefined) return;
    this.isDecided = true;
    this.leave({ status: 'failed', error: new Error('jobterm: job ended without an outcome') });
    if (this.collector === undefined) this.rejectResult!(error);
    else this.collector.fail(error);
  }

  private removeListeners(): void {
    const forwarded = this.forwarded;
    if (forwarded !== undefined) {
      this.forwarded = undefined;
      if (!Array.isArray(forwarded)) forwarded.dispose();
      else for (let i = 0; i < forwarded.length; i++) forwarded[i]!.dispose();
    }
    // Only when set: clearTimeout() is a call into Node's timers for every job, most of which have none.
    if (this.maxRuntimeTimer !== undefined) {
      clearTimeout(this.maxRuntimeTimer);
      this.maxRuntimeTimer = undefined;
    }
  }

  private leave(outcome: JobOutcome<T>): void {
    this.removeListeners();
    this.host.unregister(this);
    if (this.escalationTimer !== undefined) {
      clearTimeout(this.escalationTimer);
      this.escalationTimer = undefined;
    }
    this.source.dispose();
    this.source.owner = undefined;
    this.finalOutcome = outcome;
    this.finished?.resolve(outcome);
  }
}

/**
 * One job's life: make its token, run it inside the token's context, apply a
 * pending kill or a shutdown before it starts, turn its ending into an
 * outcome, escalate when it ignores its token, write the outcome to the queue
 * (`settle`), and leave nothing behind.
 */
export function runJob<T>(
  host: JobHost,
  ref: JobRef,
  job: (token: TerminationToken) => T | PromiseLike<T>,
  options: RunOptions<T> = {},
): Promise<JobOutcome<T>> {
  const running = new RunningJob<T>(ref, host, options, undefined, 0);
  running.start(job);
  return running.result!;
}

/** runJob() for one job of a batch: its outcome goes into `collector`'s slot `slot`, with no promise of its own. */
export function runJobInto<T>(
  host: JobHost,
  ref: JobRef,
  job: (token: TerminationToken) => T | PromiseLike<T>,
  options: RunOptions<T>,
  collector: OutcomeCollector<T>,
  slot: number,
): void {
  new RunningJob<T>(ref, host, options, collector, slot).start(job);
}

/**
 * The outcomes of a batch's runs in one promise, in slot order: each run
 * fills its slot instead of resolving a promise of its own, which with
 * `Promise.all` over them was a promise, its resolve and reject functions,
 * an executor and a resolve-element closure per job. Rejects with the first
 * run that rejects (jobterm's own failure, never the job's), as
 * `Promise.all` did; later outcomes are then dropped.
 */
export class OutcomeCollector<T> {
  readonly promise: Promise<Array<JobOutcome<T>>>;
  private readonly outcomes: Array<JobOutcome<T>>;
  private left: number;
  private resolve!: (outcomes: Array<JobOutcome<T>>) => void;
  private reject!: (error: unknown) => void;
  private failed = false;

  constructor(size: number) {
    this.outcomes = new Array<JobOutcome<T>>(size);
    this.left = size;
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    if (size === 0) this.resolve(this.outcomes);
  }

  set(slot: number, outcome: JobOutcome<T>): void {
    if (this.failed) return;
    this.outcomes[slot] = outcome;
    if (--this.left === 0) this.resolve(this.outcomes);
  }

  fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.reject(error);
  }
}

/** One forwarded signal's listener: direct for an exclusive signal, through the shared fan-out otherwise. */
function listenForAbort(entry: ForwardedSignal, job: AbortTarget<ForwardedSignal>): Subscription {
  return entry.exclusive === true ? listenOnceFor(entry.signal, job, entry) : forwardAbortTo(entry.signal, job, entry);
}

/**
 * A kill that arrived while the job was failing or being interrupted wins:
 * the job must not be retried or put back.
 */
function killWins<T>(outcome: JobOutcome<T>, kill: TerminationReason | undefined): JobOutcome<T> {
  if (kill === undefined) return outcome;
  if (outcome.status === 'failed' || outcome.status === 'interrupted') {
    return { status: 'terminated', reason: kill, escalated: outcome.status === 'interrupted' && outcome.escalated };
  }
  return outcome;
}

function describeAbort(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason.message || reason.name;
  if (typeof reason === 'string' && reason.length > 0) return reason;
  return 'aborted by the queue';
}
