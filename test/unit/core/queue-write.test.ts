import { describe, expect, it } from 'vitest';
import { isTransientConnectionFailure, retryWhileUnreachable } from '../../../src/core/queue-write.js';

const FAST = { limitMs: 200, firstDelayMs: 5, maxDelayMs: 20 };
const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

describe('retryWhileUnreachable', () => {
  it('retries a write that meets a refused connection until it lands', async () => {
    let calls = 0;
    const value = await retryWhileUnreachable(async () => {
      if (++calls < 4) throw refused();
      return 'landed';
    }, FAST);
    expect(value).toBe('landed');
    expect(calls).toBe(4);
  });

  it('gives up with the last error once the limit has passed since the first failure', async () => {
    let calls = 0;
    const at = Date.now();
    await expect(
      retryWhileUnreachable(async () => {
        calls++;
        throw refused();
      }, FAST),
    ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(calls).toBeGreaterThan(2);
    // Bounded: never a pause past the limit (generous margin for a loaded machine).
    expect(Date.now() - at).toBeLessThan(2_000);
  });

  it('does not retry a statement the database refused', async () => {
    let calls = 0;
    const refusal = Object.assign(new Error('duplicate key'), { code: '23505' });
    await expect(
      retryWhileUnreachable(async () => {
        calls++;
        throw refusal;
      }, FAST),
    ).rejects.toBe(refusal);
    expect(calls).toBe(1);
  });
});

describe('isTransientConnectionFailure', () => {
  it.each([
    ['ECONNREFUSED', { code: 'ECONNREFUSED' }],
    ['ECONNRESET', { code: 'ECONNRESET' }],
    ['admin_shutdown (a restart, pg_terminate_backend)', { code: '57P01' }],
    ['cannot_connect_now (starting up)', { code: '57P03' }],
    ['connection_failure', { code: '08006' }],
    ["pg's lost connection", new Error('Connection terminated unexpectedly')],
    ["pg's connect timeout", new Error('timeout exceeded when trying to connect')],
    ['jobterm’s own, by name', { name: 'DatabaseUnavailableError', message: 'x' }],
    ['an AggregateError of refusals (IPv4 and IPv6)', { errors: [{ code: 'ECONNREFUSED' }, { code: 'ECONNREFUSED' }] }],
  ])('%s is transient', (_what, error) => {
    expect(isTransientConnectionFailure(error)).toBe(true);
  });

  it.each([
    ['a unique violation', { code: '23505' }],
    ['bad credentials', { code: '28P01' }],
    ['a missing database', { code: '3D000' }],
    ['a plain error', new Error('boom')],
    ['a string', 'ECONNREFUSED'],
    ['null', null],
  ])('%s is not', (_what, error) => {
    expect(isTransientConnectionFailure(error)).toBe(false);
  });
});
