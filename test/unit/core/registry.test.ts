import { describe, expect, it } from 'vitest';
import { type RegisteredJob, Registry } from '../../../src/core/registry.js';

function entry(id: string, tag: string, queue = 'q', name?: string): RegisteredJob & { tag: string } {
  const ref = name === undefined ? { queue, id } : { queue, id, name };
  return {
    tag,
    ref,
    info: { ref, startedAt: new Date(), reason: undefined, deadline: undefined },
    terminate: () => false,
    escalate() {},
    done: Promise.resolve(),
  };
}

describe('Registry', () => {
  it('finds, lists and forgets jobs, including two runs of the same job at once', () => {
    const registry = new Registry();
    const a1 = entry('a', 'a1');
    const a2 = entry('a', 'a2');
    const b = entry('b', 'b');
    registry.add(a1);
    registry.add(b);
    registry.add(a2);
    expect(registry.size).toBe(3);
    expect(registry.find({ queue: 'q', id: 'a' }).map((j) => (j as typeof a1).tag)).toEqual(['a1', 'a2']);
    expect(registry.all()).toHaveLength(3);

    registry.delete(a1);
    expect(registry.find({ queue: 'q', id: 'a' })).toEqual([a2]);
    registry.delete(a1);
    expect(registry.size).toBe(2);
    registry.delete(a2);
    registry.delete(b);
    expect(registry.size).toBe(0);
    expect(registry.all()).toEqual([]);
    expect(registry.find({ queue: 'q', id: 'a' })).toEqual([]);
  });

  it('tells apart the same id in two queues, or two queue names of one system', () => {
    const registry = new Registry();
    const graphile = entry('7', 'graphile', 'graphile-worker');
    const bull = entry('7', 'bull', 'bullmq', 'emails');
    const otherBull = entry('7', 'other bull', 'bullmq', 'reports');
    for (const job of [graphile, bull, otherBull]) registry.add(job);
    expect(registry.find({ queue: 'graphile-worker', id: '7' })).toEqual([graphile]);
    expect(registry.find({ queue: 'bullmq', name: 'emails', id: '7' })).toEqual([bull]);
    expect(registry.find({ queue: 'bullmq', id: '7' })).toEqual([]);
    registry.delete(bull);
    expect(registry.find({ queue: 'bullmq', name: 'reports', id: '7' })).toEqual([otherBull]);
    expect(registry.find({ queue: 'graphile-worker', id: '7' })).toEqual([graphile]);
    registry.delete(otherBull);
    expect(registry.find({ queue: 'graphile-worker', id: '7' })).toEqual([graphile]);
    expect(registry.size).toBe(1);
  });

  it('lists jobs in the order they started, and finds them whether they came before or after the first find, and after it emptied', () => {
    const registry = new Registry();
    const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map((id) => entry(id, id));
    registry.add(a!);
    registry.add(b!);
    registry.add(c!);
    registry.delete(b!);
    expect(registry.all()).toEqual([a, c]);
    // The first find builds the index from the list; later adds and deletes keep it.
    expect(registry.find({ queue: 'q', id: 'c' })).toEqual([c]);
    expect(registry.find({ queue: 'q', id: 'b' })).toEqual([]);
    registry.add(d!);
    registry.delete(a!);
    expect(registry.find({ queue: 'q', id: 'd' })).toEqual([d]);
    expect(registry.find({ queue: 'q', id: 'a' })).toEqual([]);
    expect(registry.all()).toEqual([c, d]);
    registry.delete(c!);
    registry.delete(d!);
    expect(registry.size).toBe(0);
    expect(registry.all()).toEqual([]);
    // Empty, then used again: a job added now is found.
    registry.add(e!);
    expect(registry.find({ queue: 'q', id: 'e' })).toEqual([e]);
    expect(registry.all()).toEqual([e]);
    // A job deleted twice, or never added, changes nothing.
    registry.delete(a!);
    registry.delete(e!);
    registry.delete(e!);
    expect(registry.size).toBe(0);
  });
});
