import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { QueueAdapter } from './adapter.js';
import { checkKnownKeys, expected } from './errors.js';
import type { TerminatorEvents } from './events.js';
import type { FleetQueue } from './fleet.js';
import { formatRef, refKey } from './job-ref.js';
import type { Logger } from './logger.js';
import type { RunningJobInfo } from './outcome.js';
import {
  type DeadWorker,
  PRESENCE_DEFAULTS,
  type PresenceJob,
  type PresenceRecord,
  type PresenceStore,
} from './presence.js';
import type { TerminationReason } from './reason.js';
import type { KillStore } from './store.js';
import { JOBTERM_VERSION } from './version.js';

/** `createTerminator({ presence })`: how this worker shows itself to the fleet. */
export interface PresenceOptions {
  /**
   * ms between heartbeats. Each is one statement; it carries the list of
   * running jobs, so `fleet()` is at most this stale about which jobs run
   * (kill states are current). @default 5_000
   */
  heartbeatInterval?: number;
  /**
   * A worker whose last heartbeat is older than this many intervals is dead.
   * Larger tolerates longer event-loop stalls (a blocked loop cannot
   * heartbeat) but rescues later. At least 2. @default 4
   */
  deadAfterBeats?: number;
  /**
   * Hand dead workers' jobs back to their queue at once (graphile-worker:
   * `force_unlock_workers`, instead of its 4-hour stale lock). Turn off to
   * leave recovery to the queue. @default true
   */
  rescue?: boolean;
}

export interface ResolvedPresenceOptions {
  readonly heartbeatInterval: number;
  readonly deadAfter: number;
  readonly rescue: boolean;
}

const PRESENCE_KEYS = ['heartbeatInterval', 'deadAfterBeats', 'rescue'];

export function resolvePresenceOptions(options: PresenceOptions | false | undefined): ResolvedPresenceOptions | false {
  if (options === false) return false;
  const given = options ?? {};
  if (typeof given !== 'object' || given === null) throw expected('presence', 'false or an object', options);
  checkKnownKeys('presence', given, PRESENCE_KEYS);
  const heartbeatInterval = given.heartbeatInterval ?? PRESENCE_DEFAULTS.heartbeatInterval;
  // Not options.ts's milliseconds(): options.ts imports this file.
  if (
    typeof heartbeatInterval !== 'number' ||
    !Number.isFinite(heartbeatInterval) ||
    heartbeatInterval < 10 ||
    heartbeatInterval > 3_600_000
  ) {
    throw expected('presence.heartbeatInterval', 'a number of milliseconds from 10 to 3600000', heartbeatInterval);
  }
  const beats = given.deadAfterBeats ?? PRESENCE_DEFAULTS.deadAfterBeats;
  if (typeof beats !== 'number' || !Number.isFinite(beats) || beats < 2 || beats > 1_000) {
    throw expected('presence.deadAfterBeats', 'a number from 2 to 1000', beats);
  }
  const rescue = given.rescue ?? PRESENCE_DEFAULTS.rescue;
  if (typeof rescue !== 'boolean') throw expected('presence.rescue', 'a boolean', rescue);
  return { heartbeatInterval, deadAfter: Math.round(heartbeatInterval * beats), rescue };
}

/** What the heartbeat reads from the terminator that owns it. */
export interface HeartbeatHost {
  readonly workerId: string;
  readonly logger: Logger;
  running(): RunningJobInfo[];
  adapters(): Iterable<QueueAdapter>;
  emit<K extends keyof TerminatorEvents>(event: K, payload: TerminatorEvents[K]): void;
}

/** How long `stop()` waits for the last beat and the deregistration. */
const STOP_WAIT = 2_000;

/** Dead workers claimed per heartbeat, at most: a fleet-wide crash is rescued over a few beats, not in one burst. */
const CLAIM_LIMIT = 10;

/**
 * This process's presence in the store: one statement per interval (the
 * running jobs ride along, so a job's start or end costs no round trip of
 * its own), a sweep for dead workers after each beat, a deregistration on
 * stop. Runs never stack (the next beat is scheduled when one ends) and the
 * timer is unref'd: presence never keeps a process alive. `stop()` is safe
 * to call twice.
 *
 * The record's secret exists only in this object: the database refuses a
 * refresh or a removal without it (migration 4), so no other process can
 * keep this worker looking alive, or make it look dead, except a rescue
 * that finds its last heartbeat older than its own `deadAfter`.
 */
export class Heartbeat {
  readonly instanceId = randomUUID();
  private readonly secret = randomBytes(32).toString('hex');
  private readonly startedAt = new Date();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private started = false;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private registered = false;
  private failing = false;

  constructor(
    private readonly store: PresenceStore & KillStore,
    readonly options: ResolvedPresenceOptions,
    private readonly host: HeartbeatHost,
  ) {}

  /** Starts beating (the first beat at once). Idempotent; a no-op after `stop()`. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.schedule(0);
  }

  /** Records on the kill request that the job ignored its token (fleet() shows `escalated`). */
  escalated(reason: TerminationReason): void {
    if (reason.kind !== 'kill' || reason.requestId === undefined) return;
    this.store
      .markEscalated(reason.requestId, this.host.workerId)
      .catch((error: unknown) => this.host.emit('error', { error, during: 'store' }));
  }

  /**
   * Stops beating and removes this worker's record, waiting at most
   * `STOP_WAIT` ms: a shutdown must not hang on an unreachable database (the
   * record then goes dead and a rescue removes it). Safe to call twice.
   */
  stop(): Promise<void> {
    if (this.stopping !== undefined) return this.stopping;
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, STOP_WAIT);
      timer.unref();
    });
    this.stopping = Promise.race([this.leave(), gaveUp]).finally(() => clearTimeout(timer));
    return this.stopping;
  }

  private async leave(): Promise<void> {
    await this.running;
    if (!this.registered) return;
    try {
      await this.store.deregister(this.instanceId, this.secret);
    } catch (error) {
      // Not fatal: the record goes dead after deadAfter, and a rescue removes it.
      this.host.logger.warn('could not remove this worker from the fleet', { error });
    }
  }

  /** The record one beat writes; exported for tests and benchmarks through `Terminator`. */
  record(): PresenceRecord {
    const queues: FleetQueue[] = [];
    for (const adapter of this.host.adapters()) {
      const queue = adapter.describeWorker?.();
      if (queue !== undefined) queues.push(queue);
    }
    return {
      instanceId: this.instanceId,
      workerId: this.host.workerId,
      host: hostname(),
      pid: process.pid,
      queues,
      versions: { jobterm: JOBTERM_VERSION, node: process.versions.node },
      startedAt: this.startedAt,
      heartbeatInterval: this.options.heartbeatInterval,
      deadAfter: this.options.deadAfter,
      jobs: this.host.running().map(presenceJob),
    };
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const began = Date.now();
      this.running = this.beat().finally(() => {
        this.running = undefined;
        // Fixed rate while beats are quick; a slow store never stacks them.
        this.schedule(Math.max(0, this.options.heartbeatInterval - (Date.now() - began)));
      });
    }, delay);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    try {
      const result = await this.store.heartbeat(this.record(), this.secret);
      if (result === 'created' && this.registered) {
        this.host.logger.error(
          'this worker was declared dead (no heartbeat within its dead threshold) and its jobs were handed back to the queue; it joined the fleet again',
          { workerId: this.host.workerId, instanceId: this.instanceId },
        );
      } else if (result === 'refused') {
        this.host.logger.warn('a rescue is handing this worker’s jobs back: it was declared dead', {
          workerId: this.host.workerId,
        });
      }
      this.registered = true;
      if (this.failing) this.host.logger.info('heartbeat recovered');
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.host.emit('error', { error, during: 'store' });
      this.failing = true;
      return;
    }
    if (this.options.rescue && !this.stopped) await this.sweep();
  }

  /** Claims dead workers this process can rescue and hands their jobs back. Never rejects. */
  private async sweep(): Promise<void> {
    const rescuers = new Map<string, QueueAdapter>();
    for (const adapter of this.host.adapters()) if (adapter.rescue !== undefined) rescuers.set(adapter.queue, adapter);
    let dead: DeadWorker[];
    try {
      dead = await this.store.claimDead(this.host.workerId, {
        // Long enough for a rescue to finish; a rescuer that dies mid-way is replaced after it.
        lease: Math.max(30_000, this.options.deadAfter),
        limit: CLAIM_LIMIT,
        queues: [...rescuers.keys()],
      });
    } catch (error) {
      this.host.emit('error', { error, during: 'store' });
      return;
    }
    for (const worker of dead) await this.rescue(worker, rescuers);
  }

  private async rescue(worker: DeadWorker, rescuers: Map<string, QueueAdapter>): Promise<void> {
    try {
      const kills = await this.store.openKillsFor(worker.jobs.map((job) => job.ref));
      const requeued: PresenceJob['ref'][] = [];
      const terminated: PresenceJob['ref'][] = [];
      for (const queue of worker.queues) {
        const adapter = rescuers.get(queue.queue);
        if (adapter?.rescue === undefined) continue;
        const jobs = worker.jobs.filter((job) => job.ref.queue === queue.queue);
        const result = await adapter.rescue({
          worker,
          queue,
          jobs,
          kills: kills.filter((kill) => kill.ref.queue === queue.queue),
        });
        requeued.push(...result.requeued);
        terminated.push(...result.terminated);
      }
      const ended = new Set(terminated.map(refKey));
      for (const kill of kills) {
        if (ended.has(refKey(kill.ref))) await this.store.resolve(kill.id, 'terminated', this.host.workerId);
      }
      await this.store.completeRescue(worker.instanceId, this.host.workerId);
      this.host.logger.warn('rescued a dead worker’s jobs', {
        deadWorker: worker.workerId,
        instanceId: worker.instanceId,
        lastSeenAt: worker.lastSeenAt.toISOString(),
        requeued: requeued.map(formatRef),
        terminated: terminated.map(formatRef),
      });
      this.host.emit('worker:rescued', {
        workerId: worker.workerId,
        instanceId: worker.instanceId,
        host: worker.host,
        pid: worker.pid,
        lastSeenAt: worker.lastSeenAt,
        requeued,
        terminated,
      });
    } catch (error) {
      // The claim's lease runs out and another worker (or this one) tries again.
      this.host.emit('error', { error, during: 'store' });
    }
  }
}

function presenceJob(info: RunningJobInfo): PresenceJob {
  const details = info.details;
  const job: { -readonly [K in keyof PresenceJob]: PresenceJob[K] } = { ref: info.ref, startedAt: info.startedAt };
  if (details?.task !== undefined) job.task = details.task;
  if (details?.attempt !== undefined) job.attempt = details.attempt;
  if (details?.isolated !== undefined) job.isolated = details.isolated;
  if (details?.queueWorkerId !== undefined) job.queueWorkerId = details.queueWorkerId;
  if (info.reason !== undefined) job.termination = { kind: info.reason.kind, message: info.reason.message };
  return job;
}
