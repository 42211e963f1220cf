// The plugin never leaves the caller's task list changed, and one task list
// shared by two runners with two terminators runs each runner's jobs under
// its own terminator: one after the other and at the same time, through
// run({ taskList }) (a wrapped copy) and runTaskList()/runTaskListOnce()
// (graphile reads that object in place: borrowed, then given back).
import {
  type JobHelpers,
  Logger,
  type Runner,
  run,
  runTaskList,
  runTaskListOnce,
  type Task,
  type WorkerPool,
} from 'graphile-worker';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeJobtermPreset, originalOf } from '../../../src/adapters/graphile-worker/index.js';
import { currentToken } from '../../../src/core/context.js';
import { silentLogger } from '../../../src/core/logger.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';
import { type GraphileTestDatabase, makeTestPool, prepareGraphileDatabase } from './setup.js';

const quiet = new Logger(() => () => {});
let gw: GraphileTestDatabase;
let pgPool: ReturnType<typeof makeTestPool>;

beforeAll(async () => {
  gw = await prepareGraphileDatabase();
  pgPool = makeTestPool(gw.db.url, 8);
});
afterAll(async () => {
  await pgPool?.end();
  await gw?.close();
});
afterEach(() => gw.reset());

/** Where each job ran: which terminator had it in running(), and the pool that claimed it. */
interface Ran {
  readonly id: string;
  readonly poolId: string | null;
  readonly under: string[];
  readonly hasToken: boolean;
}

function makeTasks(terminators: Record<string, Terminator>, gate?: () => Promise<void>) {
  const ran: Ran[] = [];
  const work: Task = async (_payload, helpers: JobHelpers) => {
    const id = String(helpers.job.id);
    ran.push({
      id,
      poolId: helpers.job.locked_by,
      under: Object.entries(terminators)
        .filter(([, t]) => t.running().some((job) => job.ref.id === id))
        .map(([name]) => name),
      hasToken: currentToken() !== undefined,
    });
    await gate?.();
  };
  return { tasks: { work }, work, ran };
}

const terminators: Terminator[] = [];
function terminator(): Terminator {
  const made = createTerminator({ logger: silentLogger, shutdownTimeout: 5_000 });
  terminators.push(made);
  return made;
}
afterEach(async () => {
  for (const t of terminators.splice(0)) await t.close();
});

function startRunner(tasks: object, t: Terminator): Promise<Runner> {
  return run({
    pgPool,
    concurrency: 1,
    pollInterval: 50,
    noHandleSignals: true,
    logger: quiet,
    taskList: tasks as Record<string, Task>,
    preset: { extends: [makeJobtermPreset({ terminator: t })] },
  });
}

function startPool(tasks: object, t: Terminator): WorkerPool {
  return runTaskList(
    {
      concurrency: 1,
      pollInterval: 50,
      noHandleSignals: true,
      logger: quiet,
      preset: { extends: [makeJobtermPreset({ terminator: t })] },
    },
    tasks as Record<string, Task>,
    pgPool,
  );
}

async function addJobs(n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await gw.addJob({ i }));
  return ids;
}

async function until(check: () => boolean, what: string, timeout = 15_000) {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A gate that holds every job until jobs of both pools have started, so both runners claim some. */
function bothPoolsGate(ran: Ran[]) {
  return () => until(() => new Set(ran.map((r) => r.poolId)).size >= 2, 'both pools to claim a job', 10_000);
}

describe('run({ taskList }): the plugin hands graphile a wrapped copy', () => {
  it('one after the other: each runner’s jobs run under its own terminator; the caller’s object never changes', async () => {
    const [a, b] = [terminator(), terminator()];
    const { tasks, work, ran } = makeTasks({ a, b });
    const frozen = Object.freeze(tasks);

    const first = await startRunner(frozen, a);
    const [one] = await addJobs(1);
    await until(() => ran.length === 1, 'job one');
    expect(tasks.work).toBe(work);
    await first.stop();

    const second = await startRunner(frozen, b);
    const [two] = await addJobs(1);
    await until(() => ran.length === 2, 'job two');
    await second.stop();

    expect(ran).toEqual([
      expect.objectContaining({ id: one, under: ['a'], hasToken: true }),
      expect.objectContaining({ id: two, under: ['b'], hasToken: true }),
    ]);
    expect(tasks.work).toBe(work);
    expect(originalOf(tasks.work)).toBeUndefined();
  });

  it('at the same time: every job runs under the terminator of the runner that claimed it', async () => {
    const [a, b] = [terminator(), terminator()];
    let ranList: Ran[] = [];
    const { tasks, work, ran } = makeTasks({ a, b }, () => bothPoolsGate(ranList)());
    ranList = ran;
    const runners = await Promise.all([startRunner(tasks, a), startRunner(tasks, b)]);
    const claimedBy = new Map<string, string>();
    runners[0]!.events.on('job:start', ({ job }) => claimedBy.set(String(job.id), 'a'));
    runners[1]!.events.on('job:start', ({ job }) => claimedBy.set(String(job.id), 'b'));
    const ids = await addJobs(4);
    await until(() => ran.length === 4, 'four jobs');
    await Promise.all(runners.map((r) => r.stop()));

    expect(new Set(ran.map((r) => r.id))).toEqual(new Set(ids));
    expect(new Set(ran.map((r) => r.under[0]))).toEqual(new Set(['a', 'b']));
    for (const r of ran) expect(r.under, `job ${r.id}`).toEqual([claimedBy.get(r.id)]);
    expect(tasks.work).toBe(work);
  });
});

describe('runTaskList(options, tasks) / runTaskListOnce(): the list is borrowed while a pool runs it, then given back', () => {
  it('one after the other: each pool’s jobs under its own terminator; the functions are back once each pool ended', async () => {
    const [a, b] = [terminator(), terminator()];
    const { tasks, work, ran } = makeTasks({ a, b });

    const first = startPool(tasks, a);
    const [one] = await addJobs(1);
    await until(() => ran.length === 1, 'job one');
    await first.gracefulShutdown();
    await first.promise;
    expect(tasks.work).toBe(work);

    const second = startPool(tasks, b);
    const [two] = await addJobs(1);
    await until(() => ran.length === 2, 'job two');
    await second.gracefulShutdown();
    await second.promise;
    expect(tasks.work).toBe(work);

    expect(ran).toEqual([
      expect.objectContaining({ id: one, poolId: first.id, under: ['a'] }),
      expect.objectContaining({ id: two, poolId: second.id, under: ['b'] }),
    ]);
  });

  it('at the same time: each job under its pool’s terminator; given back only when the last pool ends', async () => {
    const [a, b] = [terminator(), terminator()];
    let ranList: Ran[] = [];
    const { tasks, work, ran } = makeTasks({ a, b }, () => bothPoolsGate(ranList)());
    ranList = ran;
    const pools = [startPool(tasks, a), startPool(tasks, b)];
    const ids = await addJobs(4);
    await until(() => ran.length === 4, 'four jobs');
    const poolName = new Map([
      [pools[0]!.id, 'a'],
      [pools[1]!.id, 'b'],
    ]);
    expect(new Set(ran.map((r) => r.id))).toEqual(new Set(ids));
    expect(new Set(ran.map((r) => r.under[0]))).toEqual(new Set(['a', 'b']));
    for (const r of ran) expect(r.under, `job ${r.id}`).toEqual([poolName.get(r.poolId!)]);

    await pools[0]!.gracefulShutdown();
    await pools[0]!.promise;
    // Pool b still runs the list: its jobs must stay under jobterm.
    expect(originalOf(tasks.work)).toBe(work);
    const [late] = await addJobs(1);
    await until(() => ran.length === 5, 'a job after pool a ended');
    expect(ran[4]).toMatchObject({ id: late, poolId: pools[1]!.id, under: ['b'] });

    await pools[1]!.gracefulShutdown();
    await pools[1]!.promise;
    expect(tasks.work).toBe(work);
  });

  it('runTaskListOnce(): when its promise resolves, the caller’s object holds its own functions again', async () => {
    const t = terminator();
    const { tasks, work, ran } = makeTasks({ t });
    await addJobs(2);
    const client = await pgPool.connect();
    try {
      const pool = runTaskListOnce(
        { logger: quiet, preset: { extends: [makeJobtermPreset({ terminator: t })] } },
        tasks,
        client,
      );
      await pool.promise;
      // As graphile-worker's own runTaskListOnce tests check (`expect(tasks.job1).toHaveBeenCalled…`).
      expect(tasks.work).toBe(work);
    } finally {
      client.release();
    }
    expect(ran).toHaveLength(2);
    expect(ran.every((r) => r.under.length === 1 && r.hasToken)).toBe(true);
  });
});
