// One clock read for the jobs of a batch (core/clock.ts): inside the loop
// every read is the loop's, outside it every read is the clock's, and a
// throw or a nested loop puts the shared time back as it was.
import { describe, expect, it, vi } from 'vitest';
import { clockNow, sharingOneClockRead } from '../../../src/core/clock.js';

describe('clockNow() and sharingOneClockRead()', () => {
  it('outside a loop, each read is Date.now(); inside one, every read is the time the loop began', () => {
    vi.useFakeTimers({ now: 1_000, toFake: ['Date'] });
    try {
      expect(clockNow()).toBe(1_000);
      const inside: number[] = [];
      sharingOneClockRead(() => {
        inside.push(clockNow());
        vi.setSystemTime(5_000);
        inside.push(clockNow());
        // A nested loop (a batch's jobs ending inside another's start) keeps the outer time.
        sharingOneClockRead(() => inside.push(clockNow()));
        inside.push(clockNow());
      });
      expect(inside).toEqual([1_000, 1_000, 1_000, 1_000]);
      expect(clockNow()).toBe(5_000);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a loop that throws leaves no shared time behind', () => {
    vi.useFakeTimers({ now: 1_000, toFake: ['Date'] });
    try {
      expect(() =>
        sharingOneClockRead(() => {
          throw new Error('boom');
        }),
      ).toThrow('boom');
      vi.setSystemTime(2_000);
      expect(clockNow()).toBe(2_000);
    } finally {
      vi.useRealTimers();
    }
  });
});
