import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { postgresStore } from '../../../src/stores/postgres/index.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';

describe('postgresStore().progress: iterate()’s cursors', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  it('saves, overwrites, loads and clears a JSON cursor per job, keyed by queue, name and id', async () => {
    const store = postgresStore({ connectionString: db.url, logger: silentLogger });
    const a = { queue: 'pg-boss', name: 'backfill', id: '1' };
    const b = { queue: 'pg-boss', name: 'other', id: '1' };
    expect(await store.progress.load(a)).toBeUndefined();
    await store.progress.save(a, { table: 'users', after: 41 });
    await store.progress.save(a, { table: 'users', after: 42 });
    await store.progress.save(b, 'x');
    expect(await store.progress.load(a)).toEqual({ table: 'users', after: 42 });
    expect(await store.progress.load(b)).toBe('x');
    expect(
      await db.query('select queue, queue_name, job_id, cursor, saves from jobterm.progress order by queue_name'),
    ).toEqual([
      { queue: 'pg-boss', queue_name: 'backfill', job_id: '1', cursor: { table: 'users', after: 42 }, saves: 2 },
      { queue: 'pg-boss', queue_name: 'other', job_id: '1', cursor: 'x', saves: 1 },
    ]);
    await store.progress.clear(a);
    expect(await store.progress.load(a)).toBeUndefined();
    expect(await db.query('select count(*)::int as n from jobterm.progress')).toEqual([{ n: 1 }]);
    await expect(store.progress.save({ queue: '', id: '1' }, 1)).rejects.toThrow(TypeError);
    await store.close();
  });
});
