import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { checkText, expected } from '../../core/errors.js';
import { checkFleetOptions, type FleetOptions, type FleetSnapshot } from '../../core/fleet.js';
import { type JobRef, validateJobRef } from '../../core/job-ref.js';
import { MAX_NAME_LENGTH, MAX_REASON_LENGTH, milliseconds } from '../../core/options.js';
import {
  type DeadWorker,
  type HeartbeatResult,
  type OpenKill,
  PRESENCE_DEFAULTS,
  type PresenceRecord,
  type PresenceStore,
} from '../../core/presence.js';
import type { ProgressStore } from '../../core/progress.js';
import type {
  KillRequest,
  KillStore,
  KillStoreListener,
  NewKillRequest,
  RequestOutcome,
  WithdrawStatus,
} from '../../core/store.js';
import { describePostgresTarget } from '../../core/unavailable.js';
import { describeFailure } from './errors.js';
import {
  currentWatermark,
  selectChangedIds,
  selectOpenForJob,
  selectOpenForJobs,
  selectOpenUpTo,
  type Watermark,
} from './incremental.js';
import { Listener } from './listener.js';
import { type MigrationResult, migrate } from './migrate.js';
import {
  POSTGRES_STORE_DEFAULTS,
  type PostgresStoreOptions,
  type ResolvedPostgresStoreOptions,
  resolvePostgresStoreOptions,
} from './options.js';
import { PendingRequests } from './pending.js';
import { Poller } from './poller.js';
import * as presence from './presence.js';
import { makeProgressStore } from './progress.js';
import {
  deleteExpired,
  insertRequest,
  REQUEST_ID,
  type StoredKillRequest,
  selectByIds,
  selectOpen,
  selectRecent,
  updateDelivered,
  updateResolved,
} from './requests.js';
import { type SchemaNames, schemaNames } from './schema.js';

const OUTCOMES = new Set<RequestOutcome>(['terminated', 'already_finished', 'not_found']);

/** Changed requests one incremental poll reads at most; more than that, and a full read is cheaper. */
const POLL_BATCH = 1_000;

/** `application_name` of the store's connections, so `pg_stat_activity` shows what they are. */
export const APPLICATION_NAME = 'jobterm';
export const LISTEN_APPLICATION_NAME = 'jobterm:listen';

export interface ListRequestsOptions {
  /** Only open requests (pending or delivered, not expired). @default false */
  pending?: boolean;
  /** Newest first, at most this many. @default 100 */
  limit?: number;
}

/**
 * Kill requests in PostgreSQL: a row per request, a NOTIFY naming its id,
 * a LISTEN connection per worker process with polling as the fallback.
 * Make one with `postgresStore()` and pass it to `createTerminator({ store })`.
 */
export class PostgresStore implements KillStore, PresenceStore {
  readonly options: ResolvedPostgresStoreOptions;
  readonly names: SchemaNames;
  private readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private readonly where: string;
  private readonly pending = new PendingRequests();
  private readonly listener: Listener;
  private readonly poller: Poller;
  private readonly waitPoller: Poller;
  private readonly pruner: Poller | undefined;
  private readonly waiters = new Map<string, Set<(outcome: RequestOutcome | undefined) => void>>();
  private receiver: KillStoreListener | undefined;
  private migrated: Promise<void> | undefined;
  private batch: { requests: Set<string>; resolved: Set<string> } | undefined;
  private failing = { poll: false, waits: false };
  private closing: Promise<void> | undefined;
  /** Where the next incremental poll reads from; unset until a full read (start, reconnect). */
  private watermark: Watermark | undefined;
  /** `open()` is waiting for the listener's first connection, after which it loads everything. */
  private starting = false;
  /** Full reads in flight. */
  private fullReads = 0;
  /** More open requests than `maxOpenInMemory`: jobs check the store at start. */
  private overflow = false;
  /** iterate()'s cursors, in the same schema; the terminator uses it by default. */
  readonly progress: ProgressStore;

  constructor(options: PostgresStoreOptions) {
    this.options = resolvePostgresStoreOptions(options);
    this.names = schemaNames(this.options.schema);
    const { connectionString, connectionTimeout } = this.options;
    this.ownsPool = this.options.pool === undefined;
    this.pool =
      this.options.pool ??
      new pg.Pool({
        connectionString,
        max: POSTGRES_STORE_DEFAULTS.poolSize,
        connectionTimeoutMillis: connectionTimeout,
        application_name: APPLICATION_NAME,
      });
    // An idle client of our own pool dying (a database restart) must not crash the process; the next query reconnects.
    if (this.ownsPool) this.pool.on('error', (error) => this.options.logger.debug('idle connection lost', { error }));
    const clientConfig = listenConfig(this.options.pool, connectionString, connectionTimeout);
    this.where = describePostgresTarget(clientConfig);
    const receiving = this.options.receiveRequests;
    this.listener = new Listener({
      makeClient: () => new pg.Client(clientConfig),
      channels: receiving
        ? [this.names.requestChannel, this.names.resolvedChannel, this.names.forceChannel]
        : [this.names.resolvedChannel],
      onNotification: (channel, payload) => this.onNotification(channel, payload),
      onConnected: () => this.resync(),
      onError: (error) => this.report(describeFailure(error, this.where)),
      logger: this.options.logger,
      reconnectDelay: this.options.reconnectDelay,
      maxReconnectDelay: this.options.maxReconnectDelay,
    });
    this.poller = new Poller(
      this.options.pollInterval,
      () => this.watch('poll', () => this.poll()),
      (error) => this.report(error),
    );
    this.waitPoller = new Poller(
      this.options.pollInterval,
      () => this.watch('waits', () => this.checkWaiters([...this.waiters.keys()])),
      (error) => this.report(error),
    );
    this.progress = makeProgressStore(
      this.pool,
      this.names,
      () => this.ready(),
      (fn) => this.db(fn),
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

  /**
   * Brings the schema to the latest version (idempotent; safe from many
   * processes at once). The store does this on first use unless `migrate: false`.
   */
  async migrate(): Promise<MigrationResult> {
    this.assertOpen();
    return this.db(() => migrate(this.pool, this.names));
  }

  async open(receiver: KillStoreListener): Promise<void> {
    this.assertOpen();
    if (typeof receiver?.onRequest !== 'function')
      throw expected('listener.onRequest', 'a function', receiver?.onRequest);
    if (this.receiver !== undefined)
      throw new Error('jobterm: this kill store is already open; use one store per terminator');
    this.receiver = receiver;
    if (!this.options.receiveRequests) return;
    // Polling starts even if the first connection fails: it keeps retrying, as does the listener.
    this.poller.start();
    this.pruner?.start();
    // Resolves after LISTEN is in place and the pending requests are loaded (in that order, so none slips between).
    this.starting = true;
    await this.listener
      .start()
      .catch((error: unknown) => {
        throw describeFailure(error, this.where);
      })
      .finally(() => {
        this.starting = false;
      });
  }

  pendingFor(ref: JobRef): KillRequest | undefined {
    return this.pending.get(ref);
  }

  async request(input: NewKillRequest): Promise<{ request: KillRequest; created: boolean }> {
    if (typeof input !== 'object' || input === null) throw expected('request', 'an object `{ ref, message }`', input);
    const ref = validateJobRef(input.ref, 'ref');
    const { message, requestedBy } = input;
    checkText('message', message, MAX_REASON_LENGTH);
    if (requestedBy !== undefined) checkText('requestedBy', requestedBy, MAX_NAME_LENGTH);
    const expiresAt = input.expiresAt ?? new Date(Date.now() + this.options.requestTtl);
    if (!(expiresAt instanceof Date) || Number.isNaN(expiresAt.getTime()) || expiresAt.getTime() <= Date.now()) {
      // core's expected() formats a Date with toISOString(), which throws on an invalid one.
      const got = expiresAt instanceof Date && Number.isNaN(expiresAt.getTime()) ? 'an invalid Date' : expiresAt;
      throw expected('expiresAt', 'a Date in the future', got);
    }
    this.assertOpen();
    await this.ready();
    const id = randomUUID();
    const request = await this.db(() =>
      insertRequest(this.pool, this.names, { id, ref, message, requestedBy, expiresAt }),
    );
    // Known here at once: a job starting in this process before the NOTIFY comes back is still stopped.
    if (this.isReceiving()) this.pending.add(request);
    return { request, created: request.id === id };
  }

  async force(requestId: string): Promise<void> {
    checkRequestId(requestId);
    this.assertOpen();
    await this.ready();
    await this.db(() => this.pool.query('SELECT pg_notify($1, $2)', [this.names.forceChannel, requestId]));
  }

  async markDelivered(requestId: string, workerId: string): Promise<void> {
    checkRequestId(requestId);
    checkText('workerId', workerId, MAX_NAME_LENGTH);
    this.assertOpen();
    await this.ready();
    await this.db(() => updateDelivered(this.pool, this.names, requestId, workerId));
  }

  async resolveEnded(requestId: string, outcome: RequestOutcome, workerId: string): Promise<boolean> {
    return this.resolveWith(requestId, outcome, workerId, true);
  }

  openRequests(): KillRequest[] {
    return this.isReceiving() ? this.pending.all() : [];
  }

  async resolve(requestId: string, outcome: RequestOutcome, workerId: string): Promise<void> {
    await this.resolveWith(requestId, outcome, workerId, false);
  }

  private async resolveWith(
    requestId: string,
    outcome: RequestOutcome,
    workerId: string,
    unlessDelivered: boolean,
  ): Promise<boolean> {
    checkRequestId(requestId);
    if (!OUTCOMES.has(outcome)) throw expected('outcome', `one of ${[...OUTCOMES].join(', ')}`, outcome);
    checkText('workerId', workerId, MAX_NAME_LENGTH);
    this.assertOpen();
    await this.ready();
    const resolved = await this.db(() =>
      updateResolved(this.pool, this.names, requestId, outcome, workerId, unlessDelivered),
    );
    if (!resolved && unlessDelivered) return false;
    // Resolved now, or before (by someone else): either way it is no longer open.
    this.pending.remove(requestId);
    if (resolved) this.settleWaiters(requestId, outcome);
    return resolved;
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
    await this.ready();
    // Closed while migrating: starting the wait now would leave its poller and timer behind.
    if (this.closing !== undefined || signal?.aborted) return undefined;
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
      // LISTEN first, then look: a resolution landing between the two is then seen by one of them.
      this.listener
        .start()
        .catch(() => undefined)
        .then(() => (settled ? undefined : this.checkWaiters([requestId])))
        .catch((error: unknown) => this.report(error));
    });
  }

  /** Requests newest first, for `jobterm requests` and dashboards. */
  async listRequests(options: ListRequestsOptions = {}): Promise<StoredKillRequest[]> {
    if (typeof options !== 'object' || options === null) throw expected('options', 'an object', options);
    const pending = options.pending ?? false;
    if (typeof pending !== 'boolean') throw expected('pending', 'a boolean', pending);
    const limit = options.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1) throw expected('limit', 'a positive integer', limit);
    this.assertOpen();
    await this.ready();
    return this.db(() => selectRecent(this.pool, this.names, { pending, limit }));
  }

  /** Deletes expired requests, resolved or not; returns how many. */
  async prune(): Promise<number> {
    this.assertOpen();
    await this.ready();
    return this.db(() => deleteExpired(this.pool, this.names));
  }

  async withdraw(requestId: string, withdrawnBy?: string): Promise<WithdrawStatus> {
    checkRequestId(requestId);
    if (withdrawnBy !== undefined) checkText('withdrawnBy', withdrawnBy, MAX_NAME_LENGTH);
    this.assertOpen();
    await this.ready();
    const status = await this.db(() => presence.withdraw(this.pool, this.names, requestId, withdrawnBy));
    if (status === 'withdrawn') this.pending.remove(requestId);
    return status;
  }

  // Presence (docs/fleet.md): the terminator's heartbeat calls these; see src/stores/postgres/presence.ts.

  async heartbeat(record: PresenceRecord, secret: string): Promise<HeartbeatResult> {
    this.assertOpen();
    await this.ready();
    return this.db(() => presence.heartbeat(this.pool, this.names, record, secret));
  }

  async deregister(instanceId: string, secret: string): Promise<void> {
    this.assertOpen();
    await this.ready();
    await this.db(() => presence.deregister(this.pool, this.names, instanceId, secret));
  }

  /** Every live worker and the jobs it runs (docs/fleet.md says how fresh). Works from any process. */
  async fleet(options: FleetOptions = {}): Promise<FleetSnapshot> {
    const checked = checkFleetOptions(options);
    this.assertOpen();
    await this.ready();
    return this.db(() => presence.selectFleet(this.pool, this.names, checked, PRESENCE_DEFAULTS.heartbeatInterval));
  }

  async claimDead(
    rescuerId: string,
    options: { lease: number; limit: number; queues?: readonly string[] },
  ): Promise<DeadWorker[]> {
    this.assertOpen();
    await this.ready();
    return this.db(() => presence.claimDead(this.pool, this.names, rescuerId, options.queues ?? [], options));
  }

  async completeRescue(instanceId: string, rescuerId: string): Promise<void> {
    this.assertOpen();
    await this.db(() => presence.completeRescue(this.pool, this.names, instanceId, rescuerId));
  }

  async openKillsFor(refs: readonly JobRef[]): Promise<OpenKill[]> {
    this.assertOpen();
    await this.ready();
    return this.db(() => presence.selectOpenFor(this.pool, this.names, refs));
  }

  async markEscalated(requestId: string, workerId: string): Promise<void> {
    checkRequestId(requestId);
    checkText('workerId', workerId, MAX_NAME_LENGTH);
    this.assertOpen();
    await this.ready();
    await this.db(() => presence.markEscalated(this.pool, this.names, requestId, workerId));
  }

  /** Stops listening, polling and pruning, wakes waiters with `undefined`, and ends the pool if the store made it. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await Promise.all([this.poller.stop(), this.waitPoller.stop(), this.pruner?.stop()]);
    for (const [, finishers] of [...this.waiters]) for (const finish of [...finishers]) finish(undefined);
    await this.listener.close();
    this.pending.clear();
    this.receiver = undefined;
    this.batch = undefined;
    if (this.ownsPool) await this.pool.end().catch(() => undefined);
  }

  private isReceiving(): boolean {
    return this.options.receiveRequests && this.receiver !== undefined && this.closing === undefined;
  }

  private assertOpen(): void {
    if (this.closing !== undefined) throw new Error('jobterm: this kill store is closed');
  }

  /** Migrates once, on first use, when allowed; a failure is retried by the next call. */
  private ready(): Promise<void> {
    if (!this.options.migrate) return Promise.resolve();
    this.migrated ??= this.migrate().then(
      () => undefined,
      (error: unknown) => {
        this.migrated = undefined;
        throw error;
      },
    );
    return this.migrated;
  }

  /** Runs a query, turning a connection failure or a missing schema into a one-line error that says what to do. */
  private async db<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      // A missing table or schema, or (a schema older than this jobterm) a missing function.
      if (code === '42P01' || code === '3F000' || code === '42883') {
        throw new Error(
          `jobterm: schema "${this.names.schema}" is missing jobterm's tables; run \`jobterm migrate\` or leave the store's \`migrate\` option on`,
          { cause: error },
        );
      }
      throw describeFailure(error, this.where);
    }
  }

  /** After (re)connecting: reload the open requests, and look again at what waiters wait for. */
  private async resync(): Promise<void> {
    if (this.isReceiving()) await this.syncAll();
    if (this.waiters.size > 0) await this.checkWaiters([...this.waiters.keys()]);
  }

  /**
   * The full read: start, resync after a reconnect, and every poll when
   * `incrementalPoll` is off. Announces only requests this process did not
   * know. Above `maxOpenInMemory` open requests it keeps only those of the
   * jobs running here, and jobs check the store at their start instead
   * (`prepareStart`).
   */
  private async syncAll(): Promise<void> {
    this.fullReads++;
    try {
      await this.readAll();
    } finally {
      this.fullReads--;
    }
  }

  private async readAll(): Promise<void> {
    if (!this.isReceiving()) return;
    await this.ready();
    const generation = this.pending.beginRead();
    // Taken before the read, so the read's snapshot is newer: the next poll misses nothing.
    const watermark = this.options.incrementalPoll ? await this.db(() => currentWatermark(this.pool)) : undefined;
    const bound = this.options.maxOpenInMemory;
    let open = await this.db(() =>
      this.options.maxOpenInMemory === Number.POSITIVE_INFINITY
        ? selectOpen(this.pool, this.names)
        : selectOpenUpTo(this.pool, this.names, bound + 1),
    );
    if (!this.isReceiving()) return;
    const overflow = open.length > bound;
    if (overflow !== this.overflow) {
      this.options.logger.info(
        overflow
          ? 'more open kill requests than maxOpenInMemory: jobs now check the store at their start'
          : 'open kill requests back under maxOpenInMemory: held in memory again',
        { maxOpenInMemory: bound },
      );
    }
    this.overflow = overflow;
    if (overflow) {
      const running = this.receiver?.runningRefs?.() ?? [];
      open = running.length === 0 ? [] : await this.db(() => selectOpenForJobs(this.pool, this.names, running));
      if (!this.isReceiving()) return;
    }
    for (const request of this.pending.applyAll(generation, open)) this.announce(request);
    this.watermark = watermark;
  }

  /** One poll: what changed since the watermark, or the full read when there is none yet (or too much changed). */
  private async poll(): Promise<void> {
    if (!this.isReceiving()) return;
    const since = this.watermark;
    if (!this.options.incrementalPoll || since === undefined) {
      // The first load is still running (a slow start): it sets the watermark; a second full read would only repeat it.
      // Or the listener is connecting and loads right after LISTEN (a slow start): no need to read it all twice.
      if (this.options.incrementalPoll && (this.fullReads > 0 || this.starting)) return;
      return this.syncAll();
    }
    const generation = this.pending.beginRead();
    const changed = await this.db(() => selectChangedIds(this.pool, this.names, since, POLL_BATCH));
    if (changed.more) return this.syncAll();
    if (changed.ids.length > 0) {
      const rows = await this.db(() => selectByIds(this.pool, this.names, changed.ids));
      if (!this.isReceiving()) return;
      const open = rows.filter((row) => row.status !== 'resolved' && !row.expired);
      const known = new Set(open.filter((row) => this.pending.has(row.id)).map((row) => row.id));
      for (const request of this.pending.applySome(generation, changed.ids, open)) {
        if (!known.has(request.id)) this.announce(request);
      }
      for (const row of rows) if (row.outcome !== undefined) this.settleWaiters(row.id, row.outcome);
    }
    // Only if no full read replaced it meanwhile.
    if (this.watermark === since) this.watermark = changed.next;
    this.pending.forgetOldTombstones();
  }

  /**
   * Above `maxOpenInMemory`, a job's open request is read at its start; under
   * it, undefined (no promise): memory answers. A request stored after this
   * read reaches the job by NOTIFY or poll once it is registered, or lands in
   * memory before `pendingFor` is asked.
   */
  prepareStart(ref: JobRef): Promise<void> | undefined {
    if (!this.overflow || !this.isReceiving()) return undefined;
    return this.lookUpAtStart(ref);
  }

  private async lookUpAtStart(ref: JobRef): Promise<void> {
    const generation = this.pending.beginRead();
    const request = await this.db(() => selectOpenForJob(this.pool, this.names, ref));
    if (request !== undefined && this.isReceiving()) this.pending.applySome(generation, [request.id], [request]);
  }

  private onNotification(channel: string, payload: string): void {
    if (this.closing !== undefined) return;
    // The payload is only ever a request id; the row is read before anything is done, so a forged NOTIFY kills nothing.
    if (!REQUEST_ID.test(payload)) {
      this.options.logger.debug('ignored a NOTIFY whose payload is not a request id', {
        channel,
        payload: payload.slice(0, 80),
      });
      return;
    }
    if (channel === this.names.forceChannel) {
      if (this.isReceiving()) void this.lookUpForce(payload);
      return;
    }
    const isRequest = channel === this.names.requestChannel;
    if (isRequest ? !this.isReceiving() : !this.pending.has(payload) && !this.waiters.has(payload)) return;
    if (this.batch === undefined) {
      this.batch = { requests: new Set(), resolved: new Set() };
      // pg emits every notification of one network read synchronously: one lookup serves them all.
      queueMicrotask(() => {
        void this.lookUp();
      });
    }
    (isRequest ? this.batch.requests : this.batch.resolved).add(payload);
  }

  /**
   * A hard stop asked for under a request: applied only if the row is an open
   * kill request, so a forged NOTIFY can at most cut short the grace period
   * of a job someone allowed to terminate it already asked to stop. Never rejects.
   */
  private async lookUpForce(id: string): Promise<void> {
    try {
      const [row] = await this.db(() => selectByIds(this.pool, this.names, [id]));
      if (row !== undefined && row.status !== 'resolved' && !row.expired && this.isReceiving()) {
        this.receiver?.onForce?.(row);
      }
    } catch (error) {
      this.options.logger.debug('lookup after a force NOTIFY failed', { error });
    }
  }

  /** Reads the rows the last notifications named and applies them. Never rejects. */
  private async lookUp(): Promise<void> {
    const batch = this.batch;
    this.batch = undefined;
    if (batch === undefined) return;
    const ids = [...new Set([...batch.requests, ...batch.resolved])];
    const generation = this.pending.beginRead();
    let rows: StoredKillRequest[];
    try {
      // On the LISTEN connection when it is up: no pool checkout, and the user's pool may be busy.
      const connection = this.listener.connection;
      rows = await this.db(() =>
        connection === undefined
          ? selectByIds(this.pool, this.names, ids)
          : selectByIds(connection, this.names, ids, true),
      );
    } catch (error) {
      // Polling picks up what this lookup missed.
      this.options.logger.debug('lookup after NOTIFY failed', { error });
      return;
    }
    if (this.closing !== undefined) return;
    const found = new Set(rows.map((row) => row.id));
    const unknown = ids.filter((id) => !found.has(id));
    if (unknown.length > 0) this.options.logger.debug('ignored a NOTIFY naming no stored request', { ids: unknown });
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
    const rows = await this.db(() => selectByIds(this.pool, this.names, ids));
    for (const row of rows) if (row.outcome !== undefined) this.settleWaiters(row.id, row.outcome);
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

  /** Runs a periodic task, reporting the first failure of a streak and the recovery, not every retry. */
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

/** Creates a PostgreSQL kill store; pass it to `createTerminator({ store })`. */
export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  return new PostgresStore(options);
}

function checkRequestId(value: unknown): void {
  if (typeof value !== 'string' || !REQUEST_ID.test(value)) throw expected('requestId', 'a request id (a UUID)', value);
}

/** The LISTEN client's settings: the user's pool's own (password included, which pg-pool hides from enumeration). */
function listenConfig(
  pool: pg.Pool | undefined,
  connectionString: string | undefined,
  timeout: number,
): pg.ClientConfig {
  const base: pg.ClientConfig = pool === undefined ? { connectionString } : { ...(pool.options as pg.ClientConfig) };
  const password = (pool?.options as { password?: pg.ClientConfig['password'] } | undefined)?.password;
  if (password !== undefined) base.password = password;
  return {
    ...base,
    application_name: LISTEN_APPLICATION_NAME,
    keepAlive: true,
    connectionTimeoutMillis: base.connectionTimeoutMillis ?? timeout,
  };
}
