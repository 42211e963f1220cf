// The iterating job: a backfill over every row of `demo_rows`, in id order,
// that can stop between any two rows and resume after the last one it
// finished, on any worker. Each row's `visits` is incremented, so the demo can
// show at the end that no row was done twice and none was skipped.
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobHelpers } from 'graphile-worker';
import type { QueryResultRow } from 'pg';
import { iterate } from '../../../src/index.js';
import { report } from '../protocol.js';

export interface BackfillPayload {
  readonly total: number;
  /** Report progress every this many rows. */
  readonly every: number;
  /** Simulated work per row, so the backfill lasts long enough to be interrupted. */
  readonly msPerRow: number;
}

const PAGE = 250;

export async function backfill(payload: BackfillPayload, helpers: JobHelpers): Promise<void> {
  const id = helpers.job.id;
  const query = <R extends QueryResultRow>(sql: string, params: unknown[]) =>
    helpers.withPgClient((client) => client.query<R>(sql, params));

  await iterate<number, number>({
    // Keyset pagination after the cursor (the last finished row's id).
    async *source(cursor) {
      let after = cursor ?? 0;
      for (;;) {
        const { rows } = await query<{ id: number }>('select id from demo_rows where id > $1 order by id limit $2', [
          after,
          PAGE,
        ]);
        if (rows.length === 0) return;
        for (const row of rows) yield { item: row.id, cursor: row.id };
        after = rows.at(-1)!.id;
      }
    },
    async each(rowId) {
      await query('update demo_rows set visits = visits + 1 where id = $1', [rowId]);
      await sleep(payload.msPerRow);
      if (rowId % payload.every === 0) report('progress', { id, cursor: rowId, total: payload.total });
    },
    // Saved to jobterm.progress every 100 rows (what a crash could repeat) and always when stopping.
    saveEvery: { items: 100 },
    onStart: () => report('iterate-start', { id }),
    onResume: (cursor) => report('iterate-resume', { id, cursor }),
    onInterrupt: (cursor, reason) => report('iterate-stop', { id, cursor: cursor ?? null, kind: reason.kind }),
    onComplete: ({ processed, resumedFrom, cursor }) =>
      report('iterate-done', { id, processed, resumedFrom: resumedFrom ?? null, cursor: cursor ?? null }),
  });
}
