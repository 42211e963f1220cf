import { describe, expect, it } from 'vitest';
import { makeReason } from '../../../../src/core/reason.js';
import type { KillRequest } from '../../../../src/core/store.js';
import { PendingRequests } from '../../../../src/stores/postgres/pending.js';

const request = (id: string, job: string, expiresIn = 60_000): KillRequest => ({
  id,
  ref: { queue: 'q', id: job },
  reason: makeReason('kill', 'x', { requestId: id }),
  expiresAt: new Date(Date.now() + expiresIn),
  status: 'pending',
});

describe('PendingRequests (the worker’s in-memory view of open requests)', () => {
  it('a full read adds and drops, and reports only what is new', () => {
    const pending = new PendingRequests();
    expect(pending.applyAll(pending.beginRead(), [request('a', '1'), request('b', '2')]).map((r) => r.id)).toEqual([
      'a',
      'b',
    ]);
    expect(pending.applyAll(pending.beginRead(), [request('b', '2')]).map((r) => r.id)).toEqual([]);
    expect(pending.get({ queue: 'q', id: '1' })).toBeUndefined();
    expect(pending.get({ queue: 'q', id: '2' })?.id).toBe('b');
    expect(pending.size).toBe(1);
  });

  it('a read that started before a local request does not drop it', () => {
    const pending = new PendingRequests();
    const read = pending.beginRead();
    pending.add(request('mine', '1'));
    pending.applyAll(read, []);
    expect(pending.get({ queue: 'q', id: '1' })?.id).toBe('mine');
  });

  it('a read that started before a resolution does not bring the request back', () => {
    const pending = new PendingRequests();
    pending.add(request('a', '1'));
    const slow = pending.beginRead();
    pending.remove('a');
    expect(pending.applyAll(slow, [request('a', '1')])).toEqual([]);
    expect(pending.get({ queue: 'q', id: '1' })).toBeUndefined();
    expect(pending.applySome(slow, ['a'], [request('a', '1')])).toEqual([]);
    expect(pending.get({ queue: 'q', id: '1' })).toBeUndefined();
  });

  it('an out-of-order older full read cannot drop what a newer lookup learned', () => {
    const pending = new PendingRequests();
    const older = pending.beginRead();
    pending.add(request('x', '0'));
    const newer = pending.beginRead();
    pending.applySome(newer, ['b'], [request('b', '2')]);
    pending.applyAll(older, []);
    expect(pending.get({ queue: 'q', id: '2' })?.id).toBe('b');
  });

  it('a lookup that finds an id closed drops it; a new id for the same job replaces the old one', () => {
    const pending = new PendingRequests();
    pending.add(request('a', '1'));
    pending.applySome(pending.beginRead(), ['a'], []);
    expect(pending.has('a')).toBe(false);
    pending.add(request('b', '2'));
    pending.add(request('c', '2'));
    expect(pending.has('b')).toBe(false);
    expect(pending.get({ queue: 'q', id: '2' })?.id).toBe('c');
  });

  it('an expired request is not applied, even before a read drops it', () => {
    const pending = new PendingRequests();
    pending.add(request('old', '1', -1));
    expect(pending.get({ queue: 'q', id: '1' })).toBeUndefined();
  });

  it('tombstones are forgotten once a later full read completes', () => {
    const pending = new PendingRequests();
    pending.add(request('a', '1'));
    pending.remove('a');
    pending.applyAll(pending.beginRead(), []);
    // Ids never come back in practice; this shows the tombstone no longer filters.
    pending.applyAll(pending.beginRead(), [request('a', '1')]);
    expect(pending.has('a')).toBe(true);
  });
});

describe('forgetOldTombstones (incremental polls never run applyAll)', () => {
  it('keeps a tombstone for a minute, then forgets it', () => {
    const pending = new PendingRequests();
    const request = {
      id: 'r1',
      ref: { queue: 'q', id: '1' },
      reason: { kind: 'kill' as const, message: 'x', requestedAt: new Date() },
      expiresAt: new Date(Date.now() + 60_000),
      status: 'pending' as const,
    };
    const before = pending.beginRead();
    pending.remove('r1');
    pending.forgetOldTombstones(1_000);
    // A read that started before the removal cannot bring it back.
    expect(pending.applySome(before, ['r1'], [request])).toEqual([]);
    pending.forgetOldTombstones(1_000 + 60_000);
    expect(pending.applySome(pending.beginRead(), ['r1'], [request])).toEqual([request]);
  });
});
