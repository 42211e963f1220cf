import { randomUUID } from 'node:crypto';
import { expected } from '../../core/errors.js';
import { checkFleetOptions, type FleetOptions, type FleetSnapshot } from '../../core/fleet.js';
import { type JobRef, validateJobRef } from '../../core/job-ref.js';
import { MAX_REASON_LENGTH, milliseconds } from '../../core/options.js';
import {
  type DeadWorker,
  type HeartbeatResult,
  type OpenKill,
  PRESENCE_DEFAULTS,
  type PresenceRecord,
  type PresenceStore,
} from '../../core/presence.js';
import type { ProgressStore } from '../../core/progress.js';
import { makeReason } from '../../core/reason.js';
import type {
  KillRequest,
  KillStore,
  KillStoreListener,
  NewKillRequest,
  RequestOutcome,
  RequestStatus,
  WithdrawStatus,
} from '../../core/store.js';
// Generic parts of the PostgreSQL store (no `pg` in them): the in-memory
// open requests with their generations, and the non-stacking poller.
import { PendingRequests } from '../postgres/pending.js';
import { Poller } from '../postgres/poller.js';
import { makeConnection, type RedisConnection, type Subscription } from './connection.js';
import {
  REDIS_STORE_DEFAULTS,
  type RedisStoreOptions,
  type ResolvedRedisStoreOptions,
  resolveRedisStoreOptions,
} from './options.js';
import * as presence from './presence.js';
import { WITHDRAW } from './presence-scripts.js';
import { makeRedisProgressStore } from './progress.js';
import { LIST_RECENT, LOAD_BY_IDS, LOAD_OPEN, MARK_DELIVERED, PRUNE, RESOLVE, STORE_REQUEST } from './scripts.js';

const OUTCOMES = new Set<RequestOutcome>(['terminated', 'already_finished', 'not_found']);
const MAX_NAME_LENGTH = 200;
/** A request id: what every message payload must be. Anything else is dropped unread. */
export const REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PRUNE_BATCH = 1_000;

/** A kill request as stored, with the bookkeeping `jobterm requests` shows (the PostgreSQL store's shape). */
export interface StoredRedisKillRequest extends KillRequest {
  readonly deliveredBy?: string;
  readonly deliveredAt?: Date;
  readonly expired: boolean;
}

export interface ListRedisRequestsOptions {
  /** Only open requests (pending or delivered, not expired). @default false */
  pending?: boolean;
  /** Newest first, at most this many. @default 100 */
  limit?: number;
}

/** The store's keys and channels under its prefix; named in docs/redis-store.md. */
export interface RedisStoreKeys {
  readonly open: string;
  readonly jobs: string;
  readonly recent: string;
  readonly expiry: string;
  readonly progress: string;
  readonly requestChannel: string;
  readonly resolvedChannel: string;
  /** Worker presence: instance id -> the ms at which it counts as dead (docs/fleet.md). */
  readonly workers: string;
  request(id: string): string;
  /** One worker's presence record. */
  worker(instanceId: string): string;
}

export function redisStoreKeys(prefix: string): RedisStoreKeys {
  return {
    open: `${prefix}:open`,
    jobs: `${prefix}:jobs`,
    recent: `${prefix}:recent`,
    expiry: `${prefix}:expiry`,
    progress: `${prefix}:progress`,
    requestChannel: `${prefix}:requests`,
    resolvedChannel: `${prefix}:resolved`,
    workers: `${prefix}:workers`,
    request: (id) => `${prefix}:request:${id}`,
    worker: (instanceId) => `${prefix}:worker:${instanceId}`,
  };
}

/**
 * Kill requests in Redis, with the PostgreSQL store's contract: a hash per
 * request, stored (in one Lua script) before a PUBLISH names its id; every
 * worker subscribes, keeps the open requests in memory, resyncs after every
 * reconnect and polls as the fallback. A message is only ever an id: the
 * worker reads the request itself, so a forged PUBLISH kills nothing.
 */
export class RedisStore implements KillStore, PresenceStore {
  readonly options: ResolvedRedisStoreOptions;
  readonly keys: RedisStoreKeys;
  /** iterate()'s cursors, under the same prefix; the terminator uses it by default. */
  readonly progress: ProgressStore;
  private readonly redis: RedisConnection;
  private readonly pending = new PendingRequests();
  private readonly poller: Poller;
  private readonly waitPoller: Poller;
  private readonly pruner: Poller | undefined;
  private readonly waiters = new Map<string, Set<(outcome: RequestOutcome | undefined) => void>>();
  private receiver: KillStoreListener | undefined;
  private subscription: Promise<Subscription> | undefined;
  private batch: { requests: Set<string>; resolved: Set<string> } | undefined;
  private failing = { poll: false, waits: false };
  private closing: Promise<void> | undefined;

  constructor(options: RedisStoreOptions) {
    this.options = resolveRedisStoreOptions(options);
    this.keys = redisStoreKeys(this.options.prefix);
    const { client, connection, logger } = this.options;
    this.redis = makeConnection(client !== undefined ? { client } : { connection: connection! }, logger);
    this.progress = makeRedisProgressStore(this.redis, this.keys.progress);
    this.poller = new Poller(
      this.options.pollInterval,
      () => this.watch('poll', () => this.syncAll()),
      (error) => this.report(error),
    );
    this.waitPoller = new Poller(
      this.options.pollInterval,
      () => this.watch('waits', () => this.checkWaiters([...this.waiters.keys()])),
      (error) => this.report(error),
    );
    const pruneInterval = this.options.pruneInterval;
    this.pruner =
      pruneInterval === false
        ? undefined
        : new Poller(
            pruneInterval,
            async () => {
              const deleted = await this.prune();
              if (deleted > 0) this.options.logger.info('pruned expired kill requests', { deleted });
            },
            (error) => this.report(error),
          );
  }

  async open(receiver: KillStoreListener): Promise<void> {
    this.assertOpen();
    if (typeof receiver?.onRequest !== 'function') {
      throw expected('listener.onRequest', 'a function', receiver?.onRequest);
    }
    if (this.receiver !== undefined) {
      throw new Error('jobterm: this kill store is already open; use one store per terminator');
    }
    this.receiver = receiver;
    if (!this.options.receiveRequests) return;
    this.poller.start();
    this.pruner?.start();
    // Subscribe first, then load: a request stored between the two is seen by one of them.
    await this.subscribed();
    await this.syncAll();
  }

  pendingFor(ref: JobRef): KillRequest | undefined {
    return this.pending.get(ref);
  }

  async request(input: NewKillRequest): Promise<{ request: KillRequest; created: boolean }> {
    if (typeof input !== 'object' || input === null) throw expected('request', 'an object `{ ref, message }`', input);
    const ref = validateJobRef(input.ref, 'ref');
    const { message, requestedBy } = input;
    if (typeof message !== 'string' || message.length === 0 || message.length > MAX_REASON_LENGTH) {
      throw expected('message', `a non-empty string of at most ${MAX_REASON_LENGTH} characters`, message);
    }
    checkName('requestedBy', requestedBy, true);
    const expiresAt = input.expiresAt ?? new Date(Date.now() + this.options.requestTtl);
    if (!(expiresAt instanceof Date) || Number.isNaN(expiresAt.getTime()) || expiresAt.getTime() <= Date.now()) {
      const got = expiresAt instanceof Date && Number.isNaN(expiresAt.getTime()) ? 'an invalid Date' : expiresAt;
      throw expected('expiresAt', 'a Date in the future', got);
    }
    this.assertOpen();
    const id = randomUUID();
    const k = this.keys;
    const [created, fields] = (await this.redis.eval(
      STORE_REQUEST,
      [k.open, k.jobs, k.recent, k.expiry],
      [
        this.options.prefix,
        id,
        jobKey(ref),
        ref.queue,
        ref.name ?? '',
        ref.id,
        message,
        requestedBy ?? '',
        expiresAt.getTime(),
        k.requestChannel,
        REDIS_STORE_DEFAULTS.keepAfterExpiry,
      ],
    )) as [number, string[]];
    const request = fromFields(fields, Date.now());
    // Known here at once: a job starting in this process before the message comes back is still stopped.
    if (this.isReceiving()) this.pending.add(request);
    return { request, created: created === 1 };
  }

  async markDelivered(requestId: string, workerId: string): Promise<void> {
    checkRequestId(requestId);
    checkName('workerId', workerId, false);
    this.assertOpen();
    await this.redis.eval(MARK_DELIVERED, [], [this.keys.request(requestId), workerId]);
  }

  async resolve(requestId: string, outcome: RequestOutcome, workerId: string): Promise<void> {
    await this.resolveWith(requestId, outcome, workerId, false);
  }

  /**
   * Resolves a request whose job the caller found ended in its queue (the
   * requester's re-read, the sweep), unless a worker marked it delivered:
   * that worker's own answer (`terminated`, most often) is on its way.
   */
  async resolveEnded(requestId: string, outcome: RequestOutcome, workerId: string): Promise<boolean> {
    return this.resolveWith(requestId, outcome, workerId, true);
  }

  /** The open requests this process holds in memory, for the terminator's sweep. */
  openRequests(): KillRequest[] {
    return this.isReceiving() ? this.pending.all() : [];
  }

  private async resolveWith(
    requestId: string,
    outcome: RequestOutcome,
    workerId: string,
    unlessDelivered: boolean,
  ): Promise<boolean> {
    checkRequestId(requestId);
    if (!OUTCOMES.has(outcome)) throw expected('outcome', `one of ${[...OUTCOMES].join(', ')}`, outcome);
    checkName('workerId', workerId, false);
    this.assertOpen();
    const k = this.keys;
    const resolved = await this.redis.eval(
      RESOLVE,
      [k.open, k.jobs],
      [k.request(requestId), requestId, outcome, workerId, k.resolvedChannel, unlessDelivered ? '1' : '0'],
    );
    if (resolved !== 1 && unlessDelivered) return false;
    this.pending.remove(requestId);
    this.settleWaiters(requestId, outcome);
    return true;
  }

  async waitForResolution(
    requestId: string,
    options: { timeout: number; signal?: AbortSignal },
  ): Promise<RequestOutcome | undefined> {
    checkRequestId(requestId);
    if (typeof options !== 'object' || options === null) throw expected('options', 'an object `{ timeout }`', options);
    const timeout = milliseconds('timeout', options.timeout);
    const { signal } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw expected('signal', 'an AbortSignal', signal);
    this.assertOpen();
    if (signal?.aborted) return undefined;
    return new Promise<RequestOutcome | undefined>((resolve) => {
      let settled = false;
      const finish = (outcome: RequestOutcome | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        removeWaiter();
        resolve(outcome);
      };
      const onAbort = () => finish(undefined);
      const removeWaiter = this.addWaiter(requestId, finish);
      const timer = setTimeout(() => finish(undefined), timeout);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waitPoller.start();
      // Subscribe first, then look: a resolution landing between the two is seen by one of them.
      this.subscribed()
        .catch(() => undefined)
        .then(() => (settled ? undefined : this.checkWaiters([requestId])))
        .catch((error: unknown) => this.report(error));
    });
  }

  /** Requests newest first, for `jobterm requests` and dashboards. */
  async listRequests(options: ListRedisRequestsOptions = {}): Promise<StoredRedisKillRequest[]> {
    if (typeof options !== 'object' || options === null) throw expected('options', 'an object', options);
    const pending = options.pending ?? false;
    if (typeof pending !== 'boolean') throw expected('pending', 'a boolean', pending);
    const limit = options.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1) throw expected('limit', 'a positive integer', limit);
    this.assertOpen();
    const [now, rows] = (await this.redis.eval(
      LIST_RECENT,
      [this.keys.recent, this.keys.open],
      [this.options.prefix, limit, pending ? 1 : 0],
    )) as [number, string[][]];
    return rows.map((fields) => fromFields(fields, now)).filter((r) => !pending || !r.expired);
  }

  /** Deletes expired requests (resolved or not) and their index entries; returns how many. */
  async prune(): Promise<number> {
    this.assertOpen();
    const k = this.keys;
    let total = 0;
    for (;;) {
      const deleted = (await this.redis.eval(
        PRUNE,
        [k.open, k.jobs, k.recent, k.expiry],
        [this.options.prefix, PRUNE_BATCH],
      )) as number;
      total += deleted;
      if (deleted < PRUNE_BATCH) return total;
    }
  }

  /**
   * Takes back a request no worker has applied yet (`jobterm withdraw`): it
   * expires now, so no worker applies it, and every worker drops it.
   */
  async withdraw(requestId: string, withdrawnBy?: string): Promise<WithdrawStatus> {
    checkRequestId(requestId);
    checkName('withdrawnBy', withdrawnBy, true);
    this.assertOpen();
    const k = this.keys;
    const status = (await this.redis.eval(
      WITHDRAW,
      [k.open, k.jobs, k.expiry],
      [k.request(requestId), requestId, withdrawnBy ?? '', k.resolvedChannel, REDIS_STORE_DEFAULTS.keepAfterExpiry],
    )) as WithdrawStatus;
    if (status === 'withdrawn') this.pending.remove(requestId);
    return status;
  }

  // Presence (docs/fleet.md): the terminator's heartbeat calls these; see ./presence.ts.

  async heartbeat(record: PresenceRecord, secret: string): Promise<HeartbeatResult> {
    this.assertOpen();
    return presence.heartbeat(this.redis, this.presenceKeys(), record, secret);
  }

  async deregister(instanceId: string, secret: string): Promise<void> {
    this.assertOpen();
    await presence.deregister(this.redis, this.presenceKeys(), instanceId, secret);
  }

  /** Every live worker and the jobs it runs (docs/fleet.md says how fresh). Works from any process. */
  async fleet(options: FleetOptions = {}): Promise<FleetSnapshot> {
    const checked = checkFleetOptions(options);
    this.assertOpen();
    return presence.selectFleet(this.redis, this.presenceKeys(), checked, PRESENCE_DEFAULTS.heartbeatInterval);
  }

  async claimDead(
    rescuerId: string,
    options: { lease: number; limit: number; queues?: readonly string[] },
  ): Promise<DeadWorker[]> {
    checkName('rescuerId', rescuerId, false);
    this.assertOpen();
    return presence.claimDead(this.redis, this.presenceKeys(), rescuerId, { ...options, queues: options.queues ?? [] });
  }

  async completeRescue(instanceId: string, rescuerId: string): Promise<void> {
    this.assertOpen();
    await presence.completeRescue(this.redis, this.presenceKeys(), instanceId, rescuerId);
  }

  async openKillsFor(refs: readonly JobRef[]): Promise<OpenKill[]> {
    this.assertOpen();
    return presence.selectOpenFor(this.redis, this.presenceKeys(), refs);
  }

  async markEscalated(requestId: string, workerId: string): Promise<void> {
    checkRequestId(requestId);
    checkName('workerId', workerId, false);
    this.assertOpen();
    await presence.markEscalated(this.redis, this.presenceKeys(), requestId, workerId);
  }

  private presenceKeys(): presence.PresenceKeys {
    return {
      prefix: this.options.prefix,
      workers: this.keys.workers,
      jobs: this.keys.jobs,
      progress: this.keys.progress,
      worker: this.keys.worker,
      request: this.keys.request,
    };
  }

  /** Stops subscribing, polling and pruning, wakes waiters with `undefined`, and closes the connections the store made. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await Promise.all([this.poller.stop(), this.waitPoller.stop(), this.pruner?.stop()]);
    for (const [, finishers] of [...this.waiters]) for (const finish of [...finishers]) finish(undefined);
    const subscription = await this.subscription?.catch(() => undefined);
    await subscription?.close();
    await this.redis.close();
    this.pending.clear();
    this.receiver = undefined;
    this.batch = undefined;
  }

  private subscribed(): Promise<Subscription> {
    if (this.subscription === undefined) {
      const channels = this.isReceiving()
        ? [this.keys.requestChannel, this.keys.resolvedChannel]
        : [this.keys.resolvedChannel];
      this.subscription = this.redis.subscribe(
        channels,
        (channel, message) => this.onMessage(channel, message),
        () => {
          this.options.logger.info('kill store reconnected to Redis; resyncing');
          this.resync().catch((error: unknown) => this.report(error));
        },
      );
      // A failed subscribe is retried by the next caller; polling covers the gap meanwhile.
      this.subscription.catch(() => {
        this.subscription = undefined;
      });
    }
    return this.subscription;
  }

  private isReceiving(): boolean {
    return this.options.receiveRequests && this.receiver !== undefined && this.closing === undefined;
  }

  private assertOpen(): void {
    if (this.closing !== undefined) throw new Error('jobterm: this kill store is closed');
  }

  private async resync(): Promise<void> {
    if (this.isReceiving()) await this.syncAll();
    if (this.waiters.size > 0) await this.checkWaiters([...this.waiters.keys()]);
  }

  /** The full read: start, poll, resync. Announces only requests this process did not know. */
  private async syncAll(): Promise<void> {
    if (!this.isReceiving()) return;
    const generation = this.pending.beginRead();
    const [now, rows] = (await this.redis.eval(LOAD_OPEN, [this.keys.open], [this.options.prefix])) as [
      number,
      string[][],
    ];
    if (!this.isReceiving()) return;
    const open = rows.map((fields) => fromFields(fields, now)).filter((r) => r.status !== 'resolved' && !r.expired);
    for (const request of this.pending.applyAll(generation, open)) this.announce(request);
  }

  private onMessage(channel: string, message: string): void {
    if (this.closing !== undefined) return;
    // The message is only ever a request id; the request is read before anything is done, so a forged one kills nothing.
    if (!REQUEST_ID.test(message)) {
      this.options.logger.debug('ignored a message that is not a request id', {
        channel,
        message: message.slice(0, 80),
      });
      return;
    }
    const isRequest = channel === this.keys.requestChannel;
    if (isRequest ? !this.isReceiving() : !this.pending.has(message) && !this.waiters.has(message)) return;
    if (this.batch === undefined) {
      this.batch = { requests: new Set(), resolved: new Set() };
      queueMicrotask(() => {
        void this.lookUp();
      });
    }
    (isRequest ? this.batch.requests : this.batch.resolved).add(message);
  }

  /** Reads the requests the last messages named and applies them. Never rejects. */
  private async lookUp(): Promise<void> {
    const batch = this.batch;
    this.batch = undefined;
    if (batch === undefined) return;
    const ids = [...new Set([...batch.requests, ...batch.resolved])];
    const generation = this.pending.beginRead();
    let rows: StoredRedisKillRequest[];
    try {
      const [now, found] = (await this.redis.eval(LOAD_BY_IDS, [], [this.options.prefix, ...ids])) as [
        number,
        string[][],
      ];
      rows = found.map((fields) => fromFields(fields, now));
    } catch (error) {
      // Polling picks up what this lookup missed.
      this.options.logger.debug('lookup after a message failed', { error });
      return;
    }
    if (this.closing !== undefined) return;
    const known = new Set(rows.map((row) => row.id));
    const unknown = ids.filter((id) => !known.has(id));
    if (unknown.length > 0) this.options.logger.debug('ignored a message naming no stored request', { ids: unknown });
    const open = rows.filter((row) => row.status !== 'resolved' && !row.expired);
    if (this.isReceiving()) {
      for (const request of this.pending.applySome(generation, ids, open)) {
        if (batch.requests.has(request.id)) this.announce(request);
      }
    }
    for (const row of rows) if (row.outcome !== undefined) this.settleWaiters(row.id, row.outcome);
  }

  private async checkWaiters(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const [now, found] = (await this.redis.eval(LOAD_BY_IDS, [], [this.options.prefix, ...ids])) as [
      number,
      string[][],
    ];
    for (const fields of found) {
      const row = fromFields(fields, now);
      if (row.outcome !== undefined) this.settleWaiters(row.id, row.outcome);
    }
  }

  private addWaiter(id: string, finish: (outcome: RequestOutcome | undefined) => void): () => void {
    let finishers = this.waiters.get(id);
    if (finishers === undefined) {
      finishers = new Set();
      this.waiters.set(id, finishers);
    }
    finishers.add(finish);
    return () => {
      const current = this.waiters.get(id);
      current?.delete(finish);
      if (current?.size === 0) this.waiters.delete(id);
      if (this.waiters.size === 0) void this.waitPoller.stop();
    };
  }

  private settleWaiters(id: string, outcome: RequestOutcome): void {
    for (const finish of [...(this.waiters.get(id) ?? [])]) finish(outcome);
  }

  private announce(request: KillRequest): void {
    try {
      this.receiver?.onRequest(request);
    } catch (error) {
      this.report(error);
    }
  }

  private async watch(what: 'poll' | 'waits', task: () => Promise<void>): Promise<void> {
    try {
      await task();
    } catch (error) {
      if (this.failing[what]) this.options.logger.debug(`${what} failed again`, { error });
      else this.report(error);
      this.failing[what] = true;
      return;
    }
    if (this.failing[what]) this.options.logger.info(`kill store ${what} recovered`);
    this.failing[what] = false;
  }

  private report(error: unknown): void {
    if (this.closing !== undefined) return;
    const onError = this.receiver?.onError;
    if (onError !== undefined) {
      try {
        onError(error);
        return;
      } catch {
        // Fall through to the logger.
      }
    }
    this.options.logger.warn('kill store problem', { error });
  }
}

/** Creates a Redis kill store; pass it to `createTerminator({ store })`. */
export function redisStore(options: RedisStoreOptions): RedisStore {
  return new RedisStore(options);
}

/** The hash field naming a job: JSON, so no part can run into another. */
function jobKey(ref: JobRef): string {
  return JSON.stringify([ref.queue, ref.name ?? '', ref.id]);
}

/** A request from its hash fields (HGETALL's flat list); `now` is Redis's clock when it was read. */
function fromFields(list: string[], now: number): StoredRedisKillRequest {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) f[String(list[i])] = String(list[i + 1]);
  const ref: JobRef = f.name ? { queue: f.queue!, name: f.name, id: f.jobId! } : { queue: f.queue!, id: f.jobId! };
  const status = f.status as RequestStatus;
  const expiresAt = new Date(Number(f.expiresAt));
  const date = (value: string | undefined) => (value ? new Date(Number(value)) : undefined);
  const deliveredAt = date(f.deliveredAt);
  const resolvedAt = date(f.resolvedAt);
  return {
    id: f.id!,
    ref,
    reason: makeReason('kill', f.message!, {
      requestId: f.id!,
      requestedAt: new Date(Number(f.requestedAt)),
      ...(f.requestedBy ? { requestedBy: f.requestedBy } : {}),
    }),
    expiresAt,
    status,
    ...(f.outcome ? { outcome: f.outcome as RequestOutcome } : {}),
    ...(f.resolvedBy ? { resolvedBy: f.resolvedBy } : {}),
    ...(resolvedAt ? { resolvedAt } : {}),
    ...(f.deliveredBy ? { deliveredBy: f.deliveredBy } : {}),
    ...(deliveredAt ? { deliveredAt } : {}),
    expired: status !== 'resolved' && expiresAt.getTime() <= now,
  };
}

function checkRequestId(value: unknown): void {
  if (typeof value !== 'string' || !REQUEST_ID.test(value)) throw expected('requestId', 'a request id (a UUID)', value);
}

function checkName(what: string, value: unknown, optional: boolean): void {
  if (optional && value === undefined) return;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME_LENGTH) {
    throw expected(what, `a non-empty string of at most ${MAX_NAME_LENGTH} characters`, value);
  }
}
