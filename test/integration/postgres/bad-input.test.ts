import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import {
  isStoreUnavailableError,
  type PostgresStore,
  postgresStore,
  StoreUnavailableError,
} from '../../../src/stores/postgres/index.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';

describe('bad input to the PostgreSQL store and terminate(): a clear error, nothing inserted', () => {
  let db: TestDatabase;
  let store: PostgresStore;
  let terminator: Terminator;
  const count = async () =>
    (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM jobterm.kill_requests'))[0]?.n;

  beforeAll(async () => {
    db = await createTestDatabase('jobterm_pg_bad');
    store = postgresStore({ connectionString: db.url, receiveRequests: false, logger: silentLogger });
    await store.migrate();
    terminator = createTerminator({ store, logger: silentLogger });
  });
  afterEach(async () => {
    expect(await count()).toBe(0);
  });
  afterAll(async () => {
    await terminator?.close();
    await db?.drop();
  });

  it.each([
    ['an empty job id', { queue: 'q', id: '' }, {}, /Expected `job.id` to be a non-empty string/],
    ['a numeric job id', { queue: 'q', id: 42 }, {}, /Expected `job.id` to be a non-empty string.*got 42/],
    ['a missing queue', { id: '1' }, {}, /Expected `job.queue`/],
    ['an empty queue name', { queue: 'q', id: '1', name: '' }, {}, /Expected `job.name`/],
    ['a job id with NUL', { queue: 'q', id: 'a\0b' }, {}, /Expected `job.id`/],
    ['an unknown option', { queue: 'q', id: '1' }, { reson: 'typo' }, /Unknown option `reson`/],
    ['a reason over 1000 characters', { queue: 'q', id: '1' }, { reason: 'x'.repeat(1001) }, /`reason`.*at most 1000/],
    ['a non-string reason', { queue: 'q', id: '1' }, { reason: 7 }, /`reason`/],
    ['a requestedBy over 200 characters', { queue: 'q', id: '1' }, { requestedBy: 'x'.repeat(201) }, /`requestedBy`/],
    ['a negative timeout', { queue: 'q', id: '1' }, { wait: true, timeout: -1 }, /`timeout`/],
    // issue 10, item 6: what PostgreSQL refuses (NUL) or would silently change (a lone surrogate).
    ['a reason with NUL', { queue: 'q', id: '1' }, { reason: 'a\0b' }, /Expected `reason` to be a string without NUL/],
    [
      'a requestedBy with NUL',
      { queue: 'q', id: '1' },
      { requestedBy: 'al\0ice' },
      /Expected `requestedBy` to be a string without NUL/,
    ],
    [
      'a job id with a lone surrogate',
      { queue: 'q', id: 'a\uD800b' },
      {},
      /Expected `job.id` to be a string without NUL characters or unpaired surrogates/,
    ],
    ['a queue name with NUL', { queue: 'q', id: '1', name: 'x\0' }, {}, /Expected `job.name`/],
    ['a queue with a lone surrogate', { queue: '\uDC00', id: '1' }, {}, /Expected `job.queue`/],
    [
      'a graphile-worker job without its adapter',
      { queue: 'graphile-worker', id: '1' },
      {},
      /Expected `adapters` to include the graphile-worker adapter.*graphileWorkerAdapter\(\{ connectionString \}\)` from 'jobterm\/graphile-worker'/,
    ],
    [
      'a pg-boss job without its adapter',
      { queue: 'pg-boss', name: 'q', id: '0b7e8f52-8d2b-4c5e-9a3e-1f2a3b4c5d6e' },
      {},
      /Expected `adapters` to include the pg-boss adapter.*pgBossAdapter/,
    ],
    [
      'a bullmq job without its adapter',
      { queue: 'bullmq', name: 'q', id: '1' },
      {},
      /Expected `adapters` to include the bullmq adapter/,
    ],
  ])('terminate() with %s', async (_what, ref, options, message) => {
    const attempt = terminator.terminate(ref as never, options as never);
    await expect(attempt).rejects.toThrow(TypeError);
    await expect(terminator.terminate(ref as never, options as never)).rejects.toThrow(message);
  });

  it.each([
    ['no ref', { message: 'x' }, /`ref`/],
    ['an empty message', { ref: { queue: 'q', id: '1' }, message: '' }, /`message`/],
    ['a message over 1000 characters', { ref: { queue: 'q', id: '1' }, message: 'x'.repeat(1001) }, /`message`/],
    ['an expiry in the past', { ref: { queue: 'q', id: '1' }, message: 'x', expiresAt: new Date(0) }, /`expiresAt`/],
    ['an invalid expiry', { ref: { queue: 'q', id: '1' }, message: 'x', expiresAt: new Date('nope') }, /`expiresAt`/],
  ])('store.request() with %s', async (_what, input, message) => {
    await expect(store.request(input as never)).rejects.toThrow(TypeError);
    await expect(store.request(input as never)).rejects.toThrow(message);
  });

  it('a workerId the database cannot store is refused when the terminator is made, and by the store', async () => {
    expect(() => createTerminator({ store, workerId: 'w\0rker', logger: silentLogger })).toThrow(
      /Expected `workerId` to be a string without NUL characters/,
    );
    expect(() => createTerminator({ workerId: '\uD83D', logger: silentLogger })).toThrow(TypeError);
    await expect(store.resolve('00000000-0000-4000-8000-000000000000', 'terminated', 'w\0')).rejects.toThrow(
      /Expected `workerId`/,
    );
    await expect(store.markDelivered('00000000-0000-4000-8000-000000000000', 'w\0')).rejects.toThrow(TypeError);
    await expect(store.request({ ref: { queue: 'q', id: '1' }, message: 'a\0' })).rejects.toThrow(/Expected `message`/);
    await expect(store.request({ ref: { queue: 'q', id: '1' }, message: 'm', requestedBy: '\0' })).rejects.toThrow(
      /Expected `requestedBy`/,
    );
  });

  it('resolve, markDelivered and waitForResolution refuse ids that are not request ids', async () => {
    await expect(store.resolve("1'; DROP TABLE x; --", 'terminated', 'w')).rejects.toThrow(/`requestId`/);
    await expect(store.resolve('00000000-0000-4000-8000-000000000000', 'done' as never, 'w')).rejects.toThrow(
      /`outcome`/,
    );
    await expect(store.markDelivered('nope', 'w')).rejects.toThrow(TypeError);
    await expect(store.waitForResolution('nope', { timeout: 10 })).rejects.toThrow(TypeError);
  });

  it('a schema name with quotes is refused before any connection', () => {
    expect(() => postgresStore({ connectionString: db.url, schema: 'x"; DROP SCHEMA jobterm; --' })).toThrow(
      /Expected `schema` to be a lower-case SQL identifier/,
    );
  });

  it('a database that is down: terminate() and open() fail with DatabaseUnavailableError naming where, and close cleanly', async () => {
    const down = postgresStore({
      connectionString: 'postgres://postgres:secret@127.0.0.1:1/nowhere',
      logger: silentLogger,
      reconnectDelay: 50,
    });
    const worker = createTerminator({ store: down, logger: silentLogger });
    const opened = await worker.whenReady().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(opened).toMatchObject({ name: 'DatabaseUnavailableError' });
    // The name jobterm/postgres exported first still checks it.
    expect(isStoreUnavailableError(opened)).toBe(true);
    expect(opened).toBeInstanceOf(StoreUnavailableError);
    expect((opened as Error).message).toMatch(/^jobterm: could not reach PostgreSQL at 127\.0\.0\.1:1\/nowhere: /);
    const attempt = worker.terminate({ queue: 'q', id: '1' });
    await expect(attempt).rejects.toMatchObject({ name: 'DatabaseUnavailableError' });
    await expect(worker.terminate({ queue: 'q', id: '1' })).rejects.not.toThrow(/secret/);
    await worker.close();
    await worker.close();
  });
});
