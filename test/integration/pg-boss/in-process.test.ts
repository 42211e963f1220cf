// pgBossJobterm with real pg-boss 12 workers and terminate() in the same
// process (no store): kills of running and queued jobs, late results,
// escalation, pg-boss's own expiry, batches, maxRuntime, terminate()'s
// answers, bad input, and that nothing is left behind.
import { getEventListeners } from 'node:events';
import { PgBoss } from 'pg-boss';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pgBossJobterm } from '../../../src/adapters/pg-boss/index.js';
import { currentToken, isTerminating } from '../../../src/core/context.js';
import { isJobTerminatedError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { markProgressSaved } from '../../../src/middleware/run-job.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';
import { jobRow, until, waitForRow } from '../../fixtures/pg-boss/rows.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';

// Notify queues poll every 30 s while NOTIFY is active; retries send no NOTIFY, so poll fast.
const FAST = { pollingIntervalSeconds: 0.5, notifyPollingIntervalSeconds: 0.5 } as const;

describe('pg-boss adapter, in one process', () => {
  let db: TestDatabase;
  let boss: PgBoss;
  let terminator: Terminator;
  let jt: ReturnType<typeof pgBossJobterm>;
  const events: string[] = [];
  let queueSeq = 0;

  beforeAll(async () => {
    db = await createTestDatabase('jobterm_pgboss');
    boss = new PgBoss({ connectionString: db.url, schedule: false, supervise: false, useListenNotify: true });
    boss.on('error', () => {});
    await boss.start();
    terminator = createTerminator({ killTimeout: 1_000, shutdownTimeout: 2_000, logger: silentLogger });
    for (const event of ['terminated', 'interrupted', 'escalated', 'unresponsive'] as const) {
      terminator.on(event, (payload) => events.push(`${event}:${payload.ref.id}`));
    }
    terminator.on('error', ({ error, during }) => events.push(`error:${during}:${String(error)}`));
    jt = pgBossJobterm({ boss, terminator, stopBoss: { timeout: 2_000 } });
  });

  afterEach(() => {
    // Every test leaves nothing registered and reports no settle error.
    expect(terminator.running()).toEqual([]);
    expect(events.filter((e) => e.startsWith('error:'))).toEqual([]);
    events.length = 0;
  });

  afterAll(async () => {
    jt?.dispose();
    await boss?.stop({ graceful: false }).catch(() => undefined);
    await terminator?.close();
    await db?.drop();
  });

  async function queue(options: Record<string, unknown> = {}): Promise<string> {
    const name = `q${++queueSeq}`;
    await boss.createQueue(name, { notify: true, ...options });
    return name;
  }

  it('a job without the fields jobterm relies on (pg-boss before 12.38 has no retryCount) is refused, naming them', async () => {
    const name = await queue({ retryLimit: 0 });
    let ran = false;
    const handler = jt.handler(async () => {
      ran = true;
      return 'done';
    });
    // What a pg-boss build without `retryCount` hands a handler: the job, less that field.
    await boss.work(name, FAST, (jobs) =>
      handler(jobs.map(({ retryCount: _dropped, ...rest }) => rest as unknown as (typeof jobs)[number])),
    );
    const id = (await boss.send(name, {}))!;
    const row = await waitForRow(db.pool, id, (r) => r.state === 'failed');
    expect(ran).toBe(false);
    expect(row.output).toMatchObject({
      name: 'TypeError',
      message: expect.stringContaining(
        `Expected pg-boss job ${id} to have \`retryCount\` (a number: the attempt fence`,
      ),
    });
    expect((row.output as { message: string }).message).toMatch(/jobterm needs pg-boss 12\.38 or later/);
    await boss.offWork(name);
    // Several missing at once are all named.
    await expect(jt.eachJob(async () => 'never')([{ data: {} } as never])).rejects.toThrow(
      /^Expected each pg-boss job to have `id` \(a string: the job id\), `name` \(a string: the queue name\), `retryCount` .*, `expireInSeconds` .*, got a job without them/,
    );
  });

  it('runs a job to completion with its token in context and as job.token', async () => {
    const name = await queue();
    const seen: Record<string, unknown> = {};
    await boss.work<{ n: number }>(
      name,
      FAST,
      jt.handler(async ([job]) => {
        seen.sameToken = currentToken() === job!.token;
        seen.signalIsToken = job!.signal === job!.token.signal;
        seen.terminating = isTerminating();
        return { doubled: job!.data.n * 2 };
      }),
    );
    const id = (await boss.send(name, { n: 21 }))!;
    const row = await waitForRow(db.pool, id, (r) => r.state === 'completed');
    expect(row.output).toEqual({ doubled: 42 });
    expect(row.retry_count).toBe(0);
    expect(seen).toEqual({ sameToken: true, signalIsToken: true, terminating: false });
    await boss.offWork(name);
  });

  it('kill of a running job: the handler sees the kill, the job is cancelled and never retried', async () => {
    const name = await queue({ retryLimit: 3 });
    const seen: Array<Record<string, unknown>> = [];
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    await boss.work(
      name,
      FAST,
      jt.handler(async ([job]) => {
        started();
        await new Promise<void>((resolve) => job!.signal.addEventListener('abort', () => resolve(), { once: true }));
        seen.push({
          kind: currentToken()?.reason?.kind,
          terminating: isTerminating(),
          errorName: (job!.signal.reason as Error).name,
        });
        job!.token.throwIfTerminating();
      }),
    );
    const id = (await boss.send(name, {}))!;
    await running;
    const result = await terminator.terminate(
      { queue: 'pg-boss', name, id },
      { reason: 'deploy rollback', requestedBy: 'ops', wait: true },
    );
    expect(result.status).toBe('terminated');
    const row = await jobRow(db.pool, id);
    expect(row).toMatchObject({ state: 'cancelled', retry_count: 0 });
    expect(row!.output).toMatchObject({
      name: 'JobTerminatedError',
      message: 'Terminated: deploy rollback (by ops)',
      reason: { kind: 'kill', requestedBy: 'ops' },
    });
    expect(seen).toEqual([{ kind: 'kill', terminating: true, errorName: 'JobTerminatedError' }]);
    // pg-boss's own settle ran after the wrapper returned and changed nothing; nothing retries it.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(await jobRow(db.pool, id)).toMatchObject({ state: 'cancelled', retry_count: 0 });
    expect(events).toEqual([`terminated:${id}`]);
    await boss.offWork(name);
  });

  it('kill: a handler that saw the kill and returns a value does not complete the job', async () => {
    const name = await queue();
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    await boss.work(
      name,
      FAST,
      jt.handler(async ([job]) => {
        started();
        await new Promise((resolve) => job!.signal.addEventListener('abort', resolve, { once: true }));
        // It looked: a return after that is stopping early (a listener alone would not count).
        return { late: true, stopping: job!.token.isTerminating() };
      }),
    );
    const id = (await boss.send(name, {}))!;
    await running;
    expect((await terminator.terminate({ queue: 'pg-boss', name, id }, { wait: true })).status).toBe('terminated');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const row = await jobRow(db.pool, id);
    expect(row?.state).toBe('cancelled');
    expect(row?.output).toMatchObject({ message: 'Terminated: terminated by request' });
    await boss.offWork(name);
  });

  it('kill of a handler that ignores its signal: cancelled after killTimeout, its late result ignored', async () => {
    const name = await queue();
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    let finished = false;
    await boss.work(
      name,
      FAST,
      jt.handler(async () => {
        started();
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        finished = true;
        return 'too late';
      }),
    );
    const id = (await boss.send(name, {}))!;
    await running;
    const result = await terminator.terminate({ queue: 'pg-boss', name, id }, { wait: true, timeout: 5_000 });
    expect(result.status).toBe('terminated');
    expect(finished).toBe(false);
    expect([...events].sort()).toEqual([`escalated:${id}`, `terminated:${id}`, `unresponsive:${id}`]);
    expect((await jobRow(db.pool, id))?.state).toBe('cancelled');
    await until(() => finished, 5_000, 'the ignored handler to finish');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await jobRow(db.pool, id)).toMatchObject({ state: 'cancelled', retry_count: 0 });
    await boss.offWork(name);
  });

  it('kill of a queued job: cancelled before it runs, through pg-boss', async () => {
    const name = await queue();
    let ran = false;
    await boss.work(
      name,
      FAST,
      jt.handler(async () => {
        ran = true;
      }),
    );
    const id = (await boss.send(name, {}, { startAfter: 2 }))!;
    const result = await terminator.terminate({ queue: 'pg-boss', name, id }, { reason: 'not needed' });
    expect(result.status).toBe('terminated');
    const row = await jobRow(db.pool, id);
    expect(row).toMatchObject({ state: 'cancelled', retry_count: 0, started_on: null });
    expect(row!.output).toMatchObject({ message: 'Terminated: not needed' });
    await new Promise((resolve) => setTimeout(resolve, 2_800));
    expect(ran).toBe(false);
    await boss.offWork(name);
  });

  it('terminate() answers already_finished and not_found for pg-boss jobs', async () => {
    const name = await queue();
    await boss.work(
      name,
      FAST,
      jt.handler(async () => 'ok'),
    );
    const id = (await boss.send(name, {}))!;
    await waitForRow(db.pool, id, (r) => r.state === 'completed');
    expect((await terminator.terminate({ queue: 'pg-boss', name, id })).status).toBe('already_finished');
    expect((await terminator.terminate({ queue: 'pg-boss', name, id: crypto.randomUUID() })).status).toBe('not_found');
    expect((await terminator.terminate({ queue: 'pg-boss', name: 'no-such-queue', id })).status).toBe('not_found');
    // An id that cannot be pg-boss's is a usage error (issue 10, item 4), not `not_found`.
    await expect(terminator.terminate({ queue: 'pg-boss', name, id: 'not-a-uuid' })).rejects.toThrow(
      /Expected `job.id` to be a pg-boss job id \(a UUID\), got "not-a-uuid"/,
    );
    await expect(terminator.terminate({ queue: 'pg-boss', id })).rejects.toThrow(
      /Expected `job.name` to be the pg-boss queue name/,
    );
    // A cancelled job is finished too.
    const queued = (await boss.send(name, {}, { startAfter: 60 }))!;
    await boss.cancel(name, queued);
    expect((await terminator.terminate({ queue: 'pg-boss', name, id: queued })).status).toBe('already_finished');
    await boss.offWork(name);
  });

  it("pg-boss's expiry reaches the token as a timeout, and pg-boss's retry rules apply", async () => {
    const name = await queue({ expireInSeconds: 1, retryLimit: 1 });
    const seen: Array<string | undefined> = [];
    await boss.work(
      name,
      FAST,
      jt.handler(async ([job]) => {
        await new Promise((resolve) => job!.signal.addEventListener('abort', resolve, { once: true }));
        seen.push(`${job!.token.reason?.kind}: ${job!.token.reason?.message}`);
        job!.token.throwIfTerminating();
      }),
    );
    const id = (await boss.send(name, {}))!;
    // The first attempt expires and is retried; the retry expires too and fails for good.
    const row = await waitForRow(db.pool, id, (r) => r.state === 'failed', 10_000);
    expect(row.retry_count).toBe(1);
    expect(row.output).toMatchObject({ message: 'handler execution exceeded 1s' });
    expect(seen).toEqual([
      'timeout: pg-boss expired the job after 1 s (expireInSeconds)',
      'timeout: pg-boss expired the job after 1 s (expireInSeconds)',
    ]);
    await boss.offWork(name);
  });

  it('maxRuntime: a job that saved progress goes back without spending an attempt; one that did not fails', async () => {
    const local = pgBossJobterm({ boss, terminator, maxRuntime: 300 });
    const saving = await queue({ retryLimit: 2 });
    const attempts: number[] = [];
    await boss.work(
      saving,
      FAST,
      local.handler(async ([job]) => {
        attempts.push(job!.retryCount);
        if (attempts.length > 1) return 'resumed';
        markProgressSaved(job!.token);
        await new Promise((resolve) => job!.signal.addEventListener('abort', resolve, { once: true }));
        job!.token.throwIfTerminating();
      }),
    );
    const id = (await boss.send(saving, {}))!;
    const done = await waitForRow(db.pool, id, (r) => r.state === 'completed');
    expect(done).toMatchObject({ retry_count: 0, output: { value: 'resumed' } });
    expect(attempts).toEqual([0, 0]);
    await boss.offWork(saving);

    const plain = await queue({ retryLimit: 0 });
    await boss.work(
      plain,
      FAST,
      local.handler(async ([job]) => {
        await new Promise((resolve) => job!.signal.addEventListener('abort', resolve, { once: true }));
        job!.token.throwIfTerminating();
      }),
    );
    const failedId = (await boss.send(plain, {}))!;
    const failed = await waitForRow(db.pool, failedId, (r) => r.state === 'failed');
    expect(failed.output).toMatchObject({
      name: 'JobTerminatedError',
      message: 'Timed out: maxRuntime of 300 ms reached',
    });
    await boss.offWork(plain);
    local.dispose();
    // dispose() of a second instance removed its adapter; put the test's own back.
    jt.dispose();
    jt = pgBossJobterm({ boss, terminator, stopBoss: { timeout: 2_000 } });
  });

  it('batch via handler(): each job has its own token; killing one cancels only that one', async () => {
    const name = await queue();
    const ids = await Promise.all([0, 1, 2].map(async (n) => (await boss.send(name, { n }))!));
    let batch!: (ids: string[]) => void;
    const gotBatch = new Promise<string[]>((resolve) => {
      batch = resolve;
    });
    const skipped: string[] = [];
    await boss.work(
      name,
      { ...FAST, batchSize: 3 },
      jt.handler(async (jobs) => {
        batch(jobs.map((j) => j.id));
        expect(new Set(jobs.map((j) => j.token)).size).toBe(3);
        expect(currentToken()).toBeUndefined();
        await new Promise((resolve) => setTimeout(resolve, 400));
        for (const job of jobs) if (job.token.isTerminating()) skipped.push(job.id);
        return 'batch done';
      }),
    );
    const fetched = await gotBatch;
    expect(fetched.sort()).toEqual([...ids].sort());
    const victim = ids[1]!;
    expect((await terminator.terminate({ queue: 'pg-boss', name, id: victim }, { wait: true })).status).toBe(
      'terminated',
    );
    for (const id of ids) {
      const row = await waitForRow(db.pool, id, (r) => r.state !== 'active');
      expect(row.state).toBe(id === victim ? 'cancelled' : 'completed');
      expect(row.retry_count).toBe(0);
    }
    expect(skipped).toEqual([victim]);
    await boss.offWork(name);
  });

  it('batch via handler(): a handler that throws fails every job as pg-boss does, and each job’s run ends with it', async () => {
    const name = await queue({ retryLimit: 1, retryDelay: 60 });
    const ids = await Promise.all([0, 1, 2].map(async (n) => (await boss.send(name, { n }))!));
    let calls = 0;
    await boss.work(
      name,
      { ...FAST, batchSize: 3 },
      jt.handler(async (jobs) => {
        calls++;
        expect(jobs).toHaveLength(3);
        throw new Error('the whole batch failed');
      }),
    );
    for (const id of ids) {
      // pg-boss's own fail: waiting for its retry (retry_count counts the attempt once it starts).
      const row = await waitForRow(db.pool, id, (r) => r.state !== 'created' && r.state !== 'active');
      expect(row).toMatchObject({ state: 'retry', output: { message: 'the whole batch failed' } });
    }
    expect(calls).toBe(1);
    // Every job of the batch settled (afterEach: nothing left running, no settle error).
    await until(() => terminator.running().length === 0, 5_000, 'the batch’s runs to end');
    await boss.offWork(name);
  });

  it('batch via eachJob() with perJobResults: per-job outputs, one failure retried, one kill cancelled', async () => {
    const name = await queue({ retryLimit: 1, retryDelay: 60 });
    for (const n of [0, 1, 2]) await boss.send(name, { n });
    const started = new Set<string>();
    await boss.work<{ n: number }>(
      name,
      { ...FAST, batchSize: 3, perJobResults: true },
      jt.eachJob(async (job) => {
        started.add(job.id);
        expect(currentToken()).toBe(job.token);
        if (job.data.n === 1) throw new Error('bad input');
        if (job.data.n === 2) {
          await new Promise((resolve) => job.signal.addEventListener('abort', resolve, { once: true }));
          throw job.signal.reason;
        }
        return { n: job.data.n };
      }),
    );
    await until(() => started.size === 3, 10_000, 'the batch to start');
    const byN = async (n: number) =>
      (
        await db.query<{ id: string }>(`SELECT id FROM pgboss.job WHERE name = $1 AND data->>'n' = $2`, [
          name,
          String(n),
        ])
      )[0]!.id;
    const killed = await byN(2);
    expect((await terminator.terminate({ queue: 'pg-boss', name, id: killed }, { wait: true })).status).toBe(
      'terminated',
    );
    expect(await waitForRow(db.pool, await byN(0), (r) => r.state === 'completed')).toMatchObject({ output: { n: 0 } });
    const failed = await waitForRow(db.pool, await byN(1), (r) => r.state === 'retry');
    expect(failed.output).toMatchObject({ message: 'bad input' });
    expect(await jobRow(db.pool, killed)).toMatchObject({ state: 'cancelled', retry_count: 0 });
    await boss.offWork(name);
  });

  it('batch via eachJob() without perJobResults: jobterm fails the failed job, pg-boss completes the rest', async () => {
    const name = await queue({ retryLimit: 0 });
    const ids = await Promise.all([0, 1].map(async (n) => (await boss.send(name, { n }))!));
    await boss.work<{ n: number }>(
      name,
      { ...FAST, batchSize: 2 },
      jt.eachJob(async (job) => {
        if (job.data.n === 1) throw new Error('second one fails');
        return 'fine';
      }),
    );
    const [ok, bad] = await Promise.all(
      ids.map((id) => waitForRow(db.pool, id, (r) => r.state !== 'created' && r.state !== 'active')),
    );
    expect(ok?.state).toBe('completed');
    expect(bad).toMatchObject({ state: 'failed', output: { message: 'second one fails' } });
    await boss.offWork(name);
  });

  it('leaves no listener on pg-boss’s signal and nothing in the registry', async () => {
    const name = await queue();
    const originals: Array<{ signal: AbortSignal }> = [];
    const wrapped = jt.handler(async () => 'ok');
    await boss.work(name, FAST, async (jobs) => {
      originals.push(...jobs);
      return wrapped(jobs);
    });
    const id = (await boss.send(name, {}))!;
    await waitForRow(db.pool, id, (r) => r.state === 'completed');
    expect(originals).toHaveLength(1);
    expect(getEventListeners(originals[0]!.signal, 'abort')).toHaveLength(0);
    expect(terminator.running()).toEqual([]);
    await boss.offWork(name);
  });

  it('rejects bad input with TypeErrors before touching anything', () => {
    expect(() => pgBossJobterm({ boss: {} as never, terminator })).toThrow(/Expected `boss` to be a PgBoss instance/);
    expect(() => pgBossJobterm({ boss, terminator: {} as never })).toThrow(/Expected `terminator` to be a Terminator/);
    expect(() => pgBossJobterm({ boss, terminator, schema: 'x; drop table' })).toThrow(
      /Expected `schema` to be a PostgreSQL schema name/,
    );
    expect(() => pgBossJobterm({ boss, terminator, maxRuntime: -1 })).toThrow(TypeError);
    expect(() => pgBossJobterm({ boss, terminator, extra: 1 } as never)).toThrow(
      /Unknown option `extra` in `pgBossJobterm\(\) options`: expected one of boss, terminator/,
    );
    expect(() => jt.handler('nope' as never)).toThrow(/Expected `fn` to be a function/);
    expect(() => jt.eachJob(async () => {}, { perJobResults: 'yes' as never })).toThrow(
      /Expected `perJobResults` to be a boolean/,
    );
    expect(isJobTerminatedError(new Error('x'))).toBe(false);
  });
});
