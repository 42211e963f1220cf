import type { TerminationToken } from '../../core/token.js';

/**
 * The parts of a pg-boss 12 job that jobterm reads. Structural, so this
 * subpath never loads pg-boss (ESM-only) and its types stay valid from the
 * CommonJS build; pg-boss's own `Job` and `JobWithMetadata` fit it.
 */
export interface PgBossJob {
  id: string;
  name: string;
  data: unknown;
  /** The attempt pg-boss claimed; its settles are fenced on it (pg-boss 12.x, the "attempt fence"). */
  retryCount: number;
  expireInSeconds: number;
  /** pg-boss's per-job signal: aborts on expiry, at the end of `stop()`'s grace, and on a lost claim. */
  signal: AbortSignal;
}

/**
 * A job as a wrapped handler sees it: pg-boss's job, with `signal` replaced by
 * the termination token's signal (which pg-boss's own signal is forwarded
 * into) and the token beside it.
 */
export type JobWithToken<J extends PgBossJob = PgBossJob> = J & {
  /** Aborts on a kill, a shutdown, pg-boss's expiry or stop(), with a `JobTerminatedError` as its reason. */
  readonly signal: AbortSignal;
  readonly token: TerminationToken;
};

/** pg-boss's per-job result for `perJobResults` workers. */
export interface PgBossJobResult {
  id: string;
  status: 'completed' | 'failed' | 'deadletter';
  output?: unknown;
}

/** What `getDb()` returns: pg-boss's own pool, used for jobterm's few private writes. */
export interface PgBossDb {
  executeSql(text: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
}

/**
 * The methods of a `PgBoss` instance that jobterm calls, all public in pg-boss
 * 12. Pass your `PgBoss` itself.
 */
export interface PgBossLike {
  cancel(name: string, id: string): Promise<unknown>;
  fail(name: string, id: { id: string; retryCount: number }, data?: object): Promise<unknown>;
  findJobs(name: string, options: { id: string }): Promise<Array<{ state: string }>>;
  offWork(name: string, options?: { wait?: boolean }): Promise<void>;
  stop(options?: { graceful?: boolean; timeout?: number; close?: boolean }): Promise<void>;
  getWipData(): Array<{ id?: string; name: string; state: string; options?: { perJobResults?: boolean } }>;
  getDb(): PgBossDb;
}
