// Database round trips per job on the completed path, with and without
// jobterm, on real pg-boss 12 and graphile-worker 0.18: the queue's own pools
// issue exactly as many statements with jobterm (handler or plugin, with the
// PostgreSQL store) as bare. The store's own statements (request polls,
// presence heartbeats) are counted apart: they follow the clock, not the jobs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphileRoundTrips, pgBossRoundTrips, type RoundTrips } from '../../fixtures/round-trips.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';

const JOBS = 200;

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('jobterm_roundtrips');
});
afterAll(() => db?.drop());

function describeRun(label: string, bare: RoundTrips, jobterm: RoundTrips): string {
  return `${label}: bare ${bare.queue} statements / ${bare.jobs} jobs, jobterm ${jobterm.queue} (clock-driven sweeps apart: bare ${bare.sweeps}, jobterm ${jobterm.sweeps}); store ${jobterm.store} in ${jobterm.seconds.toFixed(2)} s`;
}

describe('statements per job on the completed path', () => {
  // batchSize 1 is left out: pg-boss 12 waits its polling interval after every fetch there (burstWhenBatchFull needs batchSize > 1).
  for (const batchSize of [20, 100]) {
    it(`pg-boss batchSize ${batchSize}: jobterm's handler adds no statement to pg-boss's pool`, async () => {
      const bare = await pgBossRoundTrips(db.url, {
        jobterm: false,
        jobs: JOBS,
        batchSize,
        queue: `bare_${batchSize}`,
      });
      const withJobterm = await pgBossRoundTrips(db.url, {
        jobterm: true,
        jobs: JOBS,
        batchSize,
        queue: `jt_${batchSize}`,
      });
      console.log(describeRun(`pg-boss batchSize ${batchSize}`, bare, withJobterm));
      // At least a fetch and a complete per batch: the counter sees pg-boss's statements.
      expect(bare.queue).toBeGreaterThanOrEqual((2 * JOBS) / batchSize);
      expect(withJobterm.queue).toBe(bare.queue);
      // The store does not write per job: its statements follow its poll and heartbeat clocks.
      expect(withJobterm.store).toBeLessThan(JOBS / 4);
    });
  }

  it("graphile-worker concurrency 1: jobterm's plugin adds no statement to graphile's pool", async () => {
    const bare = await graphileRoundTrips(db.url, { jobterm: false, jobs: JOBS, task: 'bare' });
    const withJobterm = await graphileRoundTrips(db.url, { jobterm: true, jobs: JOBS, task: 'jt' });
    console.log(describeRun('graphile-worker', bare, withJobterm));
    expect(bare.queue).toBeGreaterThanOrEqual(2 * JOBS);
    expect(withJobterm.queue).toBe(bare.queue);
    expect(withJobterm.store).toBeLessThan(JOBS / 4);
  });
});
