// Issue 10, item 3: every request ends. A kill for a job that finishes at
// that moment must not stay open for 7 days: whichever process learns first
// that the job has finished resolves it `already_finished` — the requester,
// re-reading the queue after it stored the request; the worker that just ran
// the job; or the periodic sweep of open requests. Each race is held open on
// purpose with a real PostgreSQL lock, so the test is deterministic.
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger, type Runner, run } from 'graphile-worker';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { graphileWorkerAdapter, jobRef, makeJobtermPreset } from '../../../src/adapters/graphile-worker/index.js';
import { makeDeferred } from '../../../src/core/deferred.js';
import { silentLogger } from '../../../src/core/logger.js';
import { postgresStore } from '../../../src/stores/postgres/index.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';
import { type GraphileTestDatabase, makeTestPool, prepareGraphileDatabase } from './setup.js';

let gw: GraphileTestDatabase;
beforeAll(async () => {
  gw = await prepareGraphileDatabase();
  const owner = postgresStore({ connectionString: gw.db.url, logger: silentLogger });
  await owner.migrate();
  await owner.close();
});
afterAll(() => gw?.close());

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  await gw.reset();
  await gw.db.query('DELETE FROM jobterm.kill_requests');
});

const quiet = new Logger(() => () => {});

function requester(workerId = 'requester'): Terminator {
  const adapter = graphileWorkerAdapter({ connectionString: gw.db.url });
  const terminator = createTerminator({
    store: postgresStore({ connectionString: gw.db.url, receiveRequests: false, logger: silentLogger }),
    adapters: [adapter],
    logger: silentLogger,
    workerId,
  });
  cleanups.push(async () => {
    await terminator.close();
    await adapter.close();
  });
  return terminator;
}

async function requestRow(jobId: string) {
  return gw.db.query<{ status: string; outcome: string | null; resolved_by: string | null }>(
    'SELECT status, outcome, resolved_by FROM jobterm.kill_requests WHERE job_id = $1',
    [jobId],
  );
}

/** Holds a lock in its own transaction until `release()`. */
async function holdLock(sql: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: gw.db.url });
  client.on('error', () => {});
  await client.connect();
  await client.query('BEGIN');
  await client.query(sql, values);
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await client.query('COMMIT').catch(() => undefined);
    await client.end().catch(() => undefined);
  };
  cleanups.push(release);
  return release;
}

/** Waits until a statement matching `pattern` waits on a lock. */
async function untilBlocked(pattern: string) {
  for (const deadline = Date.now() + 10_000; ; ) {
    const rows = await gw.db.query(
      `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1`,
      [pattern],
    );
    if (rows.length > 0) return;
    if (Date.now() > deadline) throw new Error(`no statement like ${pattern} ever waited on a lock`);
    await sleep(10);
  }
}

async function until(check: () => Promise<boolean>, what: string, timeout = 10_000) {
  for (const deadline = Date.now() + timeout; !(await check()); ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

describe('every request ends: a kill for a job that finishes at that moment', () => {
  it('the requester re-reads the queue after storing: the job completed between its state read and its insert -> already_finished', async () => {
    // A job claimed by a worker (graphile's own claim writes these columns), so the requester reads `running`.
    const id = await gw.addJob({ behave: 'complete' });
    await gw.db.query(
      `UPDATE graphile_worker._private_jobs SET attempts = 1, locked_at = now(), locked_by = 'pool-elsewhere' WHERE id = $1`,
      [id],
    );
    // Hold the request's INSERT (reads go on) ...
    const release = await holdLock('LOCK TABLE jobterm.kill_requests IN EXCLUSIVE MODE');
    const result = requester().terminate(jobRef(id), { wait: true, timeout: 3_000 });
    await untilBlocked('INSERT INTO "jobterm"."kill_requests"%');
    // ... while the job completes (graphile's own completeJob statement) ...
    await gw.db.query(`DELETE FROM graphile_worker._private_jobs WHERE id = $1 AND locked_by = 'pool-elsewhere'`, [id]);
    // ... and only then let the request be stored.
    await release();
    expect(await result).toMatchObject({ status: 'already_finished', ref: { queue: 'graphile-worker', id } });
    expect(await requestRow(id)).toEqual([
      { status: 'resolved', outcome: 'already_finished', resolved_by: 'requester' },
    ]);
  });

  it('the worker that just ran the job answers: the request arrives after the job returned, while graphile’s completion is held -> already_finished', async () => {
    const worker = createTerminator({
      store: postgresStore({ connectionString: gw.db.url, logger: silentLogger }),
      logger: silentLogger,
      workerId: 'the-worker',
      requestSweepInterval: false,
    });
    cleanups.push(() => worker.close());
    await worker.whenReady();
    const started = makeDeferred<void>();
    const proceed = makeDeferred<void>();
    const pgPool = makeTestPool(gw.db.url, 6);
    cleanups.push(() => pgPool.end());
    const runner: Runner = await run({
      pgPool,
      concurrency: 1,
      pollInterval: 100,
      noHandleSignals: true,
      logger: quiet,
      taskList: {
        work: async () => {
          started.resolve();
          await proceed.promise;
        },
      },
      preset: makeJobtermPreset({ terminator: worker }),
    });
    cleanups.push(() => runner.stop());

    const id = await gw.addJob({});
    await started.promise;
    // Hold graphile's write of the completion: to every reader the job stays running.
    const release = await holdLock('SELECT 1 FROM graphile_worker._private_jobs WHERE id = $1 FOR UPDATE', [id]);
    proceed.resolve();
    // The job returned and left jobterm (its ending looked for a request: there was none yet).
    await until(async () => worker.running().length === 0, 'the job left the worker');
    await untilBlocked('%_private_jobs%');

    const result = await requester().terminate(jobRef(id), { wait: true, timeout: 3_000 });
    expect(result.status).toBe('already_finished');
    expect(await requestRow(id)).toEqual([
      { status: 'resolved', outcome: 'already_finished', resolved_by: 'the-worker' },
    ]);
    await release();
    await until(async () => (await gw.row(id)) === undefined, 'graphile deleted the completed job');
  });

  it('the periodic sweep resolves requests whose job ended or never existed with nobody left to notice; a queued job’s stays open', async () => {
    const adapter = graphileWorkerAdapter({ connectionString: gw.db.url });
    cleanups.push(() => adapter.close());
    // Requests stored by a requester that died right after (the store's own request(), no state check).
    const direct = postgresStore({ connectionString: gw.db.url, receiveRequests: false, logger: silentLogger });
    cleanups.push(() => direct.close());
    const finished = await gw.addJob({});
    await gw.utils.completeJobs([finished]);
    const queued = await gw.addJob({}, { runAt: new Date(Date.now() + 3_600_000) });
    const ended = await direct.request({ ref: jobRef(finished), message: 'x' });
    const gone = await direct.request({ ref: jobRef('987654321'), message: 'x' });
    const open = await direct.request({ ref: jobRef(queued), message: 'x' });
    // Stored by a jobterm that did not check ids yet: no graphile job can ever have it.
    const [legacy] = await gw.db.query<{ id: string }>(
      `INSERT INTO jobterm.kill_requests (id, queue, job_id, reason_message, expires_at)
       VALUES (gen_random_uuid(), 'graphile-worker', 'not-a-number', 'x', now() + interval '1 day') RETURNING id`,
    );

    const worker = createTerminator({
      store: postgresStore({ connectionString: gw.db.url, logger: silentLogger }),
      adapters: [adapter],
      logger: silentLogger,
      workerId: 'sweeper',
      requestSweepInterval: 200,
    });
    cleanups.push(() => worker.close());
    await worker.whenReady();
    const outcome = async (requestId: string) =>
      (
        await gw.db.query<{ outcome: string | null }>('SELECT outcome FROM jobterm.kill_requests WHERE id = $1', [
          requestId,
        ])
      )[0]?.outcome;
    await until(
      async () => (await outcome(ended.request.id)) === 'already_finished',
      'the sweep resolved the finished job’s request',
    );
    await until(
      async () => (await outcome(gone.request.id)) === 'not_found',
      'the sweep resolved the unknown job’s request',
    );
    await until(async () => (await outcome(legacy!.id)) === 'not_found', 'the sweep resolved the legacy request');
    await worker.sweepRequests();
    expect(await outcome(open.request.id)).toBeNull();
    expect(await requestRow(finished)).toEqual([
      { status: 'resolved', outcome: 'already_finished', resolved_by: 'sweeper' },
    ]);
  });

  it('a request a worker marked delivered is left to that worker: the requester’s re-read never overrides its answer', async () => {
    const id = await gw.addJob({ behave: 'complete' });
    await gw.db.query(
      `UPDATE graphile_worker._private_jobs SET attempts = 1, locked_at = now(), locked_by = 'pool-elsewhere' WHERE id = $1`,
      [id],
    );
    const direct = postgresStore({ connectionString: gw.db.url, receiveRequests: false, logger: silentLogger });
    cleanups.push(() => direct.close());
    const { request } = await direct.request({ ref: jobRef(id), message: 'x' });
    await direct.markDelivered(request.id, 'the-worker');
    // The worker ended the job for good; its resolve is still on its way.
    await gw.db.query(`DELETE FROM graphile_worker._private_jobs WHERE id = $1`, [id]);
    expect(await direct.resolveEnded(request.id, 'already_finished', 'requester')).toBe(false);
    const result = await requester().terminate(jobRef(id));
    // The job is gone from the queue: nothing more is stored, the open request is left as it is.
    expect(result.status).toBe('already_finished');
    expect(await requestRow(id)).toEqual([{ status: 'delivered', outcome: null, resolved_by: null }]);
    await direct.resolve(request.id, 'terminated', 'the-worker');
    expect(await requestRow(id)).toEqual([{ status: 'resolved', outcome: 'terminated', resolved_by: 'the-worker' }]);
  });
});
