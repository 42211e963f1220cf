import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import type { PresenceRecord } from '../../../src/core/presence.js';
import { type PostgresStore, postgresStore } from '../../../src/stores/postgres/index.js';
import { createTerminator } from '../../../src/terminator/terminator.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';

const SECRET = 'a'.repeat(64);

function record(instanceId: string, overrides: Partial<PresenceRecord> = {}): PresenceRecord {
  return {
    instanceId,
    workerId: `w-${instanceId.slice(0, 4)}`,
    host: 'h',
    pid: 1,
    queues: [{ queue: 'graphile-worker', queueIds: [`pool-${instanceId}`] }],
    versions: { jobterm: '0', node: process.versions.node },
    startedAt: new Date(),
    heartbeatInterval: 100,
    deadAfter: 400,
    jobs: [{ ref: { queue: 'graphile-worker', id: '7' }, task: 't', attempt: 1, startedAt: new Date() }],
    ...overrides,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('presence in PostgreSQL (migration 4)', () => {
  let db: TestDatabase;
  let store: PostgresStore;
  beforeAll(async () => {
    db = await createTestDatabase('jobterm_fleet_presence');
    store = postgresStore({ connectionString: db.url, logger: silentLogger, receiveRequests: false });
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('a heartbeat creates then refreshes the row; fleet() lists it with its jobs; deregister removes it', async () => {
    const id = '00000000-0000-4000-8000-000000000001';
    expect(await store.heartbeat(record(id), SECRET)).toBe('created');
    expect(await store.heartbeat(record(id), SECRET)).toBe('refreshed');
    const snapshot = await store.fleet();
    const worker = snapshot.workers.find((w) => w.instanceId === id);
    expect(worker).toMatchObject({ workerId: 'w-0000', alive: true, pid: 1 });
    expect(worker?.jobs).toEqual([
      expect.objectContaining({
        ref: { queue: 'graphile-worker', id: '7' },
        task: 't',
        attempt: 1,
        termination: { state: 'none' },
      }),
    ]);
    await store.deregister(id, SECRET);
    expect((await store.fleet()).workers.some((w) => w.instanceId === id)).toBe(false);
  });

  it('fleet() reads a cursor and an open request for the jobs that have one, and none for the rest', async () => {
    const id = '00000000-0000-4000-8000-00000000000c';
    const jobs = ['70', '71', '72'].map((jobId) => ({
      ref: { queue: 'mine', id: jobId },
      task: 't',
      attempt: 1,
      startedAt: new Date(),
    }));
    expect(await store.heartbeat(record(id, { jobs }), SECRET)).toBe('created');
    const requester = createTerminator({ store, logger: silentLogger, presence: false });
    try {
      await store.progress!.save({ queue: 'mine', id: '70' }, { after: 41 });
      await requester.terminate({ queue: 'mine', id: '71' }, { reason: 'stop it', requestedBy: 'me' });
      const listed = (await store.fleet()).workers.find((w) => w.instanceId === id)!.jobs;
      const byId = new Map(listed.map((job) => [job.ref.id, job]));
      expect(byId.get('70')).toMatchObject({ cursor: { after: 41 }, termination: { state: 'none' } });
      expect(byId.get('71')?.termination).toMatchObject({ state: 'requested', message: 'stop it', requestedBy: 'me' });
      expect(byId.get('71')).not.toHaveProperty('cursor');
      expect(byId.get('72')).toEqual(expect.objectContaining({ termination: { state: 'none' } }));
      expect(byId.get('72')).not.toHaveProperty('cursor');
    } finally {
      // Not requester.close(): it would close the store this file shares.
      await store.deregister(id, SECRET);
    }
  });

  it('only the holder of the secret refreshes or removes a row', async () => {
    const id = '00000000-0000-4000-8000-000000000002';
    await store.heartbeat(record(id), SECRET);
    await expect(store.heartbeat(record(id), 'b'.repeat(64))).rejects.toMatchObject({ code: '42501' });
    await store.deregister(id, 'b'.repeat(64));
    expect((await store.fleet()).workers.some((w) => w.instanceId === id)).toBe(true);
    await store.deregister(id, SECRET);
  });

  it('a queue id belongs to one worker: a second row cannot claim a live pool', async () => {
    const a = '00000000-0000-4000-8000-000000000003';
    const b = '00000000-0000-4000-8000-000000000004';
    await store.heartbeat(record(a), SECRET);
    await expect(
      store.heartbeat(record(b, { queues: [{ queue: 'graphile-worker', queueIds: [`pool-${a}`] }] }), SECRET),
    ).rejects.toMatchObject({ code: '23505' });
    await store.deregister(a, SECRET);
  });

  it('a dead row is claimed once, only past its own threshold, and refused to its worker meanwhile', async () => {
    const id = '00000000-0000-4000-8000-000000000005';
    await store.heartbeat(record(id), SECRET);
    const claim = () => store.claimDead('rescuer', { lease: 30_000, limit: 10, queues: ['graphile-worker'] });
    expect(await claim()).toEqual([]);
    await sleep(600);
    // A rescuer that handles no graphile-worker cannot claim it.
    expect(await store.claimDead('other', { lease: 30_000, limit: 10, queues: ['pg-boss'] })).toEqual([]);
    const [first, second] = await Promise.all([claim(), claim()]);
    const claimed = [...(first ?? []), ...(second ?? [])];
    expect(claimed.map((w) => w.instanceId)).toEqual([id]);
    expect(claimed[0]?.jobs[0]?.ref).toEqual({ queue: 'graphile-worker', id: '7' });
    expect(await store.heartbeat(record(id), SECRET)).toBe('refused');
    await store.completeRescue(id, 'rescuer');
    expect((await store.fleet({ includeDead: true })).workers.some((w) => w.instanceId === id)).toBe(false);
    // The worker came back: it registers again.
    expect(await store.heartbeat(record(id), SECRET)).toBe('created');
    await store.deregister(id, SECRET);
  });

  it('a terminator that runs a job heartbeats it and leaves the fleet on close; kill states are current', async () => {
    const workerStore = postgresStore({ connectionString: db.url, logger: silentLogger });
    const terminator = createTerminator({
      store: workerStore,
      logger: silentLogger,
      workerId: 'in-process',
      // 40 beats before it counts as dead: a loaded machine's stall must not drop it from the fleet mid-test.
      presence: { heartbeatInterval: 100, deadAfterBeats: 40 },
      killTimeout: 200,
    });
    let release!: () => void;
    const job = terminator.run(
      { queue: 'q', id: 'slow' },
      (token) =>
        new Promise<void>((resolve) => {
          release = resolve;
          token.onTerminate(() => undefined);
        }),
    );
    const find = async () =>
      (await store.fleet({ worker: 'in-process' })).workers[0]?.jobs.find((j) => j.ref.id === 'slow');
    for (const deadline = Date.now() + 10_000; (await find()) === undefined; await sleep(20)) {
      if (Date.now() > deadline) throw new Error('never listed');
    }
    expect((await find())?.termination.state).toBe('none');
    const requester = createTerminator({ store, logger: silentLogger, presence: false });
    await requester.terminate({ queue: 'q', id: 'slow' }, { reason: 'stop it', requestedBy: 'me' });
    for (const deadline = Date.now() + 10_000; (await find())?.termination.state !== 'signalled'; await sleep(20)) {
      if (Date.now() > deadline) throw new Error(`never signalled: ${JSON.stringify(await find())}`);
    }
    expect((await find())?.termination).toMatchObject({ kind: 'kill', message: 'stop it', requestedBy: 'me' });
    // The job ignores the token: escalation after killTimeout is recorded on the request.
    await job;
    const [row] = await db.query(
      "SELECT signalled_at, escalated_at, escalated_by FROM jobterm.kill_requests WHERE job_id = 'slow'",
    );
    expect(row?.signalled_at).toBeInstanceOf(Date);
    expect(row?.escalated_at).toBeInstanceOf(Date);
    expect(row?.escalated_by).toBe('in-process');
    release();
    await terminator.close();
    expect((await store.fleet({ includeDead: true })).workers.some((w) => w.workerId === 'in-process')).toBe(false);
  });
});
