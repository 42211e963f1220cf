import type { WithPgClient } from 'graphile-worker';
import { retryWhileUnreachable } from '../../core/queue-write.js';
import type { GraphileSql } from './sql.js';

/** One interrupted job of a stopped pool, waiting to go back into the queue. */
export interface PutBackEntry {
  readonly id: string;
  /** The job's new `last_error` (`Interrupted: ...`). */
  readonly message: string;
  /** ms before it may run again, rounded; 0: at once. */
  readonly delay: number;
}

/** The pool whose jobs a batch puts back: its id (graphile's `locked_by`), its client, its schema's statements. */
export interface PutBackPool {
  readonly poolId: string;
  readonly withPgClient: WithPgClient;
  readonly sql: GraphileSql;
}

/**
 * The batch being collected for each pool, from its first put-back until it
 * is written (then removed: a pool that stopped leaves nothing here). Keyed
 * by schema and pool id: every job a pool claimed carries the pool's id as
 * `locked_by`, and its `helpers.withPgClient` is the pool's one (graphile-worker
 * 0.18 makes it once per pool, `makeWorkerShared`), so a batch's entries share
 * the fence and the client.
 */
const collecting = new Map<string, PutBackBatch>();

/**
 * Put-backs of one pool that arrive within one turn of the event loop,
 * written in one statement. A shutdown fires every job's token in one
 * synchronous loop, and jobs that stop on their signal settle within the
 * microtasks that follow: so the 1,000 interrupted jobs of a pool at
 * concurrency 1,000 become one `UPDATE`, not 1,000.
 *
 * Private tables and columns (graphile-worker 0.18, migration 000020), as the
 * single-job `putBack` writes them, because graphile has no public way to put
 * a locked job back without spending its attempt:
 * - `_private_jobs.attempts` (`greatest(0, attempts - 1)`: graphile counted
 *   the attempt when it claimed the job), `run_at` (due at once, keeping its
 *   place, or after the retry delay), `last_error`, `updated_at`, and
 *   `locked_at`/`locked_by` (released now, not after the 4-hour stale lock),
 *   each only where `locked_by` is still this pool's id;
 * - `_private_job_queues.locked_at`/`locked_by` of the job's named queue,
 *   only where this pool holds it, as graphile's own `completeJobs` and
 *   `failJobs` release it.
 *
 * Invariant: each entry ends exactly as the single statement would have left
 * it (`putBackMany`: the same expressions, the same fences, per row). A retry
 * after a commit whose answer was lost matches nothing: the rows it wrote no
 * longer have `locked_by` = this pool, and the pool, stopped, claims no job
 * again. A lone entry is answered `false` at once (no statement): the caller
 * writes it with the single statement, which keeps its own tests.
 */
export class PutBackBatch {
  private readonly pending: Array<{
    entry: PutBackEntry;
    answer: (batched: boolean) => void;
    fail: (error: unknown) => void;
  }> = [];

  private constructor(
    private readonly pool: PutBackPool,
    private readonly key: string,
  ) {}

  /**
   * Adds a put-back to `pool`'s batch of this turn. Resolves true once the
   * batch wrote it, false when it came alone (write it with `sql.putBack`);
   * rejects with the batch statement's error.
   */
  static add(pool: PutBackPool, entry: PutBackEntry): Promise<boolean> {
    const key = `${pool.sql.schema}\0${pool.poolId}`;
    let batch = collecting.get(key);
    if (batch === undefined) {
      batch = new PutBackBatch(pool, key);
      collecting.set(key, batch);
      // setImmediate: after every microtask of this turn, so the whole shutdown's settles are in.
      setImmediate(() => void batch!.flush());
    }
    const joined = batch;
    return new Promise((answer, fail) => {
      joined.pending.push({ entry, answer, fail });
    });
  }

  private async flush(): Promise<void> {
    // Later put-backs of this pool start a batch of their own.
    collecting.delete(this.key);
    const batch = this.pending;
    if (batch.length === 1) {
      batch[0]!.answer(false);
      return;
    }
    // The first put-back of an id wins, as with single statements one after
    // another: the second would find the row unlocked and write nothing.
    const ids: string[] = [];
    const messages: string[] = [];
    const delays: number[] = [];
    const seen = new Set<string>();
    for (const { entry } of batch) {
      if (seen.has(entry.id)) continue;
      seen.add(entry.id);
      ids.push(entry.id);
      messages.push(entry.message);
      delays.push(entry.delay);
    }
    const { sql, withPgClient, poolId } = this.pool;
    try {
      await retryWhileUnreachable(() =>
        withPgClient((client) => client.query(sql.putBackMany, [ids, messages, delays, poolId])),
      );
      for (const { answer } of batch) answer(true);
    } catch (error) {
      for (const { fail } of batch) fail(error);
    }
  }
}
