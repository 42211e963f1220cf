import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { postgresStore } from '../../../src/stores/postgres/index.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { killAllWorkers, spawnWorker, type WorkerMessage } from '../../support/processes.js';

const workerScript = fileURLToPath(new URL('../../fixtures/postgres/worker.ts', import.meta.url));
const requesterScript = fileURLToPath(new URL('../../fixtures/postgres/requester.ts', import.meta.url));

interface RequestRow {
  status: string;
  outcome: string | null;
  delivered_by: string | null;
  resolved_by: string | null;
  requested_by: string | null;
}

describe('kill requests across OS processes (PostgreSQL store)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('jobterm_pg_xproc');
    // Migrated once up front, so no worker races the others to create the schema.
    const store = postgresStore({ connectionString: db.url, receiveRequests: false });
    await store.migrate();
    await store.close();
  });
  afterEach(killAllWorkers);
  afterAll(() => db?.drop());

  const startWorker = async (workerId: string, env: Record<string, string> = {}) => {
    const worker = spawnWorker(workerScript, { env: { DATABASE_URL: db.url, WORKER_ID: workerId, ...env } });
    await worker.waitFor('ready');
    return worker;
  };
  const startJob = (id: string) => db.query(`SELECT pg_notify('jobterm_test_start', $1)`, [id]);
  const row = async (id: string) =>
    (await db.query<RequestRow>('SELECT * FROM jobterm.kill_requests WHERE id = $1', [id]))[0];
  const event = (name: string, id: string) => (m: WorkerMessage) => m.event === name && m.id === id;

  it('process B terminates a job running in process A, waits, and gets `terminated`', async () => {
    const a = await startWorker('worker-a');
    await startJob('job-1');
    await a.waitFor(event('job-started', 'job-1'));

    const b = spawnWorker(requesterScript, { env: { DATABASE_URL: db.url }, args: ['job-1', '--wait'] });
    const result = await b.waitFor('result');
    expect(result.status).toBe('terminated');
    expect(await b.exited).toEqual({ code: 0, signal: null });

    const signal = await a.waitFor(event('job-signal', 'job-1'));
    expect(signal.reason).toEqual({
      kind: 'kill',
      message: 'stop it now',
      requestId: result.requestId,
      requestedBy: 'process-b',
    });
    expect(signal.signalReason).toBe('JobTerminatedError');
    const outcome = await a.waitFor(event('job-outcome', 'job-1'));
    expect(outcome).toMatchObject({ status: 'terminated', reason: { kind: 'kill' }, running: 0 });
    expect(await row(result.requestId as string)).toMatchObject({
      status: 'resolved',
      outcome: 'terminated',
      delivered_by: 'worker-a',
      resolved_by: 'worker-a',
      requested_by: 'process-b',
    });
  });

  it('a request made before the job starts stops it at its start, without running it', async () => {
    const a = await startWorker('worker-a');
    const b = spawnWorker(requesterScript, { env: { DATABASE_URL: db.url }, args: ['job-2'] });
    const result = await b.waitFor('result');
    expect(result.status).toBe('requested');
    // A learned of it by NOTIFY; only then does the queue hand it the job.
    await a.waitFor(event('request-known', result.requestId as string));
    await startJob('job-2');
    const outcome = await a.waitFor(event('job-outcome', 'job-2'));
    expect(outcome).toMatchObject({
      status: 'terminated',
      reason: { kind: 'kill', requestId: result.requestId },
      running: 0,
    });
    expect(a.messages.some((m) => m.event === 'job-started' && m.id === 'job-2')).toBe(false);
    expect(await row(result.requestId as string)).toMatchObject({
      status: 'resolved',
      outcome: 'terminated',
      resolved_by: 'worker-a',
    });
  });

  it('a request made while no worker runs is delivered when one starts', async () => {
    const b = spawnWorker(requesterScript, { env: { DATABASE_URL: db.url }, args: ['job-3'] });
    const result = await b.waitFor('result');
    expect(result.status).toBe('requested');
    expect(await b.exited).toEqual({ code: 0, signal: null });
    expect(await row(result.requestId as string)).toMatchObject({ status: 'pending', outcome: null });

    const a = await startWorker('worker-late');
    // Loaded at start, before 'ready': the hot path then needs no round trip.
    expect(a.messages.some((m) => m.event === 'request-known' && m.id === result.requestId)).toBe(true);
    await startJob('job-3');
    const outcome = await a.waitFor(event('job-outcome', 'job-3'));
    expect(outcome).toMatchObject({ status: 'terminated', reason: { requestId: result.requestId } });
    expect(a.messages.some((m) => m.event === 'job-started' && m.id === 'job-3')).toBe(false);
    expect(await row(result.requestId as string)).toMatchObject({ status: 'resolved', resolved_by: 'worker-late' });
  });

  it('after its LISTEN connection is killed, a worker still gets requests by polling, and LISTEN comes back', async () => {
    // Polling every 200 ms; the first reconnect waits 2.25-3.75 s, so a delivery before that came from polling.
    const a = await startWorker('worker-poll', { POLL_INTERVAL: '200', RECONNECT_DELAY: '3000' });
    const listeners = async () =>
      db.query<{ pid: number; query: string }>(
        `SELECT pid, query FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'jobterm:listen'`,
      );
    const [before] = await listeners();
    expect(before?.query).toMatch(/^LISTEN /);
    await startJob('job-4');
    await a.waitFor(event('job-started', 'job-4'));

    const [{ killed } = { killed: false }] = await db.query<{ killed: boolean }>(
      'SELECT pg_terminate_backend($1) AS killed',
      [before!.pid],
    );
    expect(killed).toBe(true);
    await a.waitFor((m) => m.event === 'error' && /lost the LISTEN connection/.test(String(m.message)));

    const requester = postgresStore({ connectionString: db.url, receiveRequests: false });
    try {
      const { request } = await requester.request({ ref: { queue: 'test', id: 'job-4' }, message: 'while deaf' });
      await a.waitFor(event('job-signal', 'job-4'));
      expect(await listeners()).toEqual([]);
      expect(await a.waitFor(event('job-outcome', 'job-4'))).toMatchObject({ status: 'terminated' });
      expect(await row(request.id)).toMatchObject({ status: 'resolved', outcome: 'terminated' });

      // The listener reconnects with backoff and LISTENs again.
      let after: { pid: number; query: string } | undefined;
      for (const deadline = Date.now() + 20_000; after === undefined && Date.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        // A new session shows up before its LISTEN runs: wait for the LISTEN itself.
        after = (await listeners()).find((l) => l.pid !== before!.pid && /^LISTEN /.test(l.query));
      }
      expect(after?.query).toMatch(/^LISTEN /);

      // And delivery goes through it again: the NOTIFY's lookup runs on the new LISTEN connection.
      await startJob('job-5');
      await a.waitFor(event('job-started', 'job-5'));
      await requester.request({ ref: { queue: 'test', id: 'job-5' }, message: 'after reconnect' });
      await a.waitFor(event('job-signal', 'job-5'));
      const [lookup] = await db.query<{ pid: number; query: string }>(
        'SELECT pid, query FROM pg_stat_activity WHERE pid = $1',
        [after!.pid],
      );
      expect(lookup?.query).toMatch(/FROM "jobterm"."kill_requests" WHERE id = \$1/);
    } finally {
      await requester.close();
    }
  });
});
