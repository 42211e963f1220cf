import type { JobRef } from './job-ref.js';
import type { ProgressStore } from './progress.js';
import type { TerminationReason } from './reason.js';

/** How a kill request ended, as recorded on it. */
export type RequestOutcome = 'terminated' | 'already_finished' | 'not_found';

export type RequestStatus = 'pending' | 'delivered' | 'resolved';

/** What `withdraw()` did: `withdrawn`, or why not (the request's state, `expired`, or `not_found`). */
export type WithdrawStatus = 'withdrawn' | 'delivered' | 'resolved' | 'expired' | 'not_found';

/** A durable request to kill one job. Its `reason.kind` is always `kill`. */
export interface KillRequest {
  readonly id: string;
  readonly ref: JobRef;
  readonly reason: TerminationReason;
  readonly expiresAt: Date;
  readonly status: RequestStatus;
  readonly outcome?: RequestOutcome;
  readonly resolvedBy?: string;
  readonly resolvedAt?: Date;
}

export interface NewKillRequest {
  readonly ref: JobRef;
  readonly message: string;
  readonly requestedBy?: string;
  /** Default: the store's `requestTtl` from now. */
  readonly expiresAt?: Date;
}

/** What a store tells the terminator that opened it. */
export interface KillStoreListener {
  /**
   * A pending request became known to this process: on open, by NOTIFY, by
   * polling, by a resync after a reconnect. At least once per request: the
   * terminator applies it idempotently.
   */
  onRequest(request: KillRequest): void;
  /** A delivery problem (lost connection, failed poll). The store keeps trying. */
  onError?(error: unknown): void;
  /** Someone asked for a hard stop now of the job under this open request (`terminate({ force })`). */
  onForce?(request: KillRequest): void;
  /**
   * The jobs running in this process: a store that does not hold every open
   * request in memory (above its bound) reads theirs after a full reload.
   */
  runningRefs?(): JobRef[];
}

/**
 * Where kill requests live, so that a request made in one process reaches the
 * job in another and survives restarts. `postgresStore()` from
 * `jobterm/postgres` is the built-in one.
 */
export interface KillStore {
  /** Where `iterate()` keeps cursors, when the store offers one (postgresStore() does). */
  readonly progress?: ProgressStore;
  /** Starts delivering requests to this process: loads the pending ones, then listens and polls. */
  open(listener: KillStoreListener): Promise<void>;
  /**
   * The pending request for a job, from memory: the hot path calls this at
   * every job start, so it must not touch the database.
   */
  pendingFor(ref: JobRef): KillRequest | undefined;
  /**
   * Called at a job's start, before `pendingFor`: a store that holds too many
   * open requests to keep in memory reads the job's own here (one round
   * trip). Undefined, with no promise made, when memory answers.
   */
  prepareStart?(ref: JobRef): Promise<void> | undefined;
  /** Stores a request, then announces it. A job that already has a pending request gets that one back. */
  request(input: NewKillRequest): Promise<{ request: KillRequest; created: boolean }>;
  /**
   * Announces a hard stop now for the job under an open request, to whichever
   * worker runs it. Optional: without it, `force` reaches only jobs of the
   * calling process.
   */
  force?(requestId: string): Promise<void>;
  /** Records that a worker fired the job's token. */
  markDelivered(requestId: string, workerId: string): Promise<void>;
  /** Records how the request ended; wakes everyone waiting on it. Idempotent. */
  resolve(requestId: string, outcome: RequestOutcome, workerId: string): Promise<void>;
  /**
   * Resolves a request whose job the queue shows ended or gone, learned by
   * re-reading the queue (the requester after storing, a periodic sweep),
   * unless a worker recorded it delivered: that worker fired the job's token
   * and its own answer (`terminated`, usually) is on its way. A delivery with
   * no answer for minutes (its worker died between the queue write and the
   * resolve) no longer holds the request open. Resolves true when this call
   * resolved it. Stores without it get a plain `resolve()`.
   */
  resolveEnded?(requestId: string, outcome: RequestOutcome, workerId: string): Promise<boolean>;
  /**
   * The open requests this process knows of, from memory (what `pendingFor`
   * answers from): the terminator's sweep asks the queues about their jobs.
   */
  openRequests?(): KillRequest[];
  /**
   * Waits until the request is resolved and returns the outcome, or
   * `undefined` when `timeout` ms pass or `signal` aborts first. Works in a
   * process that never called `open()` (a CLI, an API server).
   */
  waitForResolution(
    requestId: string,
    options: { timeout: number; signal?: AbortSignal },
  ): Promise<RequestOutcome | undefined>;
  /**
   * Takes back a request no worker has applied yet: it is never applied and
   * is pruned like an expired one. Answers what happened; a request already
   * delivered or resolved is left alone (it has reached its job).
   */
  withdraw?(requestId: string, withdrawnBy: string | undefined): Promise<WithdrawStatus>;
  /** Stops listening and polling; releases connections the store opened itself. Safe to call twice. */
  close(): Promise<void>;
}
