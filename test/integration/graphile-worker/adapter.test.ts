// The requester side: graphileWorkerAdapter() reading graphile's tables so
// that terminate() answers already_finished / not_found and cancels queued
// jobs; job keys; and the TypeErrors for bad input, before anything is written.
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type GraphileWorkerAdapter,
  graphileWorkerAdapter,
  jobRef,
  makeJobtermPlugin,
  makeJobtermPreset,
  originalOf,
  wrapTask,
  wrapTaskList,
} from '../../../src/adapters/graphile-worker/index.js';
import { silentLogger } from '../../../src/core/logger.js';
import { makeReason } from '../../../src/core/reason.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';
import { type GraphileTestDatabase, makeTestPool, prepareGraphileDatabase } from './setup.js';

let gw: GraphileTestDatabase;
let adapter: GraphileWorkerAdapter;
let terminator: Terminator;

beforeAll(async () => {
  gw = await prepareGraphileDatabase();
  adapter = graphileWorkerAdapter({ connectionString: gw.db.url });
  terminator = createTerminator({ adapters: [adapter], logger: silentLogger });
});
afterAll(async () => {
  await terminator?.close();
  await adapter?.close();
  await gw?.close();
});
afterEach(() => gw.reset());

const kill = makeReason('kill', 'not needed any more', { requestedBy: 'ops' });

describe('graphileWorkerAdapter(): job states from graphile’s tables', () => {
  it('queued, running, stale-locked, permanently failed, completed (deleted) and never existing', async () => {
    const queued = await gw.addJob({ behave: 'complete' });
    expect(await adapter.jobState(jobRef(queued))).toBe('queued');

    const retrying = await gw.addJob({ behave: 'complete' });
    await gw.db.query(
      `update graphile_worker._private_jobs set attempts = 1, run_at = now() + interval '1 hour' where id = $1`,
      [retrying],
    );
    expect(await adapter.jobState(jobRef(retrying))).toBe('queued');

    const running = await gw.addJob({ behave: 'complete' });
    await gw.db.query(
      `update graphile_worker._private_jobs set attempts = 1, locked_at = now(), locked_by = 'pool-x' where id = $1`,
      [running],
    );
    expect(await adapter.jobState(jobRef(running))).toBe('running');

    // graphile frees locks older than 4 hours: such a job waits to run again.
    const stale = await gw.addJob({ behave: 'complete' });
    await gw.db.query(
      `update graphile_worker._private_jobs set attempts = 1, locked_at = now() - interval '5 hours', locked_by = 'dead' where id = $1`,
      [stale],
    );
    expect(await adapter.jobState(jobRef(stale))).toBe('queued');

    const failed = await gw.addJob({ behave: 'complete' });
    await gw.utils.permanentlyFailJobs([failed], 'gave up');
    expect(await adapter.jobState(jobRef(failed))).toBe('finished');

    // graphile deletes completed jobs; an id the sequence has issued was a job.
    const completed = await gw.addJob({ behave: 'complete' });
    await gw.utils.completeJobs([completed]);
    expect(await adapter.jobState(jobRef(completed))).toBe('finished');

    expect(await adapter.jobState(jobRef('999999999'))).toBe('not_found');
  });

  it('terminate() answers already_finished and not_found from those states, writing nothing', async () => {
    const completed = await gw.addJob({ behave: 'complete' });
    await gw.utils.completeJobs([completed]);
    expect(await terminator.terminate(jobRef(completed))).toEqual({
      status: 'already_finished',
      ref: jobRef(completed),
    });

    const failed = await gw.addJob({ behave: 'complete' });
    await gw.utils.permanentlyFailJobs([failed], 'gave up');
    expect(await terminator.terminate(jobRef(failed))).toMatchObject({ status: 'already_finished' });
    expect((await gw.row(failed))?.last_error).toBe('gave up');

    expect(await terminator.terminate(jobRef('999999999'))).toMatchObject({ status: 'not_found' });
  });

  it('terminate() of a queued job fails it permanently before it starts (graphile’s permanently_fail_jobs)', async () => {
    const id = await gw.addJob({ behave: 'complete' }, { maxAttempts: 4 });
    const result = await terminator.terminate(jobRef(id), { reason: 'wrong customer', requestedBy: 'ops' });
    expect(result).toEqual({ status: 'terminated', ref: jobRef(id) });
    expect(await gw.row(id)).toMatchObject({
      attempts: 4,
      max_attempts: 4,
      last_error: 'Terminated: wrong customer (by ops)',
      locked_at: null,
      is_available: false,
    });
    expect(await adapter.jobState(jobRef(id))).toBe('finished');
  });

  it('cancelQueued() leaves a job a worker holds alone (the kill request then stops it)', async () => {
    const id = await gw.addJob({ behave: 'complete' });
    await gw.db.query(
      `update graphile_worker._private_jobs set attempts = 1, locked_at = now(), locked_by = 'pool-x' where id = $1`,
      [id],
    );
    expect(await adapter.cancelQueued(jobRef(id), kill)).toBe(false);
    expect(await gw.row(id)).toMatchObject({ attempts: 1, last_error: null, locked_by: 'pool-x' });
  });

  it('job keys: refForKey() resolves the job holding a key now, and terminate() ends it', async () => {
    const id = await gw.addJob({ behave: 'complete' }, { jobKey: 'invoice-42' });
    expect(await adapter.refForKey('invoice-42')).toEqual({ queue: 'graphile-worker', id });
    expect(await adapter.refForKey('no-such-key')).toBeUndefined();
    const ref = await adapter.refForKey('invoice-42');
    expect(await terminator.terminate(ref!, { reason: 'duplicate' })).toMatchObject({ status: 'terminated' });
    expect((await gw.row(id))?.last_error).toBe('Terminated: duplicate');
  });

  it('works over a pool you pass, in a schema of your choice', async () => {
    const { runMigrations, makeWorkerUtils, Logger } = await import('graphile-worker');
    const logger = new Logger(() => () => {});
    const pool = makeTestPool(gw.db.url, 2);
    await runMigrations({ pgPool: pool, schema: 'custom_gw', logger });
    const utils = await makeWorkerUtils({ pgPool: pool, schema: 'custom_gw', logger });
    try {
      const job = await utils.addJob('work', {});
      const custom = graphileWorkerAdapter({ pool, schema: 'custom_gw' });
      expect(await custom.jobState(jobRef(job))).toBe('queued');
      expect(await custom.cancelQueued(jobRef(job), kill)).toBe(true);
      expect(await custom.jobState(jobRef(job))).toBe('finished');
      // The default schema does not have that job.
      expect(await adapter.jobState(jobRef(job))).not.toBe('queued');
      await custom.close();
      expect((await pool.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await utils.release();
      await pool.end();
    }
  });
});

describe('bad input: a TypeError naming what was wrong, before anything is written', () => {
  it('job references', async () => {
    expect(() => jobRef('abc')).toThrow(
      new TypeError('Expected `job.id` to be a graphile-worker job id (a positive integer, as a string), got "abc"'),
    );
    expect(() => jobRef(-1)).toThrow(TypeError);
    expect(() => jobRef('99999999999999999999')).toThrow(TypeError);
    expect(jobRef({ id: '12' })).toEqual({ queue: 'graphile-worker', id: '12' });
    expect(jobRef(7)).toEqual({ queue: 'graphile-worker', id: '7' });
    await expect(terminator.terminate({ queue: 'graphile-worker', id: 'abc' })).rejects.toThrow(/Expected `job.id`/);
    await expect(adapter.jobState({ queue: 'graphile-worker', id: '1', name: 'q' })).rejects.toThrow(
      /Expected `job.name`/,
    );
    await expect(adapter.jobState({ queue: 'pg-boss', id: '1' })).rejects.toThrow(
      /Expected `job.queue` to be 'graphile-worker'/,
    );
    await expect(adapter.refForKey('')).rejects.toThrow(/Expected `jobKey`/);
  });

  it('adapter, plugin and wrapper options', () => {
    expect(() => graphileWorkerAdapter({})).toThrow(/Expected `connectionString` to be a PostgreSQL connection string/);
    expect(() => graphileWorkerAdapter({ connectionString: 'x', pool: new pg.Pool() })).toThrow(/not both/);
    expect(() => graphileWorkerAdapter({ connectionString: 'x', schema: '' })).toThrow(/Expected `schema`/);
    // @ts-expect-error: not a pool
    expect(() => graphileWorkerAdapter({ pool: {} })).toThrow(/Expected `pool` to be a pg Pool/);
    // @ts-expect-error: no terminator
    expect(() => makeJobtermPlugin({})).toThrow(
      /Expected `terminator` to be a Terminator from createTerminator\(\), got undefined/,
    );
    // @ts-expect-error: unknown option
    expect(() => makeJobtermPreset({ terminator, handleSignals: true })).toThrow(
      /Unknown option `handleSignals` in `options`: expected one of/,
    );
    expect(() => makeJobtermPlugin({ terminator, maxRuntime: -5 })).toThrow(
      /Expected `maxRuntime` to be a non-negative number/,
    );
    expect(() => makeJobtermPlugin({ terminator, maxRuntime: { work: Number.NaN } })).toThrow(
      /Expected `maxRuntime.work`/,
    );
    // @ts-expect-error: not a task list
    expect(() => wrapTaskList(null, { terminator })).toThrow(/Expected `tasks`/);
    // @ts-expect-error: not a task
    expect(() => wrapTaskList({ work: 'nope' }, { terminator })).toThrow(/Expected `tasks.work` to be a task function/);
  });
});

describe('wrapping', () => {
  it('is idempotent, keeps the original reachable, and never mutates the caller’s task list', () => {
    const work = async () => {};
    const tasks = { work };
    const once = wrapTaskList(tasks, { terminator });
    expect(tasks.work).toBe(work);
    expect(once.work).not.toBe(work);
    expect(originalOf(once.work)).toBe(work);
    const twice = wrapTaskList(once, { terminator });
    expect(twice.work).toBe(once.work);
    expect(originalOf(work)).toBeUndefined();
    expect(originalOf(wrapTask('work', work, { terminator }))).toBe(work);
  });
});
