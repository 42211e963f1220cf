import { checkKnownKeys, expected } from './errors.js';
import type { JobRef } from './job-ref.js';
import type { JsonValue } from './progress.js';

/**
 * The fleet as any process sees it: live worker processes (terminators that
 * run jobs) and the jobs each one runs, read from the store's presence
 * records. This file is the contract between the stores that keep presence
 * (PostgreSQL, Redis), `terminator.fleet()`, the CLI and `jobterm/http`.
 */

/** Where a running job stands with respect to termination. */
export type FleetTerminationState = 'none' | 'requested' | 'signalled' | 'escalated';

/** One running job, as its worker last reported it (fresh within one heartbeat). */
export interface FleetJob {
  readonly ref: JobRef;
  /** The worker that runs it. */
  readonly workerId: string;
  /** The task identifier (graphile-worker) or queue name (pg-boss, BullMQ), when known. */
  readonly task?: string;
  readonly startedAt: Date;
  /** 1 for the first attempt, when the queue tells. */
  readonly attempt?: number;
  /** The queue-side id of the worker that claimed it (graphile-worker's pool id, `locked_by`), when known. */
  readonly queueWorkerId?: string;
  /** How the job runs when it is isolated. */
  readonly isolated?: 'thread' | 'process';
  /** The last cursor an `iterate()` job saved, if any. */
  readonly cursor?: JsonValue;
  readonly termination: {
    readonly state: FleetTerminationState;
    /** The open kill request, when there is one. */
    readonly requestId?: string;
    /** `kill`, `shutdown` or `timeout` once signalled. */
    readonly kind?: 'kill' | 'shutdown' | 'timeout';
    readonly message?: string;
    readonly requestedBy?: string;
    readonly requestedAt?: Date;
    readonly signalledAt?: Date;
    readonly escalatedAt?: Date;
  };
}

/** A queue a worker serves, with the queue's own ids for this worker (graphile pool/worker ids, pg-boss worker ids, BullMQ worker name). */
export interface FleetQueue {
  /** `'graphile-worker'`, `'pg-boss'`, `'bullmq'` or a user's own. */
  readonly queue: string;
  /** Queue names within it (pg-boss, BullMQ), when known. */
  readonly names?: readonly string[];
  /** The queue library's own identifiers for this worker. */
  readonly queueIds?: readonly string[];
}

/** One worker process, from its last heartbeat. */
export interface FleetWorker {
  readonly workerId: string;
  /** Unique per terminator instance (a restart with the same host and pid is a new one). */
  readonly instanceId?: string;
  readonly host: string;
  readonly pid: number;
  readonly queues: readonly FleetQueue[];
  readonly versions: { readonly jobterm: string; readonly node: string };
  readonly startedAt: Date;
  readonly lastSeenAt: Date;
  /** False once its heartbeat is older than the dead threshold (until a rescue removes it). */
  readonly alive: boolean;
  readonly jobs: readonly FleetJob[];
}

/** What `terminator.fleet()` answers. */
export interface FleetSnapshot {
  /** When the store was read. */
  readonly at: Date;
  /** The heartbeat interval in ms: how stale a worker's job list can be. */
  readonly heartbeatInterval: number;
  readonly workers: readonly FleetWorker[];
}

/** Filters for `terminator.fleet()`. */
export interface FleetOptions {
  /** Only workers that serve this queue system, and only its jobs. */
  readonly queue?: string;
  /** Only this worker (its `workerId` or `instanceId`). */
  readonly worker?: string;
  /** Include workers past the dead threshold. @default false */
  readonly includeDead?: boolean;
}

const FLEET_OPTION_KEYS = ['queue', 'worker', 'includeDead'];

export function checkFleetOptions(options: unknown): FleetOptions {
  if (typeof options !== 'object' || options === null) throw expected('fleet() options', 'an object', options);
  checkKnownKeys('fleet() options', options, FLEET_OPTION_KEYS);
  const { queue, worker, includeDead } = options as FleetOptions;
  if (queue !== undefined && (typeof queue !== 'string' || queue.length === 0)) {
    throw expected('queue', 'a non-empty string', queue);
  }
  if (worker !== undefined && (typeof worker !== 'string' || worker.length === 0)) {
    throw expected('worker', 'a non-empty string', worker);
  }
  if (includeDead !== undefined && typeof includeDead !== 'boolean') {
    throw expected('includeDead', 'a boolean', includeDead);
  }
  return {
    ...(queue === undefined ? {} : { queue }),
    ...(worker === undefined ? {} : { worker }),
    ...(includeDead === undefined ? {} : { includeDead }),
  };
}
