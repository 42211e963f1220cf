// The exactly-once check both iteration test files make on `processed`.
import type pg from 'pg';
import { expect } from 'vitest';
import { ITEM_COUNT } from '../../fixtures/iteration/backfill.js';
import { itemAfter, itemsBetween, type Tally, tally } from '../../fixtures/iteration/tally.js';

/**
 * Every item processed exactly once, none skipped, none invented, except
 * that the item in flight at an interruption (the first item after the
 * cursor that run saved) may have been done twice: it is bounded to those
 * items, twice each at most. `stops` are the saved cursors of the
 * interrupted runs, in order; the runs are checked one by one: run k did
 * exactly the items after the cursor run k-1 saved, up to its own.
 */
export async function expectEveryItemOnce(pool: pg.Pool, stops: readonly number[]): Promise<Tally> {
  const t = await tally(pool);
  expect(t.missing).toEqual([]);
  expect(t.strays).toBe(0);
  expect(t.distinct).toBe(ITEM_COUNT);
  const inFlight = new Set<number>();
  for (const cursor of stops) {
    const next = await itemAfter(pool, cursor);
    if (next !== undefined) inFlight.add(next);
  }
  for (const duplicate of t.duplicates) {
    expect(inFlight.has(duplicate.id), `id ${duplicate.id} was processed ${duplicate.times} times`).toBe(true);
    expect(duplicate.times).toBe(2);
  }
  expect(t.total).toBeLessThanOrEqual(ITEM_COUNT + stops.length);
  // This backfill's each() commits its row before iterate() moves past the
  // item, and iterate() stops only between items, so not even the in-flight
  // item repeats here: the bound above is the contract, this is the fact.
  expect(t.duplicates).toEqual([]);
  expect(t.total).toBe(ITEM_COUNT);

  // Run by run: each interrupted run ends exactly at the cursor it saved, and
  // the next starts with the item right after it.
  expect(t.runs).toHaveLength(stops.length + 1);
  let from: number | null = null;
  for (const [k, run] of t.runs.entries()) {
    const upTo = stops[k];
    if (from !== null) expect(run.firstId).toBe(await itemAfter(pool, from));
    if (upTo !== undefined) {
      expect(run.lastId).toBe(upTo);
      expect(run.count).toBe(await itemsBetween(pool, from, upTo));
      from = upTo;
    }
  }
  return t;
}
