/**
 * Database round trips per job on the completed path, with and without
 * jobterm (test/fixtures/round-trips.ts counts them; the test
 * test/integration/core/round-trips.test.ts asserts them equal): statements of
 * the queue's own pools per job, beside the bare queue's in the same run, and
 * the store's own statements per second (polls, heartbeats), which follow the
 * clock and not the jobs. Counts, not times: one sample per round is enough.
 */
import { graphileRoundTrips, pgBossRoundTrips, storeStatementsPerSecond } from '../../test/fixtures/round-trips.js';
import type { BenchSuite, Figure } from '../lib/types.js';

export const roundTripsSuite: BenchSuite = {
  name: 'round-trips',
  async run(ctx) {
    const { url } = await ctx.createDatabase('jobterm_bench_roundtrips');
    const jobs = ctx.quick ? 200 : 1_000;
    const figures: Figure[] = [];
    for (const batchSize of [20, 100]) {
      const bare = await pgBossRoundTrips(url, { jobterm: false, jobs, batchSize, queue: `bare_${batchSize}` });
      const jt = await pgBossRoundTrips(url, { jobterm: true, jobs, batchSize, queue: `jt_${batchSize}` });
      ctx.log(`pg-boss batchSize ${batchSize}: ${jt.queue} statements with jobterm, ${bare.queue} bare, ${jobs} jobs`);
      figures.push({
        name: `pg-boss batchSize ${batchSize}, statements of pg-boss's pool per job, completed path`,
        unit: 'statements',
        samples: [jt.queue / jobs],
        reference: { name: 'the same jobs, bare handler', samples: [bare.queue / jobs] },
        lowerIsBetter: true,
        goal: 'equal to bare',
        notes: `${jobs} jobs inserted first; one fetch and one complete per batch, plus the last (empty) fetch; pgBossJobterm().handler with the PostgreSQL store. Every executeSql of pg-boss's Db counted.`,
      });
    }
    const bare = await graphileRoundTrips(url, { jobterm: false, jobs, task: 'bare' });
    const jt = await graphileRoundTrips(url, { jobterm: true, jobs, task: 'jt' });
    ctx.log(`graphile-worker: ${jt.queue} statements with jobterm, ${bare.queue} bare, ${jobs} jobs`);
    figures.push({
      name: "graphile-worker concurrency 1, statements of graphile's pool per job, completed path",
      unit: 'statements',
      samples: [jt.queue / jobs],
      reference: { name: 'the same jobs, bare task', samples: [bare.queue / jobs] },
      lowerIsBetter: true,
      goal: 'equal to bare',
      notes: `${jobs} jobs in one addJobs(); get_job and complete per job, plus the last (empty) get_job; makeJobtermPreset() with the PostgreSQL store. Every query of a client of the runner's pool counted.`,
    });
    const seconds = ctx.quick ? 2 : 10;
    figures.push({
      name: "the PostgreSQL store's own statements per second in a worker (no jobs)",
      unit: 'statements',
      samples: [await storeStatementsPerSecond(url, seconds)],
      lowerIsBetter: true,
      notes: `Over ${seconds} s with default options: request polls (pollInterval 1 s) and presence heartbeats; independent of the jobs running.`,
    });
    return figures;
  },
};
