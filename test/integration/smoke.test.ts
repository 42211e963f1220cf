import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

describe('test database', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  it('is reachable, writable and its own', async () => {
    const [row] = await db.query<{ db: string; version: string }>('select current_database() as db, version()');
    expect(row?.db).toBe(db.name);
    expect(row?.version).toMatch(/^PostgreSQL \d+/);
    await db.query('create table t (id int primary key)');
    await db.query('insert into t values (1), (2)');
    expect(await db.query('select count(*)::int as n from t')).toEqual([{ n: 2 }]);
  });
});
