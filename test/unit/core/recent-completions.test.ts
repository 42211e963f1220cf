import { describe, expect, it } from 'vitest';
import { RecentCompletions } from '../../../src/core/recent-completions.js';

const ref = (id: number) => ({ queue: 'q', id: String(id) });

describe('RecentCompletions', () => {
  it('remembers the last completions, forgets the oldest beyond about a thousand, and forgets on request', () => {
    const recent = new RecentCompletions();
    for (let i = 0; i < 600; i++) recent.remember(ref(i));
    expect(recent.completed(ref(0))).toBe(true);
    expect(recent.completed(ref(599))).toBe(true);
    expect(recent.completed(ref(600))).toBe(false);
    for (let i = 600; i < 1_100; i++) recent.remember(ref(i));
    // A ring of 1,024: the first ones are gone, the last 1,024 are kept.
    expect(recent.completed(ref(0))).toBe(false);
    expect(recent.completed(ref(1_100 - 1_025))).toBe(false);
    for (let i = 1_100 - 1_024; i < 1_100; i++) expect(recent.completed(ref(i))).toBe(true);
    recent.forget(ref(1_099));
    expect(recent.completed(ref(1_099))).toBe(false);
    recent.clear();
    expect(recent.completed(ref(1_098))).toBe(false);
  });
});
