import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { expected } from '../core/errors.js';

/**
 * Who may use the dashboard: tokens with a name and a role, checked in
 * constant time, and the signed session cookie the sign-in form sets.
 *
 * The cookie is stateless: `name.role.expiry.mac`, the MAC keyed by the
 * token's own secret, so every process that has the same tokens accepts it,
 * and rotating a token signs its sessions out. The CSRF token is a second MAC
 * over the cookie: a page on another origin can neither read it nor send it.
 */

export type DashboardRole = 'admin' | 'read';

/** The authenticated user: `name` becomes `requestedBy` on every request they make. */
export interface DashboardUser {
  readonly name: string;
  readonly role: DashboardRole;
}

/**
 * Tokens for one role: `'name:secret'`, a list of them, or a map of names to
 * secrets. A bare secret (no colon) is named after its role (`admin`, `read`).
 */
export type TokenList = string | readonly string[] | Readonly<Record<string, string>>;

export interface DashboardTokens {
  /** May read everything and terminate jobs. */
  readonly admin?: TokenList;
  /** May read everything; every state-changing route answers 403. */
  readonly read?: TokenList;
}

interface Credential {
  readonly user: DashboardUser;
  readonly secret: Buffer;
}

/** Shorter secrets are refused: a dashboard that stops jobs must not be guessable. */
export const MIN_SECRET_LENGTH = 16;
const MAX_NAME_LENGTH = 100;
const NAME = /^[A-Za-z0-9_.@+-]+$/;

export const SESSION_COOKIE = 'jobterm_session';

export class Credentials {
  private readonly list: readonly Credential[];

  constructor(tokens: DashboardTokens) {
    const list: Credential[] = [];
    for (const role of ['admin', 'read'] as const) {
      for (const [name, secret] of entries(`tokens.${role}`, tokens[role], role)) {
        if (list.some((c) => c.user.name === name)) {
          throw new TypeError(`Duplicate token name \`${name}\` in \`tokens\`: each user needs one name`);
        }
        if (list.some((c) => c.secret.equals(Buffer.from(secret)))) {
          throw new TypeError(`Duplicate token secret for \`${name}\` in \`tokens\`: secrets must differ`);
        }
        list.push({ user: { name, role }, secret: Buffer.from(secret) });
      }
    }
    this.list = list;
  }

  get size(): number {
    return this.list.length;
  }

  /** The user whose secret this is, comparing every secret in constant time. */
  bySecret(secret: string): DashboardUser | undefined {
    const given = Buffer.from(secret);
    let found: DashboardUser | undefined;
    for (const credential of this.list) {
      if (given.length === credential.secret.length && timingSafeEqual(given, credential.secret)) {
        found = credential.user;
      }
    }
    return found;
  }

  /** A session cookie value for a user, valid for `ttl` ms. */
  sessionFor(user: DashboardUser, ttl: number, now = Date.now()): string {
    const credential = this.list.find((c) => c.user.name === user.name);
    if (credential === undefined) throw new Error(`jobterm: no token named ${user.name}`);
    const body = `${user.name}.${user.role}.${now + ttl}`;
    return `${body}.${mac(credential.secret, `session:${body}`)}`;
  }

  /** The user a session cookie names, if its MAC holds, its role still matches and it has not expired. */
  bySession(value: string, now = Date.now()): DashboardUser | undefined {
    const parts = value.split('.');
    if (parts.length !== 4) return undefined;
    const [name, role, expiry, given] = parts as [string, string, string, string];
    const credential = this.list.find((c) => c.user.name === name);
    if (credential === undefined || credential.user.role !== role) return undefined;
    if (!/^\d{1,15}$/.test(expiry) || Number(expiry) <= now) return undefined;
    const wanted = mac(credential.secret, `session:${name}.${role}.${expiry}`);
    return safeEqual(given, wanted) ? credential.user : undefined;
  }

  /** The CSRF token that goes with a session cookie. */
  csrfFor(session: string): string | undefined {
    const name = session.split('.')[0];
    const credential = this.list.find((c) => c.user.name === name);
    return credential === undefined ? undefined : mac(credential.secret, `csrf:${session}`);
  }
}

/** A fresh admin secret for `jobterm dashboard` when it is given none. */
export function generateSecret(): string {
  return randomBytes(24).toString('base64url');
}

export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

export function readCookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index === -1) continue;
    if (part.slice(0, index).trim() === name) {
      try {
        return decodeURIComponent(part.slice(index + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function mac(secret: Buffer, data: string): string {
  return createHmac('sha256', secret).update(data).digest('base64url');
}

function entries(what: string, list: TokenList | undefined, role: DashboardRole): Array<[string, string]> {
  if (list === undefined) return [];
  const pairs: Array<[string, string]> =
    typeof list === 'string'
      ? [splitToken(list, role)]
      : Array.isArray(list)
        ? list.map((item, i) => {
            if (typeof item !== 'string') throw expected(`${what}[${i}]`, 'a string `name:secret`', item);
            return splitToken(item, role);
          })
        : typeof list === 'object' && list !== null
          ? Object.entries(list as Record<string, unknown>).map(([name, secret]) => {
              if (typeof secret !== 'string') throw expected(`${what}.${name}`, 'a string secret', secret);
              return [name, secret];
            })
          : (() => {
              throw expected(what, 'a string `name:secret`, an array of them, or a map of names to secrets', list);
            })();
  for (const [name, secret] of pairs) {
    if (name.length === 0 || name.length > MAX_NAME_LENGTH || !NAME.test(name)) {
      throw expected(`${what} name`, `1 to ${MAX_NAME_LENGTH} letters, digits or _.@+-`, name);
    }
    if (secret.length < MIN_SECRET_LENGTH || /\s/.test(secret)) {
      // The secret itself is never echoed back.
      throw new TypeError(
        `Expected the secret of \`${what}\` (${name}) to be at least ${MIN_SECRET_LENGTH} characters without spaces, got ${secret.length}`,
      );
    }
  }
  return pairs;
}

function splitToken(token: string, role: DashboardRole): [string, string] {
  const index = token.indexOf(':');
  return index === -1 ? [role, token] : [token.slice(0, index), token.slice(index + 1)];
}
