import type { WorkerPool } from 'graphile-worker';
import type { Terminator } from '../../terminator/terminator.js';
import type { GraphileSql } from './sql.js';
import type { WrapContext } from './wrap.js';

/**
 * Every pool a jobterm plugin joined in this process, by graphile's pool id
 * (the `locked_by` of the jobs it claims), so any wrapped task, the plugin's
 * or `wrapTaskList()`'s, finds the pool that claimed its job.
 */
const links = new Map<string, PoolLink>();

/** The link of the pool that claimed a job (`helpers.job.locked_by`), if a plugin joined it. */
export function linkedPool(poolId: string): PoolLink | undefined {
  return links.get(poolId);
}

/**
 * The ids of the pools joined to `terminator` in this process, for its
 * presence record: in graphile-worker 0.18 a job's `locked_by` is its pool's
 * id, the id `force_unlock_workers()` takes. Long-lived pools only: a
 * `runOnce()` pool ends by itself.
 */
export function poolIdsOf(terminator: Terminator): string[] {
  const ids: string[] = [];
  for (const link of links.values()) if (link.terminator === terminator && !link.oneTime) ids.push(link.pool.id);
  return ids;
}

/**
 * One graphile-worker pool joined to a terminator's shutdown. When a
 * shutdown starts, the pool stops fetching (graphile's own
 * `gracefulShutdown()`, which also returns its local queue's unstarted jobs);
 * the shutdown then waits for that graceful shutdown, which flushes graphile's
 * batched complete/fail writes, so no row is left locked when the process
 * exits. Forgotten when the pool ends.
 */
export class PoolLink {
  /** The statements for the pool's schema, set when its first worker starts. */
  sql: GraphileSql | undefined;
  /** Removes the adapter the plugin registered for this pool. */
  removeAdapter: (() => void) | undefined;
  /** The plugin's terminator and options, which the plugin's wrapped tasks run this pool's jobs under. */
  context: WrapContext | undefined;
  /** Gives back a task list the pool borrowed (see borrowed-tasks.ts), restoring the caller's functions. */
  giveBackTasks: (() => void) | undefined;
  private running = 0;
  /** The pool's workers that started and have not stopped yet. */
  private readonly workers = new Set<string>();
  private idleWaiters: Array<() => void> = [];
  private graceful: Promise<void> | undefined;
  private stoppedByJobterm = false;
  private readonly removeParticipant: () => void;

  /** The pool's link, made (and joined to `terminator`'s shutdown) on first use. */
  static of(pool: WorkerPool, terminator: Terminator): PoolLink {
    return links.get(pool.id) ?? new PoolLink(pool, terminator);
  }

  private constructor(
    readonly pool: WorkerPool,
    readonly terminator: Terminator,
  ) {
    links.set(pool.id, this);
    this.removeParticipant = terminator.addShutdownParticipant({
      beforeJobs: () => this.stopFetching('jobterm: worker shutting down'),
      afterJobs: () => this.graceful,
    });
    const forget = () => {
      this.removeParticipant();
      this.removeAdapter?.();
      this.removeAdapter = undefined;
      this.giveBackTasks?.();
      this.giveBackTasks = undefined;
      if (links.get(pool.id) === this) links.delete(pool.id);
    };
    pool.promise.then(forget, forget);
  }

  /**
   * False once graphile deactivated the pool: no new job can be claimed by
   * it, so an interrupted job can be unlocked at once without this pool
   * claiming it again before graphile's own fail write (graphile-worker 0.18
   * sets `_active = false` synchronously at the start of a shutdown).
   */
  get fetching(): boolean {
    return this.pool._active;
  }

  /** A `runOnce()` pool: it shuts down by itself once the queue is empty, which is no reason to stop the process. */
  get oneTime(): boolean {
    return this.pool.id.startsWith('otpool-');
  }

  /** Whether the pool's shutdown was started by jobterm (not by `runner.stop()` or graphile itself). */
  get stoppingByJobterm(): boolean {
    return this.stoppedByJobterm;
  }

  stopFetching(message: string): void {
    if (this.pool._shuttingDown || this.pool._forcefulShuttingDown) return;
    this.stoppedByJobterm = true;
    this.watchGraceful(this.pool.gracefulShutdown(message));
  }

  /**
   * Keeps graphile's graceful shutdown for `afterJobs`. Its errors are
   * graphile's to report (it logs them and rejects the pool's promise); a
   * shutdown only needs to know it is over.
   */
  watchGraceful(graceful: unknown): void {
    this.graceful ??= Promise.resolve(graceful).then(
      () => undefined,
      () => undefined,
    );
  }

  workerStarted(workerId: string): void {
    this.workers.add(workerId);
  }

  /** When the pool's last started worker stops, it gives back the task list it borrowed. */
  workerStopped(workerId: string): void {
    this.workers.delete(workerId);
    if (this.workers.size > 0) return;
    this.giveBackTasks?.();
    this.giveBackTasks = undefined;
  }

  /** A job of this pool entered jobterm's wrapper; `jobEnded()` must follow once. */
  jobStarted(): void {
    this.running++;
  }

  /** The job's task is about to return to graphile. */
  jobEnded(): void {
    this.running--;
    if (this.running === 0 && this.idleWaiters.length > 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /** Resolves when no job of this pool is inside jobterm's wrapper, or after `timeout` ms. */
  idle(timeout: number): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const index = this.idleWaiters.indexOf(wake);
        if (index !== -1) this.idleWaiters.splice(index, 1);
        resolve();
      }, timeout);
      timer.unref();
      this.idleWaiters.push(wake);
    });
  }
}
