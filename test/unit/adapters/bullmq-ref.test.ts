import { describe, expect, it } from 'vitest';
import { alreadyMoved, unrecoverable } from '../../../src/adapters/bullmq/errors.js';
import { bullmqRef, checkBullmqRef, splitId } from '../../../src/adapters/bullmq/ref.js';
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
