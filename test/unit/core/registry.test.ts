import { describe, expect, it } from 'vitest';
import { refKey } from '../../../src/core/job-ref.js';
import { type RegisteredJob, Registry } from '../../../src/core/registry.js';

function entry(id: string, tag: string): RegisteredJob & { tag: string } {
  const ref = { queue: 'q', id };
  return {
    tag,
    ref,
    key: refKey(ref),
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
});
