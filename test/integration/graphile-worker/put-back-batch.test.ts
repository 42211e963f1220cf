// The batched put-back leaves every row exactly as the single-job statement
// would have: two identical sets of graphile rows, in every state a put-back
// can meet, one put back job by job with `putBack`, the other in one batch
// with `putBackMany` (src/adapters/graphile-worker/put-back-batch.ts). The
// rows are graphile's own (addJob); a claim is written as graphile's getJob
// writes it (locked_by, locked_at, attempts + 1, the named queue's lock).
import type { WithPgClient } from 'graphile-worker';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { PutBackBatch, type PutBackEntry } from '../../../src/adapters/graphile-worker/put-back-batch.js';
import { graphileSql } from '../../../src/adapters/graphile-worker/sql.js';
import { type GraphileTestDatabase, prepareGraphileDatabase } from './setup.js';

let gw: GraphileTestDatabase;
beforeAll(async () => {
  gw = await prepareGraphileDatabase();
});
afterAll(() => gw?.close());
afterEach(() => gw.reset());

const sql = graphileSql('graphile_worker');
const POOL = 'pool-this-one';
const OTHER_POOL = 'pool-someone-else';

/** graphile's `withPgClient` over the test database, counting the statements it runs. */
function countedClient(): { withPgClient: WithPgClient; statements(): number } {
  let statements = 0;
  const withPgClient = (async (callback) => {
    const client = await gw.db.pool.connect();
    try {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      return await callback(
        new Proxy(client, {
          get(target, property, receiver) {
            if (property !== 'query') return Reflect.get(target, property, receiver);
            return (...args: unknown[]) => {
              statements++;
              return query(...args);
            };
          },
        }),
      );
    } finally {
      client.release();
    }
  }) as WithPgClient;
  return { withPgClient, statements: () => statements };
}

interface Scenario {
  readonly name: string;
  /** Who holds the job's lock after the claim; null: not claimed. */
  readonly lockedBy: string | null;
  readonly attempts: number;
  readonly runAt: string;
  /** A named queue, and who holds its lock. */
  readonly queue?: { readonly lockedBy: string };
  readonly delay: number;
}

const SCENARIOS: readonly Scenario[] = [
  { name: 'due', lockedBy: POOL, attempts: 1, runAt: '2020-01-01T00:00:00Z', delay: 0 },
  { name: 'future', lockedBy: POOL, attempts: 2, runAt: '2999-01-01T00:00:00Z', delay: 0 },
  { name: 'delayed', lockedBy: POOL, attempts: 1, runAt: '2020-01-01T00:00:00Z', delay: 60_000 },
  { name: 'negative delay', lockedBy: POOL, attempts: 1, runAt: '2020-01-01T00:00:00Z', delay: -5 },
  { name: 'zero attempts', lockedBy: POOL, attempts: 0, runAt: '2020-01-01T00:00:00Z', delay: 0 },
  { name: 'stolen', lockedBy: OTHER_POOL, attempts: 1, runAt: '2020-01-01T00:00:00Z', delay: 0 },
  { name: 'unlocked', lockedBy: null, attempts: 1, runAt: '2020-01-01T00:00:00Z', delay: 0 },
  {
    name: 'own queue',
    lockedBy: POOL,
    attempts: 1,
    runAt: '2020-01-01T00:00:00Z',
    queue: { lockedBy: POOL },
    delay: 0,
  },
  {
    name: 'other queue',
    lockedBy: POOL,
    attempts: 1,
    runAt: '2020-01-01T00:00:00Z',
    queue: { lockedBy: OTHER_POOL },
    delay: 0,
  },
  {
    name: 'stolen, own queue',
    lockedBy: OTHER_POOL,
    attempts: 1,
    runAt: '2020-01-01T00:00:00Z',
    queue: { lockedBy: POOL },
    delay: 0,
  },
];

/** One set of rows, one per scenario; queue names carry the set's name so the sets share nothing. */
async function makeSet(set: string): Promise<string[]> {
  const ids: string[] = [];
  for (const scenario of SCENARIOS) {
    const queueName = scenario.queue === undefined ? undefined : `${set}: ${scenario.name}`;
    const id = await gw.addJob({ scenario: scenario.name }, queueName === undefined ? {} : { queueName });
    await gw.db.query(
      `update graphile_worker._private_jobs
          set attempts = $2, run_at = $3::timestamptz, updated_at = '2020-01-01T00:00:00Z',
              locked_by = $4::text, locked_at = case when $4::text is null then null else now() end
        where id = $1`,
      [id, scenario.attempts, scenario.runAt, scenario.lockedBy],
    );
    if (scenario.queue !== undefined) {
      await gw.db.query(
        `update graphile_worker._private_job_queues set locked_by = $2, locked_at = now() where queue_name = $1`,
        [queueName, scenario.queue.lockedBy],
      );
    }
    ids.push(id);
  }
  return ids;
}

interface Observed {
  attempts: number;
  last_error: string | null;
  locked_by: string | null;
  locked: boolean;
  /** Seconds from now to run_at, rounded (the two writes' now() differ by milliseconds). */
  run_in: number;
  touched: boolean;
  queue_locked_by: string | null;
  queue_locked: boolean | null;
}

async function observe(ids: string[]): Promise<Observed[]> {
  return gw.db.query<Observed>(
    `select jobs.attempts, jobs.last_error, jobs.locked_by, jobs.locked_at is not null as locked,
            (round(extract(epoch from jobs.run_at - now()) / 10) * 10)::float8 as run_in,
            jobs.updated_at > '2020-01-01T00:00:00Z' as touched,
            queues.locked_by as queue_locked_by, queues.locked_at is not null as queue_locked
       from unnest($1::bigint[]) with ordinality as input(id, n)
       join graphile_worker._private_jobs as jobs on jobs.id = input.id
       left join graphile_worker._private_job_queues as queues on queues.id = jobs.job_queue_id
      order by input.n`,
    [ids],
  );
}

function entriesFor(ids: string[]): PutBackEntry[] {
  return ids.map((id, index) => ({
    id,
    message: `Interrupted: ${SCENARIOS[index]!.name}`,
    delay: SCENARIOS[index]!.delay,
  }));
}

it('a batch leaves each row as the single statement does, in one statement', async () => {
  const singleIds = await makeSet('single');
  const batchIds = await makeSet('batch');
  const single = countedClient();
  // The same entry twice: job by job, the second finds the row unlocked and writes nothing.
  const singles = [...entriesFor(singleIds), { id: singleIds[0]!, message: 'Interrupted: again', delay: 0 }];
  for (const entry of singles) {
    await single.withPgClient((client) => client.query(sql.putBack, [entry.id, entry.message, POOL, entry.delay]));
  }
  const batch = countedClient();
  const pool = { poolId: POOL, withPgClient: batch.withPgClient, sql };
  const batched = [...entriesFor(batchIds), { id: batchIds[0]!, message: 'Interrupted: again', delay: 0 }];
  const answers = await Promise.all(batched.map((entry) => PutBackBatch.add(pool, entry)));
  expect(answers.every((answer) => answer === true)).toBe(true);
  expect(batch.statements()).toBe(1);

  const expected = await observe(singleIds);
  const observed = await observe(batchIds);
  for (const [index, scenario] of SCENARIOS.entries()) {
    expect({ scenario: scenario.name, ...observed[index] }).toEqual({ scenario: scenario.name, ...expected[index] });
  }
  // What that is, spelled out for a few of them.
  const by = (name: string) => observed[SCENARIOS.findIndex((s) => s.name === name)]!;
  expect(by('due')).toMatchObject({ attempts: 0, locked: false, locked_by: null, last_error: 'Interrupted: due' });
  expect(by('future').run_in).toBe(0);
  expect(by('delayed').run_in).toBe(60);
  expect(by('zero attempts').attempts).toBe(0);
  expect(by('stolen')).toMatchObject({ attempts: 1, locked: true, locked_by: OTHER_POOL, touched: false });
  expect(by('unlocked')).toMatchObject({ attempts: 1, touched: false });
  expect(by('own queue')).toMatchObject({ locked: false, queue_locked_by: null, queue_locked: false });
  expect(by('other queue')).toMatchObject({ locked: false, queue_locked_by: OTHER_POOL, queue_locked: true });
  expect(by('stolen, own queue')).toMatchObject({ locked_by: OTHER_POOL, queue_locked_by: POOL, queue_locked: true });
});

it('a put-back that comes alone is left to the single statement: no batch statement', async () => {
  const [id] = await makeSet('alone');
  const batch = countedClient();
  const answer = await PutBackBatch.add(
    { poolId: POOL, withPgClient: batch.withPgClient, sql },
    { id: id!, message: 'x', delay: 0 },
  );
  expect(answer).toBe(false);
  expect(batch.statements()).toBe(0);
});

it('batches are per pool: put-backs of two pools in one turn are two statements, each fenced on its own pool', async () => {
  const ids = await makeSet('pools');
  const [mine, theirs, mine2, theirs2] = [ids[0]!, ids[5]!, ids[1]!, ids[8]!];
  // ids[5] is locked by OTHER_POOL; ids[8] by POOL, so the other pool's batch must leave it.
  const batch = countedClient();
  const answers = await Promise.all([
    PutBackBatch.add(
      { poolId: POOL, withPgClient: batch.withPgClient, sql },
      { id: mine, message: 'Interrupted: mine', delay: 0 },
    ),
    PutBackBatch.add(
      { poolId: OTHER_POOL, withPgClient: batch.withPgClient, sql },
      { id: theirs, message: 'Interrupted: theirs', delay: 0 },
    ),
    PutBackBatch.add(
      { poolId: POOL, withPgClient: batch.withPgClient, sql },
      { id: mine2, message: 'Interrupted: mine', delay: 0 },
    ),
    PutBackBatch.add(
      { poolId: OTHER_POOL, withPgClient: batch.withPgClient, sql },
      { id: theirs2, message: 'Interrupted: theirs', delay: 0 },
    ),
  ]);
  expect(answers).toEqual([true, true, true, true]);
  expect(batch.statements()).toBe(2);
  const rows = await observe([mine, theirs, mine2, theirs2]);
  expect(rows.map((row) => [row.locked_by, row.last_error])).toEqual([
    [null, 'Interrupted: mine'],
    [null, 'Interrupted: theirs'],
    [null, 'Interrupted: mine'],
    // Held by POOL, not by the batch's pool: untouched.
    [POOL, null],
  ]);
});
