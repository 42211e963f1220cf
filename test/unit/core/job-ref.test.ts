import { describe, expect, it } from 'vitest';
import { StoredRef, validateJobRef } from '../../../src/core/job-ref.js';

describe('validateJobRef', () => {
  it('copies a plain ref, so a later change by its owner does not reach the running job', () => {
    const given = { queue: 'pg-boss', name: 'email', id: 'a' };
    const checked = validateJobRef(given);
    expect(checked).toEqual(given);
    expect(checked).not.toBe(given);
  });

  it('still scans every plain ref: NUL or a lone surrogate is refused, naming the part', () => {
    expect(() => validateJobRef({ queue: 'pg-boss', id: 'a\0b' })).toThrow(/job\.id.*without NUL/);
    expect(() => validateJobRef({ queue: 'pg-boss', name: '\uD800', id: 'a' })).toThrow(/job\.name/);
  });

  it("takes an adapter's StoredRef as it is (text read from PostgreSQL): the same object, fields as given", () => {
    const stored = new StoredRef('pg-boss', '3f0c8f1e-0000-4000-8000-000000000001', 'email');
    expect(validateJobRef(stored)).toBe(stored);
    expect({ ...stored }).toEqual({ queue: 'pg-boss', id: '3f0c8f1e-0000-4000-8000-000000000001', name: 'email' });
    const graphile = new StoredRef('graphile-worker', '42');
    expect(Object.keys(graphile)).not.toContain('name');
    expect(JSON.parse(JSON.stringify(graphile))).toEqual({ queue: 'graphile-worker', id: '42' });
  });
});
