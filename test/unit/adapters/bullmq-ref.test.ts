import { describe, expect, it } from 'vitest';
import { alreadyMoved, unrecoverable } from '../../../src/adapters/bullmq/errors.js';
import { bullmqRef, checkBullmqRef, splitId, timestampText } from '../../../src/adapters/bullmq/ref.js';
import { StoredRef, validateJobRef } from '../../../src/core/job-ref.js';
import { makeReason } from '../../../src/core/reason.js';

describe('BullMQ job references', () => {
  it('name a job by its id and creation timestamp', () => {
    expect(bullmqRef({ id: '42', queueName: 'mail', timestamp: 1700000000123 })).toEqual({
      queue: 'bullmq',
      name: 'mail',
      id: '42@1700000000123',
    });
    expect(() => bullmqRef({ id: undefined, queueName: 'mail', timestamp: 1 })).toThrow('Expected `job.id`');
  });

  it('print the timestamp as String() does, in every range', () => {
    const timestamps = [
      0,
      1,
      99_999_999,
      100_000_000,
      100_000_001,
      1_700_000_000_000,
      1_700_000_000_001,
      1_700_000_100_000,
      1_764_600_000_123,
      9_999_999_999_999,
      Number.MAX_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER + 2,
      1.5,
      -5,
      1e21,
    ];
    for (const timestamp of timestamps) expect(timestampText(timestamp)).toBe(String(timestamp));
    for (let i = 0; i < 2_000; i++) {
      const timestamp = Math.floor(Math.random() * 4e12);
      expect(timestampText(timestamp)).toBe(String(timestamp));
    }
  });

  it('are checked once as built: storable text is a StoredRef validateJobRef takes as it is; other text is refused there', () => {
    const ref = bullmqRef({ id: '42', queueName: 'mail', timestamp: 1700000000123 });
    expect(ref).toBeInstanceOf(StoredRef);
    expect(validateJobRef(ref)).toBe(ref);
    // A custom jobId with NUL or a lone surrogate (Redis holds any bytes): refused by name, as a user's ref is.
    const nul = bullmqRef({ id: 'a\0b', queueName: 'mail', timestamp: 1 });
    expect(nul).not.toBeInstanceOf(StoredRef);
    expect(() => validateJobRef(nul)).toThrow(/job\.id.*without NUL/);
    expect(() => validateJobRef(bullmqRef({ id: '1', queueName: '\uD800', timestamp: 1 }))).toThrow(/job\.name/);
    // A queue name that passed once is not scanned again, and a bad one after it is still refused.
    expect(bullmqRef({ id: '2', queueName: 'mail', timestamp: 2 })).toBeInstanceOf(StoredRef);
    expect(() => validateJobRef(bullmqRef({ id: '3', queueName: '', timestamp: 3 }))).toThrow(/job\.name/);
    expect(() =>
      validateJobRef(bullmqRef({ id: 'x'.repeat(510), queueName: 'mail', timestamp: 1_700_000_000_000 })),
    ).toThrow(/job\.id.*at most 512/);
  });

  it('split on the last @ followed by digits only, so custom ids may hold @', () => {
    expect(splitId('42@1700000000123')).toEqual({ jobId: '42', timestamp: 1700000000123 });
    expect(splitId('a@b@17')).toEqual({ jobId: 'a@b', timestamp: 17 });
    expect(splitId('user@example.com')).toEqual({ jobId: 'user@example.com', timestamp: undefined });
    expect(splitId('@17')).toEqual({ jobId: '@17', timestamp: undefined });
  });

  it('follow BullMQ 6.7’s id rules: no `:` except its three-part repeat ids; a queue name is required', () => {
    expect(checkBullmqRef({ queue: 'bullmq', name: 'q', id: 'repeat:key:1700' })).toMatchObject({
      jobId: 'repeat:key:1700',
    });
    expect(() => checkBullmqRef({ queue: 'bullmq', name: 'q', id: 'a:b' })).toThrow(
      'Expected `job.id` to be a BullMQ job id',
    );
    expect(() => checkBullmqRef({ queue: 'bullmq', id: '1' })).toThrow(
      'Expected `job.name` to be the BullMQ queue name',
    );
    expect(() => checkBullmqRef({ queue: 'bullmq', name: 'a:b', id: '1' })).toThrow(
      'Expected `job.name` to be a BullMQ queue name',
    );
  });

  it('make the errors BullMQ recognises by name', () => {
    const error = unrecoverable(makeReason('kill', 'stop', { requestedBy: 'alice' }));
    expect(error).toMatchObject({ name: 'UnrecoverableError', message: 'Terminated: stop (by alice)' });
    expect(alreadyMoved().name).toBe('WaitingError');
  });
});
