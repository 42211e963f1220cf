import { describe, expect, it } from 'vitest';
import { Credentials, generateSecret } from '../../../src/http/auth.js';

const ALICE = 'alice-secret-0123456789';
const BOB = 'bob-secret-0123456789abc';

describe('Credentials', () => {
  const credentials = new Credentials({ admin: `alice:${ALICE}`, read: { bob: BOB } });

  it('finds users by secret, with their name and role; a bare secret is named after its role', () => {
    expect(credentials.bySecret(ALICE)).toEqual({ name: 'alice', role: 'admin' });
    expect(credentials.bySecret(BOB)).toEqual({ name: 'bob', role: 'read' });
    expect(credentials.bySecret(`${ALICE}x`)).toBeUndefined();
    expect(credentials.bySecret('')).toBeUndefined();
    expect(new Credentials({ read: [BOB] }).bySecret(BOB)).toEqual({ name: 'read', role: 'read' });
  });

  it('a session names its user until it expires; a changed byte, role or secret ends it', () => {
    const now = 1_000_000;
    const session = credentials.sessionFor({ name: 'bob', role: 'read' }, 60_000, now);
    expect(credentials.bySession(session, now + 59_000)).toEqual({ name: 'bob', role: 'read' });
    expect(credentials.bySession(session, now + 60_000)).toBeUndefined();
    expect(credentials.bySession(session.replace('.read.', '.admin.'), now)).toBeUndefined();
    expect(credentials.bySession(`${session.slice(0, -1)}${session.endsWith('A') ? 'B' : 'A'}`, now)).toBeUndefined();
    // Rotating bob's secret signs his sessions out.
    const rotated = new Credentials({ admin: `alice:${ALICE}`, read: { bob: `${BOB}-new` } });
    expect(rotated.bySession(session, now)).toBeUndefined();
    expect(session).not.toContain(BOB);
  });

  it('the CSRF token is bound to the session', () => {
    const a = credentials.sessionFor({ name: 'alice', role: 'admin' }, 60_000, 1);
    const b = credentials.sessionFor({ name: 'alice', role: 'admin' }, 60_000, 2);
    expect(credentials.csrfFor(a)).not.toBe(credentials.csrfFor(b));
    expect(credentials.csrfFor(a)).toBe(credentials.csrfFor(a));
  });

  it('refuses weak secrets, bad names and duplicates, naming the token but never echoing the secret', () => {
    expect(() => new Credentials({ admin: 'alice:tooshort' })).toThrow(
      /Expected the secret of `tokens.admin` \(alice\) to be at least 16 characters/,
    );
    expect(() => new Credentials({ admin: 'alice:tooshort' })).not.toThrow(/tooshort/);
    expect(() => new Credentials({ admin: `al ice:${ALICE}` })).toThrow(/Expected `tokens.admin name`/);
    expect(() => new Credentials({ admin: `alice:${ALICE}`, read: `alice:${BOB}` })).toThrow(/Duplicate token name/);
    expect(() => new Credentials({ admin: `alice:${ALICE}`, read: `bob:${ALICE}` })).toThrow(/Duplicate token secret/);
    expect(() => new Credentials({ admin: [42 as unknown as string] })).toThrow(/Expected `tokens.admin\[0\]`/);
  });

  it('generated secrets are long and distinct', () => {
    const a = generateSecret();
    expect(a).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(generateSecret()).not.toBe(a);
  });
});
