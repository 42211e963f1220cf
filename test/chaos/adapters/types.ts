// What the chaos suite needs from each queue. One module per queue
// (graphile-worker.ts, pg-boss.ts; BullMQ adds bullmq.ts and an entry in
// index.ts): the controller half enqueues, reads final states and recovers a
// dead worker's jobs; the worker half runs a worker in its own process.
import type pg from 'pg';
import type { QueueAdapter } from '../../../src/core/adapter.js';
import type { JobRef } from '../../../src/core/job-ref.js';
import type { Terminator } from '../../../src/terminator/terminator.js';
import type { ChaosPayload } from '../jobs.js';

/** How a job stands in the queue's own storage at the end. */
export type QueueState = 'completed' | 'terminated' | 'failed' | 'queued' | 'active';

export interface FinalState {
  readonly state: QueueState;
  /** A row still locked by a worker (graphile-worker's `locked_at`); pg-boss has no lock apart from `active`. */
  readonly locked: boolean;
  /** The queue's own words, for failure messages. */
  readonly detail: string;
}

/** What a worker process reports about itself once ready (and the controller keeps). */
export interface WorkerInfo {
  readonly pid: number;
  /** graphile-worker: the ids its pool's workers lock jobs with. */
  readonly lockIds: readonly string[];
}

export interface ChaosQueue {
  readonly name: string;
  /** Controller: install the queue's schema and the queue in a fresh database. */
  prepare(url: string): Promise<void>;
  /** Controller: enqueue jobs, in order; resolves to their queue ids. */
  enqueue(payloads: readonly ChaosPayload[]): Promise<string[]>;
  ref(id: string): JobRef;
  /** Controller: the adapter its requesting terminator needs (built-in queues must have theirs). */
  requesterAdapter(url: string): QueueAdapter & { close?(): Promise<void> };
  /** Controller: how every job stands now, by queue id. A job the queue no longer holds is `completed`. */
  finalStates(pool: pg.Pool, ids: readonly string[]): Promise<Map<string, FinalState>>;
  /**
   * Controller, after a worker died by SIGKILL: what the queue's user must do
   * so its jobs run again. Resolves to how many jobs it released.
   */
  recoverDeadWorker(pool: pg.Pool, worker: WorkerInfo): Promise<number>;
  /** Controller: rows still locked by a worker that exited cleanly (must be none). */
  lockedBy(pool: pg.Pool, worker: WorkerInfo): Promise<string[]>;
  close(): Promise<void>;
}

export interface WorkerContext {
  readonly url: string;
  readonly terminator: Terminator;
  readonly concurrency: number;
  /** Runs one job body (jobs.ts) for the queue's job id. */
  readonly runJob: (payload: ChaosPayload, jobId: string) => Promise<unknown>;
  /** Reports something on stdout for the controller. */
  readonly report: (event: string, data?: Record<string, unknown>) => void;
}

/** Worker side: starts the queue's worker with jobterm; resolves to the lock ids it uses. */
export type StartWorker = (context: WorkerContext) => Promise<readonly string[]>;
