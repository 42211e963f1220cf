import { describe, expect, it } from 'vitest';
import { parseRefString } from '../../../src/cli/ref-string.js';
import { formatRef } from '../../../src/core/job-ref.js';

describe('parseRefString (the JOB column of `jobterm jobs`)', () => {
  it('reads back what formatRef prints, ids and queue names with / and # included', () => {
    for (const ref of [
      { queue: 'graphile-worker', id: '42' },
      { queue: 'pg-boss', name: 'emails', id: '0b7e5c3a-0000-4000-8000-000000000000' },
      { queue: 'bullmq', name: 'a/b', id: 'custom#id/with#marks' },
    ]) {
      expect(parseRefString(formatRef(ref))).toEqual(ref);
    }
  });

  it('refuses what is not a job reference, naming what it expected', () => {
    for (const bad of ['42', '#42', 'q#', '/name#1', 'q/#1']) {
      expect(() => parseRefString(bad)).toThrow(/expected a job as 'jobterm jobs' prints it/);
    }
  });
});
