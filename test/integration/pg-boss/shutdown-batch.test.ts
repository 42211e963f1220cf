// A shutdown with many running jobs on one pg-boss worker: every job goes
// back into the queue with its attempt refunded, and the put-backs are one
// statement for the whole batch, not one per job (src/adapters/pg-boss/put-back-batch.ts).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pgBossShutdownRoundTrips } from '../../fixtures/round-trips.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('jobterm_pgboss_shutdown');
});
afterAll(() => db?.drop());

it('shutdown() with 200 running jobs puts them all back in one statement', async () => {
  const result = await pgBossShutdownRoundTrips(db.url, { jobs: 200, queue: 'many' });
  console.log(
    `shutdown of ${result.jobs} running jobs: ${result.statements} statements (${result.putBacks} put-back) in ${(result.seconds * 1000).toFixed(0)} ms`,
  );
  expect(result.backInQueue).toBe(200);
  expect(result.putBacks).toBe(1);
}, 60_000);
