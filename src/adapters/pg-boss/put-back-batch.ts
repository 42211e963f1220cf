import { retryWhileUnreachable } from '../../core/queue-write.js';
import { notifyChannelSchema, putBackManySql, UNIQUE_VIOLATION } from './sql.js';
import type { PgBossLike } from './types.js';

/** One interrupted job waiting to go back into its queue. */
export interface PutBackEntry {
  readonly name: string;
  readonly id: string;
  /** The attempt fence: the `retry_count` of the attempt being put back. */
  readonly retryCount: number;
  readonly output: object;
  /** ms before it may run again; 0: at once. */
  readonly delay: number;
}

/**
 * Put-backs that arrive within one turn of the event loop, written in one
 * statement. A shutdown fires every job's token in one synchronous loop, and
 * jobs that stop on their signal settle within the microtasks that follow:
 * so 1,000 interrupted jobs of a shutdown become one `UPDATE`, not 1,000.
 *
 * Invariant: each entry's answer (put back or not) is exactly what the
 * single-job statement would have answered: the batch statement has the same
 * state and attempt fences per row (`putBackManySql`). When the batch cannot
 * be written as a whole (a `short`/`stately` queue refuses one of its rows
 * with a unique violation), every entry of it is answered `undefined`, and
 * the caller writes it alone, as before batching.
 *
 * A lone entry is answered `undefined` at once (no statement): the
 * single-job statement is the batch of one, and keeps its own tests.
 */
export class PutBackBatch {
  private pending: Array<{
    entry: PutBackEntry;
    answer: (putBack: boolean | undefined) => void;
    fail: (error: unknown) => void;
  }> = [];
  private scheduled = false;

  constructor(
    private readonly boss: PgBossLike,
    private readonly schema: string,
  ) {}

  /** Resolves true (put back), false (the job left this attempt already), or undefined (write it alone). */
  add(entry: PutBackEntry): Promise<boolean | undefined> {
    return new Promise((answer, fail) => {
      this.pending.push({ entry, answer, fail });
      if (this.scheduled) return;
      this.scheduled = true;
      // setImmediate: after every microtask of this turn, so the whole shutdown's settles are in.
      setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    if (batch.length === 1) {
      batch[0]!.answer(undefined);
      return;
    }
    try {
      const entries = batch.map(({ entry }) => entry);
      const { rows } = await retryWhileUnreachable(() =>
        this.boss
          .getDb()
          .executeSql(putBackManySql(this.schema), [
            entries.map((e) => e.name),
            entries.map((e) => e.id),
            entries.map((e) => e.retryCount),
            entries.map((e) => JSON.stringify(e.output)),
            notifyChannelSchema(this.schema),
            entries.map((e) => Math.max(0, Math.round(e.delay))),
          ]),
      );
      const back = new Set((rows as Array<{ id: string }>).map((row) => row.id));
      for (const { entry, answer } of batch) answer(back.has(entry.id));
    } catch (error) {
      if ((error as { code?: unknown })?.code === UNIQUE_VIOLATION) {
        for (const { answer } of batch) answer(undefined);
      } else {
        for (const { fail } of batch) fail(error);
      }
    }
  }
}
