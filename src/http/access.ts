import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { bearerToken, type DashboardUser, readCookie, SESSION_COOKIE, safeEqual } from './auth.js';
import { HttpError } from './json.js';
import type { ResolvedDashboardOptions } from './options.js';

/** How a request proved who it is; decides what a state-changing route must also check. */
export type Via = 'bearer' | 'session' | 'authorize';

export interface Access {
  readonly user: DashboardUser;
  readonly via: Via;
  /** What the page must echo in `x-jobterm-csrf` on a POST; bearer clients need none. */
  readonly csrfToken: string | undefined;
}

export const CSRF_HEADER = 'x-jobterm-csrf';

/**
 * Authentication and the CSRF rules, in one place.
 *
 * A bearer token is never sent by a browser on its own, so a bearer POST is
 * not forgeable across sites. A cookie (or an `authorize` hook, which may read
 * the app's own cookie) is: those POSTs need the CSRF token, a JSON body
 * (which a cross-site form cannot send, and fetch cannot without a preflight
 * this handler never grants), and an origin that is not another site.
 */
export class AccessControl {
  // Keys the CSRF token of users let in by `authorize`; per handler, so such a
  // page reads /api/session again after a restart (it does at every load).
  private readonly hookKey = randomBytes(32);

  constructor(private readonly options: ResolvedDashboardOptions) {}

  async authenticate(req: IncomingMessage): Promise<Access> {
    const { authorize, credentials } = this.options;
    if (authorize !== undefined) {
      const user = await authorize(req);
      if (user !== undefined) return { user: checkUser(user), via: 'authorize', csrfToken: this.hookCsrf(user) };
    }
    const bearer = bearerToken(req);
    if (bearer !== undefined) {
      const user = credentials.bySecret(bearer);
      if (user === undefined) throw new HttpError(401, 'The bearer token is not one of the dashboard tokens');
      return { user, via: 'bearer', csrfToken: undefined };
    }
    const session = readCookie(req, SESSION_COOKIE);
    if (session !== undefined) {
      const user = credentials.bySession(session);
      if (user !== undefined) return { user, via: 'session', csrfToken: credentials.csrfFor(session) };
    }
    throw new HttpError(401, 'Sign in first: send `Authorization: Bearer <token>`, or use the sign-in form');
  }

  /** For state-changing routes: the role, then for browsers the CSRF token and the origin. */
  checkWrite(req: IncomingMessage, access: Access): void {
    if (access.user.role !== 'admin') {
      throw new HttpError(403, `User \`${access.user.name}\` is read-only: only admin users may terminate jobs`);
    }
    if (access.via === 'bearer') return;
    if (!sameOrigin(req)) throw new HttpError(403, 'Cross-site request refused');
    const given = req.headers[CSRF_HEADER];
    if (typeof given !== 'string' || access.csrfToken === undefined || !safeEqual(given, access.csrfToken)) {
      throw new HttpError(403, `Expected the \`${CSRF_HEADER}\` header from /api/session on this request`, CSRF_HEADER);
    }
  }

  private hookCsrf(user: DashboardUser): string {
    return createHmac('sha256', this.hookKey).update(`csrf:${user.role}:${user.name}`).digest('base64url');
  }
}

/**
 * False when the browser says the request comes from another site. Browsers
 * send `Sec-Fetch-Site` (and `Origin` on POSTs); other clients send neither
 * and are judged by their credentials alone.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return false;
  const origin = req.headers.origin;
  if (typeof origin !== 'string' || origin === 'null') return origin === undefined;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

function checkUser(user: DashboardUser): DashboardUser {
  if (
    typeof user !== 'object' ||
    user === null ||
    typeof user.name !== 'string' ||
    user.name.length === 0 ||
    user.name.length > 200 ||
    (user.role !== 'admin' && user.role !== 'read')
  ) {
    throw new HttpError(500, 'authorize() must return `{ name, role: "admin" | "read" }` or undefined');
  }
  return { name: user.name, role: user.role };
}
