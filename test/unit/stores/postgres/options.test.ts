import { describe, expect, it } from 'vitest';
import { LATEST_VERSION, MIGRATIONS } from '../../../../src/stores/postgres/migrations.js';
import { resolvePostgresStoreOptions } from '../../../../src/stores/postgres/options.js';
import { channelName, schemaNames } from '../../../../src/stores/postgres/schema.js';
import { postgresStore } from '../../../../src/stores/postgres/store.js';

const url = 'postgres://user:secret@127.0.0.1:1/db';

describe('postgresStore options', () => {
  it('fills defaults and never mutates the caller’s object', () => {
    const given = Object.freeze({ connectionString: url });
    const resolved = resolvePostgresStoreOptions(given);
    expect(resolved).toMatchObject({
      schema: 'jobterm',
      migrate: true,
      receiveRequests: true,
      pollInterval: 1_000,
      requestTtl: 7 * 24 * 60 * 60 * 1000,
      pruneInterval: false,
      reconnectDelay: 100,
      maxReconnectDelay: 5_000,
    });
  });

  it.each([
    [{ connectionString: url, schema: 'a"b' }, /Expected `schema` to be a lower-case SQL identifier.*got "a\\"b"/],
    [{ connectionString: url, schema: 'Jobs' }, /`schema`/],
    [{ connectionString: url, schema: '1jobs' }, /`schema`/],
    [{ connectionString: url, schema: 'x'.repeat(64) }, /`schema`/],
    [{ connectionString: url, schema: 'a; drop table x' }, /`schema`/],
    [{ connectionString: url, schemaName: 'x' }, /Unknown option `schemaName`/],
    [{}, /exactly one of `connectionString` and `pool`, got "neither"/],
    [{ connectionString: '' }, /`connectionString`/],
    [{ pool: {} }, /`pool` to be a pg.Pool/],
    [{ connectionString: url, pollInterval: -1 }, /`pollInterval`/],
    [{ connectionString: url, pollInterval: 0 }, /`pollInterval` to be a positive number/],
    [{ connectionString: url, requestTtl: 0 }, /`requestTtl`/],
    [{ connectionString: url, pruneInterval: true }, /`pruneInterval`/],
    [{ connectionString: url, migrate: 'yes' }, /`migrate` to be a boolean/],
    [{ connectionString: url, reconnectDelay: 500, maxReconnectDelay: 100 }, /`maxReconnectDelay`/],
    [{ connectionString: url, logger: { warn() {} } }, /`logger.debug`/],
  ])('refuses %j with a TypeError', (options, message) => {
    expect(() => postgresStore(options as never)).toThrow(TypeError);
    expect(() => postgresStore(options as never)).toThrow(message);
  });

  it('never echoes a connection string (it may hold a password)', () => {
    let message = '';
    try {
      postgresStore({ connectionString: url, pool: {} } as never);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/got "both"/);
    expect(message).not.toContain('secret');
  });
});

describe('schema names', () => {
  it('quotes every identifier and derives one set of channels per schema', () => {
    expect(schemaNames('jobterm')).toEqual({
      schema: 'jobterm',
      quotedSchema: '"jobterm"',
      requests: '"jobterm"."kill_requests"',
      progress: '"jobterm"."progress"',
      migrations: '"jobterm"."migrations"',
      markDelivered: '"jobterm"."mark_delivered"',
      resolveRequest: '"jobterm"."resolve_request"',
      hash: expect.stringMatching(/^[0-9a-f]{8}$/),
      requestChannel: 'jobterm:kill_request',
      resolvedChannel: 'jobterm:kill_resolved',
      forceChannel: 'jobterm:kill_force',
    });
    expect(schemaNames('user').quotedSchema).toBe('"user"');
  });

  it('keeps channel names under PostgreSQL’s 64-byte limit and distinct for long schema names', () => {
    const a = channelName(`${'a'.repeat(62)}x`, 'kill_resolved');
    const b = channelName(`${'a'.repeat(62)}y`, 'kill_resolved');
    expect(a.length).toBeLessThanOrEqual(63);
    expect(a).not.toBe(b);
  });
});

describe('migrations', () => {
  it('are numbered 1..n so appending one is a one-entry change', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(Array.from({ length: LATEST_VERSION }, (_, i) => i + 1));
    for (const migration of MIGRATIONS) expect(migration.sql(schemaNames('s'))).toContain('"s".');
  });
});
