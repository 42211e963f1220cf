// A shutdown with many running jobs on one graphile-worker runner (the
// jobterm plugin, concurrency = jobs): every job goes back into the queue
// with its attempt refunded, and jobterm's put-backs are one statement for
// the whole pool, not one per job (src/adapters/graphile-worker/put-back-batch.ts).
// A row the pool no longer holds is left alone, and a named queue is released
// only where the pool holds it, as the single-job statement does.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { graphileShutdownRoundTrips } from '../../fixtures/round-trips.js';
import { type GraphileTestDatabase, prepareGraphileDatabase } from './setup.js';

let gw: GraphileTestDatabase;
beforeAll(async () => {
  gw = await prepareGraphileDatabase();
});
afterAll(() => gw?.close());
afterEach(() => gw.reset());

/** A pool id no runner has: a lock that some other pool holds. */
const OTHER_POOL = 'pool-someone-else';

it('shutdown() with 60 running jobs puts them all back in one statement', async () => {
  const result = await graphileShutdownRoundTrips(gw.db.url, { jobs: 60, task: 'many' });
  console.log(
    `shutdown of ${result.jobs} running graphile jobs: ${result.statements} statements (${result.putBacks} put-back) in ${(result.seconds * 1000).toFixed(0)} ms, ${result.after} after`,
  );
  expect(result.backInQueue).toBe(60);
  expect(result.putBacks).toBe(1);
  expect(await gw.locked()).toEqual({ jobs: 0, queues: 0 });
}, 60_000);

it('in the batch, a job whose lock another pool took is untouched, and named queues go only where this pool holds them', async () => {
  let stolen = '';
  let ownQueueJob = '';
  let otherQueueJob = '';
  const result = await graphileShutdownRoundTrips(gw.db.url, {
    jobs: 50,
    task: 'fenced',
    queueName: (index) => (index === 0 ? 'serial-own' : index === 1 ? 'serial-other' : undefined),
    async before(ids) {
      [ownQueueJob, otherQueueJob, stolen] = ids as [string, string, string];
      // As if graphile's stale-lock recovery had handed the job to another pool.
      await gw.db.query(`update graphile_worker._private_jobs set locked_by = $2 where id = $1`, [stolen, OTHER_POOL]);
      await gw.db.query(
        `update graphile_worker._private_job_queues set locked_by = $1 where queue_name = 'serial-other'`,
        [OTHER_POOL],
      );
    },
  });
  expect(result.putBacks).toBe(1);
  // Every job but the stolen one, named-queue jobs included.
  expect(result.backInQueue).toBe(49);
  for (const id of [ownQueueJob, otherQueueJob]) {
    expect(await gw.row(id)).toMatchObject({ attempts: 0, locked_at: null, locked_by: null });
  }
  const untouched = await gw.row(stolen);
  expect(untouched).toMatchObject({ attempts: 1, locked_by: OTHER_POOL, last_error: null });
  expect(untouched!.locked_at).not.toBeNull();
  const queues = await gw.db.query<{ queue_name: string; locked_by: string | null; locked_at: Date | null }>(
    `select queue_name, locked_by, locked_at from graphile_worker._private_job_queues order by queue_name`,
  );
  expect(queues).toEqual([
    { queue_name: 'serial-other', locked_by: OTHER_POOL, locked_at: expect.any(Date) },
    { queue_name: 'serial-own', locked_by: null, locked_at: null },
  ]);
}, 60_000);
