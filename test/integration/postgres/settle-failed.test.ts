// A queue write given up (settle() rejects): with the real PostgreSQL store,
// the kill request stays open, so the job's next claim is stopped before it
// starts, and `terminated` is never emitted for a write that did not land.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { postgresStore } from '../../../src/stores/postgres/index.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';

let db: TestDatabase;
let terminator: Terminator;
beforeAll(async () => {
  db = await createTestDatabase('jobterm_settle_failed');
  terminator = createTerminator({
    store: postgresStore({ connectionString: db.url, logger: silentLogger }),
    logger: silentLogger,
    killTimeout: 5_000,
  });
  await terminator.whenReady();
});
afterAll(async () => {
  await terminator?.close();
  await db?.drop();
});

describe('a queue write given up', () => {
  it('emits error (settle), not terminated; the request stays open and stops the job’s next claim before it starts', async () => {
    const ref = { queue: 'test-queue', id: 'job-1' };
    const seen: string[] = [];
    terminator.on('terminated', () => seen.push('terminated'));
    terminator.on('error', ({ during }) => seen.push(`error:${during}`));
    const first = terminator.run(
      ref,
      (token) =>
        new Promise((_resolve, reject) => token.signal.addEventListener('abort', () => reject(token.signal.reason))),
      {
        settle: async () => {
          throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
        },
      },
    );
    await sleep(10);
    const answer = await terminator.terminate(ref, { reason: 'stop', wait: true, timeout: 1_500 });
    expect(await first).toMatchObject({ status: 'terminated' });
    // Nothing in the queue says the job ended: the request is not resolved.
    expect(answer.status).toBe('timed_out');
    expect(seen).toEqual(['error:settle']);
    const [row] = await db.query<{ status: string; outcome: string | null }>(
      'select status, outcome from jobterm.kill_requests where job_id = $1',
      [ref.id],
    );
    expect(row).toEqual({ status: 'delivered', outcome: null });
    // The queue's own recovery hands the job out again: stopped before its code runs, and the request ends.
    let ran = false;
    const again = await terminator.run(ref, () => {
      ran = true;
    });
    expect(again).toMatchObject({ status: 'terminated', escalated: false });
    expect(ran).toBe(false);
    await expect
      .poll(
        async () =>
          (await db.query('select status, outcome from jobterm.kill_requests where job_id = $1', [ref.id]))[0],
      )
      .toEqual({ status: 'resolved', outcome: 'terminated' });
    expect(seen).toEqual(['error:settle', 'terminated']);
  });
});
