import { EventEmitter } from 'node:events';
import type { QueueAdapter, QueueJobState } from '../core/adapter.js';
import { makeDeferred } from '../core/deferred.js';
import { checkKnownKeys, checkText, expected } from '../core/errors.js';
import type { TerminatorEventName, TerminatorEvents } from '../core/events.js';
import type { FleetOptions, FleetSnapshot } from '../core/fleet.js';
import { Heartbeat } from '../core/heartbeat.js';
import { formatRef, type JobRef, validateJobRef } from '../core/job-ref.js';
import {
  checkAdapter,
  DEFAULTS,
  MAX_NAME_LENGTH,
  milliseconds,
  type ResolvedTerminatorOptions,
  reasonMessage,
  resolveTerminatorOptions,
  type TerminatorOptions,
} from '../core/options.js';
import type { JobOutcome, RunningJobInfo } from '../core/outcome.js';
import { isPresenceStore } from '../core/presence.js';
import { makeReason, type TerminationReason } from '../core/reason.js';
import { RecentCompletions } from '../core/recent-completions.js';
import { Registry } from '../core/registry.js';
import { RequestSweep } from '../core/request-sweep.js';
import { Resources } from '../core/resources.js';
import type { ShutdownReport } from '../core/shutdown-report.js';
import { installSignalHandlers } from '../core/signals.js';
import type { KillRequest, KillStore, RequestOutcome, WithdrawStatus } from '../core/store.js';
import type { TerminationToken } from '../core/token.js';
import { type JobHost, type OutcomeCollector, type RunOptions, runJob, runJobInto } from '../middleware/run-job.js';

export interface TerminateOptions {
  /** Why; recorded on the request and in the queue. @default 'terminated by request' */
  reason?: string;
  /** Who asked, e.g. a user name or `cli@host`. */
  requestedBy?: string;
  /** Resolve only once a worker confirms the job ended (or `timeout` passes). @default false */
  wait?: boolean;
  /** How long `wait` waits, in ms. @default 30_000 */
  timeout?: number;
  /** Stop waiting early. The request stays stored; the job is still terminated. */
  signal?: AbortSignal;
  /**
   * Hard stop now: escalate at once instead of after `killTimeout` (an
   * isolated job's thread or process is killed; an in-process job is settled
   * as terminated and its late result ignored). For a job that is already
   * terminating and does not stop. Reaches the worker that runs it through
   * the store (`postgresStore()` announces it), or a job of this process.
   * @default false
   */
  force?: boolean;
}

export type TerminateStatus = 'terminated' | 'requested' | 'already_finished' | 'not_found' | 'timed_out';

export interface TerminateResult {
  readonly status: TerminateStatus;
  readonly ref: JobRef;
  /** The stored request, when a store is configured. */
  readonly requestId?: string;
}

export interface ShutdownOptions {
  /** How long to wait for jobs to stop before escalating. @default the terminator's `shutdownTimeout` */
  timeout?: number;
}

/** Lifecycle hooks for the queue a terminator drives, e.g. graphile's runner or a pg-boss instance. */
export interface ShutdownParticipant {
  /** Called first: stop fetching new jobs. */
  beforeJobs?(): void | Promise<void>;
  /** Called after every job settled and its queue write landed: release the queue's own resources. */
  afterJobs?(): void | Promise<void>;
}

const TERMINATE_OPTION_KEYS = ['reason', 'requestedBy', 'wait', 'timeout', 'signal', 'force'];

/** The queue systems jobterm ships adapters for, and how to add each to a terminator. */
const BUILT_IN_ADAPTERS: ReadonlyMap<string, string> = new Map([
  ['graphile-worker', "`graphileWorkerAdapter({ connectionString })` from 'jobterm/graphile-worker'"],
  ['pg-boss', "`pgBossAdapter({ connectionString })` from 'jobterm/pg-boss'"],
  ['bullmq', "the BullMQ adapter from 'jobterm/bullmq'"],
]);

export class Terminator {
  readonly options: ResolvedTerminatorOptions;
  private readonly registry = new Registry();
  /** Isolation pools and the like: closed once the jobs have settled, so nothing outlives shutdown(). */
  private readonly resources = new Resources();
  private readonly events = new EventEmitter();
  private readonly adapters = new Map<string, QueueAdapter>();
  private readonly participants = new Set<ShutdownParticipant>();
  private readonly ready: Promise<void>;
  private isReady = false;
  private shutdownState: { reason: TerminationReason; deadline: number; report: Promise<ShutdownReport> } | undefined;
  private escalateShutdown: (() => void) | undefined;
  private disposeSignals: (() => void) | undefined;
  private closed = false;
  private readonly host: JobHost;
  private readonly recentlyCompleted = new RecentCompletions();
  private readonly sweep: RequestSweep | undefined;
  /** This worker's presence in the store (docs/fleet.md); started once it runs jobs. */
  private readonly heartbeat: Heartbeat | undefined;

  constructor(options: TerminatorOptions = {}) {
    this.options = resolveTerminatorOptions(options);
    this.host = this.makeHost();
    this.sweep = this.makeSweep();
    this.heartbeat = this.makeHeartbeat();
    for (const adapter of this.options.adapters) this.adapters.set(adapter.queue, adapter);
    this.events.setMaxListeners(0);
    const store = this.options.store;
    // Without a store there is nothing to load: jobs register synchronously,
    // so a terminate() right after run() always finds them.
    this.isReady = store === undefined;
    this.ready =
      store === undefined
        ? Promise.resolve()
        : store.open({
            onRequest: (request) => this.deliver(request),
            onError: (error) => this.emit('error', { error, during: 'store' }),
            onForce: (request) => this.hardStop(request),
            runningRefs: () => this.registry.all().map((job) => job.ref),
          });
    this.ready.then(
      () => {
        this.isReady = true;
        if (!this.closed) this.sweep?.start();
      },
      (error: unknown) => this.options.logger.error('could not open the kill store', { error }),
    );
    if (this.options.handleSignals) {
      this.disposeSignals = installSignalHandlers(() => this.shutdown(), this.options.logger);
    }
  }

  /** Resolves once the store delivers requests to this process (pending ones loaded). */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** Teaches the terminator a queue's job states and cancel; adapters call this. */
  addAdapter(adapter: QueueAdapter): () => void {
    checkAdapter(adapter);
    this.adapters.set(adapter.queue, adapter);
    // A queue's worker joined: this process runs jobs, so it joins the fleet.
    if (adapter.describeWorker !== undefined) this.heartbeat?.start();
    return () => {
      if (this.adapters.get(adapter.queue) === adapter) this.adapters.delete(adapter.queue);
    };
  }

  /** Joins a queue's runner to `shutdown()`; returns a remove. */
  addShutdownParticipant(participant: ShutdownParticipant): () => void {
    this.participants.add(participant);
    return () => this.participants.delete(participant);
  }

  /**
   * Runs one job with a termination token and resolves to how it ended. Never
   * rejects for the job's own errors: they come back as `{ status: 'failed' }`.
   */
  run<T>(
    ref: JobRef,
    job: (token: TerminationToken) => T | PromiseLike<T>,
    options?: RunOptions<T>,
  ): Promise<JobOutcome<T>> {
    // Not an async method: a job that needs no wait before it starts (the
    // store is ready, no look-up) goes straight into runJob, one promise
    // fewer per job. Bad input still comes back as a rejection.
    let checked: JobRef;
    let checking: Promise<void> | undefined;
    try {
      checked = this.checkRun(ref, job, options);
      // Only the first jobs after start wait here: pending kills must be
      // loaded before a job can be checked against them.
      if (!this.isReady) return this.runWhenReady(checked, job, options);
      // Above the store's bound on open requests held in memory: one read at start (docs/fleet.md).
      checking = this.options.store?.prepareStart?.(checked);
    } catch (error) {
      return Promise.reject(error);
    }
    if (checking !== undefined) return checking.then(() => runJob(this.host, checked, job, options));
    return runJob(this.host, checked, job, options);
  }

  /**
   * `run()` for one job of a batch an adapter runs (pg-boss's): the outcome
   * goes into slot `slot` of `collector`, whose one promise resolves once
   * every job of the batch has settled, and a failure of jobterm's own
   * rejects it. For adapters; not part of the documented API.
   * @internal
   */
  runInto<T>(
    collector: OutcomeCollector<T>,
    slot: number,
    ref: JobRef,
    job: (token: TerminationToken) => T | PromiseLike<T>,
    options: RunOptions<T>,
  ): void {
    let checked: JobRef;
    let checking: Promise<void> | undefined;
    try {
      checked = this.checkRun(ref, job, options);
      if (!this.isReady) {
        this.runWhenReady(checked, job, options).then(
          (outcome) => collector.set(slot, outcome),
          (error: unknown) => collector.fail(error),
        );
        return;
      }
      checking = this.options.store?.prepareStart?.(checked);
    } catch (error) {
      collector.fail(error);
      return;
    }
    if (checking !== undefined) {
      checking
        .then(() => runJob(this.host, checked, job, options))
        .then(
          (outcome) => collector.set(slot, outcome),
          (error: unknown) => collector.fail(error),
        );
      return;
    }
    runJobInto(this.host, checked, job, options, collector, slot);
  }

  /** What run() checks before a job starts; returns the checked ref. Joins the fleet on the first job. */
  private checkRun<T>(
    ref: JobRef,
    job: (token: TerminationToken) => T | PromiseLike<T>,
    options: RunOptions<T> | undefined,
  ): JobRef {
    const checked = validateJobRef(ref);
    if (typeof job !== 'function') throw expected('job', 'a function', job);
    if (options?.maxRuntime !== undefined) milliseconds('maxRuntime', options.maxRuntime);
    if (this.closed) throw new Error('jobterm: this terminator is closed');
    this.heartbeat?.start();
    return checked;
  }

  private async runWhenReady<T>(
    checked: JobRef,
    job: (token: TerminationToken) => T | PromiseLike<T>,
    options: RunOptions<T> | undefined,
  ): Promise<JobOutcome<T>> {
    await this.ready.catch(() => undefined);
    const checking = this.options.store?.prepareStart?.(checked);
    if (checking !== undefined) await checking;
    return runJob(this.host, checked, job, options);
  }

  /**
   * Terminates a job wherever it runs: here, on another worker (through the
   * store), or before it starts.
   */
  async terminate(ref: JobRef, options: TerminateOptions = {}): Promise<TerminateResult> {
    const given = validateJobRef(ref);
    if (typeof options !== 'object' || options === null) throw expected('options', 'an object', options);
    checkKnownKeys('terminate() options', options, TERMINATE_OPTION_KEYS);
    const message = reasonMessage('reason', options.reason, 'terminated by request');
    if (options.requestedBy !== undefined) checkText('requestedBy', options.requestedBy, MAX_NAME_LENGTH);
    const wait = options.wait ?? false;
    if (typeof wait !== 'boolean') throw expected('wait', 'a boolean', wait);
    const force = options.force ?? false;
    if (typeof force !== 'boolean') throw expected('force', 'a boolean', force);
    const timeout = milliseconds('timeout', options.timeout ?? DEFAULTS.waitTimeout);
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
      throw expected('signal', 'an AbortSignal', options.signal);
    }
    const adapter = this.adapters.get(given.queue);
    // The queue's own spelling, before anything is compared or stored: a
    // request under another spelling would never match the job's token.
    const checked = adapter?.canonicalRef === undefined ? given : validateJobRef(await adapter.canonicalRef(given));
    const local = this.registry.find(checked);
    if (adapter === undefined && local.length === 0) this.requireAdapter(checked.queue);
    // Only a job the queue holds gets a request: one for an id that does not
    // exist yet could land on a job created later with that id.
    const state: QueueJobState | undefined =
      local.length > 0 || adapter?.jobState === undefined ? undefined : await adapter.jobState(checked);
    if (state === 'finished') return { status: 'already_finished', ref: checked };
    if (state === 'not_found') return { status: 'not_found', ref: checked };

    const store = this.options.store;
    if (store === undefined) {
      const reason = makeReason('kill', message, withBy(options.requestedBy));
      if (local.length === 0) {
        if (
          state === 'queued' &&
          adapter?.cancelQueued !== undefined &&
          (await adapter.cancelQueued(checked, reason))
        ) {
          return { status: 'terminated', ref: checked };
        }
        return { status: 'not_found', ref: checked };
      }
      for (const job of local) {
        job.terminate(reason, this.options.killTimeout);
        if (force) job.escalate();
      }
      if (!wait) return { status: 'requested', ref: checked };
      const ended = await waitAny(
        local.map((job) => job.done),
        timeout,
        options.signal,
      );
      if (ended === undefined) return { status: 'timed_out', ref: checked };
      const status = (ended as JobOutcome).status === 'terminated' ? 'terminated' : 'already_finished';
      return { status, ref: checked };
    }

    const { request } = await store.request({
      ref: checked,
      message,
      ...withBy(options.requestedBy),
    });
    // Local fast path; the NOTIFY reaches this process too, and applying twice is harmless.
    this.deliver(request);
    const requestId = request.id;
    if (force) {
      this.hardStop(request);
      // To whichever worker runs it; a job of this process was stopped just above.
      await store.force?.(request.id);
    }
    if (
      state === 'queued' &&
      adapter?.cancelQueued !== undefined &&
      (await adapter.cancelQueued(checked, request.reason))
    ) {
      await store.resolve(requestId, 'terminated', this.options.workerId);
      return { status: 'terminated', ref: checked, requestId };
    }
    if (local.length === 0 && adapter?.jobState !== undefined) {
      // Every request ends: the job may have ended between the state read
      // and the insert, and then no worker will ever see this request.
      const ended = await this.resolveIfEnded(store, request, adapter);
      if (ended !== undefined) return { status: ended, ref: checked, requestId };
    }
    if (!wait) return { status: 'requested', ref: checked, requestId };
    const outcome = await store.waitForResolution(requestId, { timeout, ...signalOption(options.signal) });
    return { status: outcome === undefined ? 'timed_out' : outcome, ref: checked, requestId };
  }

  /**
   * For jobterm's own queue systems a job not running here needs the queue's
   * adapter: without it a request could be stored for a job that does not
   * exist, under an id the job's token never matches, and land on a job
   * created later. (A job running in this process is known to exist.)
   */
  private requireAdapter(queue: string): void {
    const hint = BUILT_IN_ADAPTERS.get(queue);
    if (hint === undefined) return;
    throw new TypeError(
      `Expected \`adapters\` to include the ${queue} adapter to terminate a ${queue} job, got none: add ${hint} to \`createTerminator({ adapters })\` (jobterm's ${queue} worker wrappers add it to their terminator)`,
    );
  }

  /**
   * Re-reads the job of a request just stored, or still open, and resolves
   * the request when the job has ended (`already_finished`) or is gone
   * (`not_found`). Never overrides a worker that fired the job's token: its
   * own answer (usually `terminated`) is on its way. Returns the outcome when
   * this call ended the request.
   */
  private async resolveIfEnded(
    store: KillStore,
    request: KillRequest,
    adapter: QueueAdapter,
  ): Promise<RequestOutcome | undefined> {
    const state = await adapter.jobState?.(request.ref);
    if (state !== 'finished' && state !== 'not_found') return undefined;
    const outcome: RequestOutcome = state === 'finished' ? 'already_finished' : 'not_found';
    if (store.resolveEnded !== undefined) {
      return (await store.resolveEnded(request.id, outcome, this.options.workerId)) ? outcome : undefined;
    }
    await store.resolve(request.id, outcome, this.options.workerId);
    return outcome;
  }

  /**
   * Stops this process's jobs: fires every token with kind `shutdown`, waits
   * up to `timeout`, then escalates (settles the rest as interrupted and
   * hard-stops isolated ones), awaiting every queue write. Jobs that start
   * meanwhile are interrupted before they run. A second call escalates at
   * once and resolves to the same report.
   */
  shutdown(options: ShutdownOptions = {}): Promise<ShutdownReport> {
    if (this.shutdownState !== undefined) {
      this.escalateShutdown?.();
      return this.shutdownState.report;
    }
    const timeout = milliseconds('timeout', options.timeout ?? this.options.shutdownTimeout);
    const reason = makeReason('shutdown', 'worker shutting down');
    const startedAt = Date.now();
    const escalateNow = makeDeferred<void>();
    this.escalateShutdown = () => escalateNow.resolve();
    const state = {
      reason,
      deadline: startedAt + timeout,
      report: Promise.resolve() as unknown as Promise<ShutdownReport>,
    };
    this.shutdownState = state;
    state.report = this.runShutdown(reason, timeout, startedAt, escalateNow.promise);
    return state.report;
  }

  private async runShutdown(
    reason: TerminationReason,
    timeout: number,
    startedAt: number,
    escalateNow: Promise<void>,
  ): Promise<ShutdownReport> {
    this.emit('shutdown:start', { timeout });
    for (const participant of this.participants) {
      await this.safely(() => participant.beforeJobs?.());
    }
    const jobs = this.registry.all();
    const results = jobs.map((job) => job.done.then((outcome) => ({ job, outcome: outcome as JobOutcome })));
    for (const job of jobs) job.terminate(reason, timeout);

    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeout);
    });
    await Promise.race([Promise.all(results), timedOut, escalateNow]);
    clearTimeout(timer);
    // Escalate whatever is still running, including jobs that started during
    // the grace period; each settles at once and its queue write is awaited below.
    let escalated = 0;
    for (const job of this.registry.all()) {
      escalated++;
      job.escalate();
    }
    const settled = await Promise.all(results);
    // Jobs that started during the grace period were interrupted at start; wait for their writes too.
    await Promise.all(this.registry.all().map((job) => job.done));
    await this.resources.close();
    for (const participant of this.participants) {
      await this.safely(() => participant.afterJobs?.());
    }
    const report: ShutdownReport = {
      jobs: settled.map(({ job, outcome }) => ({
        ref: job.ref,
        status: outcome.status,
        escalated: 'escalated' in outcome ? outcome.escalated : false,
      })),
      escalated,
      durationMs: Date.now() - startedAt,
    };
    // Every job settled: leave the fleet now, so nobody rescues a clean exit.
    await this.heartbeat?.stop();
    this.emit('shutdown:end', report);
    return report;
  }

  /**
   * Takes back a kill request that no worker has applied yet (the CLI's
   * `jobterm withdraw`): answers `withdrawn`, or the request's state when it
   * already reached its job. A `terminate({ wait })` on it then times out.
   */
  async withdraw(requestId: string, options: { withdrawnBy?: string } = {}): Promise<WithdrawStatus> {
    const store = this.options.store;
    if (store?.withdraw === undefined)
      throw new Error('jobterm: withdraw() needs a store, such as postgresStore() or redisStore()');
    return store.withdraw(requestId, options.withdrawnBy);
  }

  /**
   * Every live worker in the store and the jobs each one runs, from any
   * process (docs/fleet.md): job lists are as fresh as one heartbeat, kill
   * states are current. Needs a store that keeps presence (`postgresStore()`).
   */
  async fleet(options: FleetOptions = {}): Promise<FleetSnapshot> {
    const store = this.options.store;
    if (!isPresenceStore(store)) {
      throw new Error(
        'jobterm: fleet() needs a store that keeps worker presence, such as postgresStore() or redisStore()',
      );
    }
    return store.fleet(options);
  }

  /** The jobs running in this process now. */
  running(): RunningJobInfo[] {
    return this.registry.all().map((job) => job.info);
  }

  on<K extends TerminatorEventName>(event: K, listener: (payload: TerminatorEvents[K]) => void): () => void {
    this.events.on(event, listener);
    return () => this.events.off(event, listener);
  }

  once<K extends TerminatorEventName>(event: K, listener: (payload: TerminatorEvents[K]) => void): () => void {
    this.events.once(event, listener);
    return () => this.events.off(event, listener);
  }

  /** Removes signal handlers and closes the store's delivery. Running jobs are not touched: call `shutdown()` first. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.disposeSignals?.();
    this.disposeSignals = undefined;
    await this.resources.close();
    await this.ready.catch(() => undefined);
    await this.sweep?.stop();
    this.recentlyCompleted.clear();
    await this.heartbeat?.stop();
    await this.options.store?.close();
  }

  /**
   * Looks once at every open request this process knows of and resolves
   * those whose job has ended (`already_finished`) or is gone (`not_found`).
   * Runs by itself every `requestSweepInterval`; call it to sweep now.
   */
  async sweepRequests(): Promise<void> {
    if (this.sweep === undefined) return;
    await this.ready;
    await this.sweep.sweep();
  }

  private makeSweep(): RequestSweep | undefined {
    const { store, requestSweepInterval } = this.options;
    if (store?.openRequests === undefined || requestSweepInterval === false) return undefined;
    return new RequestSweep({
      interval: requestSweepInterval,
      openRequests: () => store.openRequests?.() ?? [],
      adapterFor: (queue) => this.adapters.get(queue),
      runsHere: (request) => this.registry.find(request.ref).length > 0,
      resolveIfEnded: async (request, adapter) => {
        try {
          return await this.resolveIfEnded(store, request, adapter);
        } catch (error) {
          // A request stored before ids were checked (an older jobterm) whose id cannot be one of
          // this queue's: no job will ever match it.
          if ((error as { name?: unknown } | null)?.name !== 'TypeError') throw error;
          return store.resolveEnded?.(request.id, 'not_found', this.options.workerId);
        }
      },
      onError: (error) => this.emit('error', { error, during: 'store' }),
    });
  }

  private makeHeartbeat(): Heartbeat | undefined {
    const { store, presence } = this.options;
    if (presence === false || !isPresenceStore(store)) return undefined;
    const heartbeat = new Heartbeat(store, presence, {
      workerId: this.options.workerId,
      logger: this.options.logger,
      running: () => this.running(),
      adapters: () => this.adapters.values(),
      emit: (event, payload) => this.emit(event, payload),
    });
    this.events.on('escalated', ({ reason }) => heartbeat.escalated(reason));
    return heartbeat;
  }

  /** What each job's run needs from this terminator; made once, shared by every job. */
  private makeHost(): JobHost {
    return {
      logger: this.options.logger,
      killTimeout: this.options.killTimeout,
      progress: this.options.progress,
      register: (job) => this.registry.add(job),
      unregister: (job) => this.registry.delete(job),
      pendingKill: (ref) => this.options.store?.pendingFor(ref)?.reason,
      shutdownInProgress: () => {
        const state = this.shutdownState;
        if (state === undefined) return undefined;
        return { reason: state.reason, graceMs: Math.max(0, state.deadline - Date.now()) };
      },
      emit: (event, payload) => this.emit(event, payload),
      afterSettle: (ref, outcome) => this.afterSettle(ref, outcome),
      resources: this.resources,
    };
  }

  /** `force`: escalate at once the jobs under this kill request, firing their token first if it has not fired. */
  private hardStop(request: KillRequest): void {
    for (const job of this.registry.find(request.ref)) {
      job.terminate(request.reason, this.options.killTimeout);
      job.escalate();
    }
  }

  private deliver(request: KillRequest): void {
    let fired = false;
    for (const job of this.registry.find(request.ref)) {
      if (job.terminate(request.reason, this.options.killTimeout)) fired = true;
    }
    // Delivery is at least once (the local fast path, NOTIFY, polls, resyncs):
    // record it only the time it changed something.
    if (!fired) {
      // A request stored just after its job completed here: no token left to
      // fire, and nobody else knows yet (see RecentCompletions for the order).
      const store = this.options.store;
      if (store !== undefined && this.recentlyCompleted.completed(request.ref)) {
        this.recentlyCompleted.forget(request.ref);
        void this.resolveRequest(store, request.id, 'already_finished', request.ref);
      }
      return;
    }
    this.options.logger.debug('kill request delivered', { job: formatRef(request.ref), request: request.id });
    const store = this.options.store;
    if (store !== undefined) {
      store
        .markDelivered(request.id, this.options.workerId)
        .catch((error: unknown) => this.emit('error', { error, during: 'store', ref: request.ref }));
    }
  }

  /** Undefined (no promise made, on every job's path) when there is nothing to record. */
  private afterSettle(ref: JobRef, outcome: JobOutcome): Promise<void> | undefined {
    const store = this.options.store;
    if (store === undefined) return undefined;
    let requestId: string | undefined;
    let result: RequestOutcome | undefined;
    if (outcome.status === 'terminated' && outcome.reason.requestId !== undefined) {
      requestId = outcome.reason.requestId;
      result = 'terminated';
    } else if (outcome.status === 'completed') {
      // Remembered before the look-up below, so a request arriving from now on finds it.
      this.recentlyCompleted.remember(ref);
      // The job finished before the kill reached it.
      requestId = store.pendingFor(ref)?.id;
      result = 'already_finished';
    }
    if (requestId === undefined || result === undefined) return undefined;
    return this.resolveRequest(store, requestId, result, ref);
  }

  private async resolveRequest(
    store: KillStore,
    requestId: string,
    result: RequestOutcome,
    ref: JobRef,
  ): Promise<void> {
    try {
      await store.resolve(requestId, result, this.options.workerId);
    } catch (error) {
      this.emit('error', { error, during: 'store', ref });
    }
  }

  private emit<K extends TerminatorEventName>(event: K, payload: TerminatorEvents[K]): void {
    if (event === 'error' && this.events.listenerCount('error') === 0) {
      const { error, during, ref } = payload as TerminatorEvents['error'];
      this.options.logger.error(`error during ${during}`, { error, ...(ref ? { job: formatRef(ref) } : {}) });
      return;
    }
    try {
      this.events.emit(event, payload);
    } catch (error) {
      this.options.logger.error(`a '${event}' listener threw`, { error });
    }
  }

  private async safely(fn: () => void | Promise<void> | undefined): Promise<void> {
    try {
      await fn();
    } catch (error) {
      this.emit('error', { error, during: 'shutdown' });
    }
  }
}

/** One terminator per process. */
export function createTerminator(options?: TerminatorOptions): Terminator {
  return new Terminator(options);
}

function withBy(requestedBy: string | undefined): { requestedBy?: string } {
  return requestedBy === undefined ? {} : { requestedBy };
}

function signalOption(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal };
}

/** Resolves with the first promise's value, or undefined after `timeout` ms or on abort; leaves no timer or listener. */
async function waitAny<T>(promises: Promise<T>[], timeout: number, signal?: AbortSignal): Promise<T | undefined> {
  if (signal?.aborted) return undefined;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeout);
    onAbort = () => resolve(undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([...promises, stop]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
