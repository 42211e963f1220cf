import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Access, AccessControl, sameOrigin } from './access.js';
import { Api } from './api.js';
import { asset } from './assets.js';
import { SESSION_COOKIE } from './auth.js';
import { badInput, HttpError, isHttpError, readForm, readJsonObject, sendBytes, sendError, sendJson } from './json.js';
import { openApiDocument } from './openapi.js';
import { type DashboardOptions, resolveDashboardOptions } from './options.js';

/** A plain Node request handler; `next` (Express, Connect) is called for paths outside the base path. */
export type DashboardHandler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void;

const API_VERSION = '1';

/** The page may load only its own files and talk only to its own origin. */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
};

/**
 * The dashboard: the JSON API under `api/` and the page at `/`, as one plain
 * Node `(req, res)` handler, so it mounts in node:http, Express, Fastify or
 * Hono's node server as it is. Closed by default: every API route needs a
 * token, a session from the sign-in form, or your `authorize` hook.
 */
export function createDashboard(options: DashboardOptions): DashboardHandler {
  const resolved = resolveDashboardOptions(options);
  const access = new AccessControl(resolved);
  const api = new Api(resolved);
  const openapi = JSON.stringify(openApiDocument(API_VERSION));
  const logger = (options.terminator as { options?: { logger?: { error(m: string, meta?: object): void } } }).options
    ?.logger;

  /** `mount` is the path the browser sees the dashboard under (the session cookie is scoped to it). */
  async function route(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    url: URL,
    mount: string,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    const read = method === 'GET' || method === 'HEAD';

    if (path === '/' || path === '/index.html' || path.startsWith('/assets/')) {
      if (!read) throw methodNotAllowed('GET');
      const file = asset(path.startsWith('/assets/') ? path.slice('/assets/'.length) : 'index.html');
      if (file === undefined) throw new HttpError(404, `No such file: ${path}`);
      if (req.headers['if-none-match'] === file.etag) {
        res.writeHead(304, { etag: file.etag });
        res.end();
        return;
      }
      sendBytes(res, 200, file.body, {
        'content-type': file.type,
        etag: file.etag,
        'cache-control': 'no-cache',
        ...(path.startsWith('/assets/') ? {} : PAGE_HEADERS),
      });
      return;
    }
    if (path === '/login') {
      if (method !== 'POST') throw methodNotAllowed('POST');
      await login(req, res, mount);
      return;
    }
    if (path === '/logout') {
      if (method !== 'POST') throw methodNotAllowed('POST');
      if (!sameOrigin(req)) throw new HttpError(403, 'Cross-site request refused');
      sendJson(res, 200, { signedOut: true }, { 'set-cookie': cookie(req, mount, '', 0) });
      return;
    }
    if (path === '/api/openapi.json') {
      if (!read) throw methodNotAllowed('GET');
      sendBytes(res, 200, openapi, { 'content-type': 'application/json; charset=utf-8' });
      return;
    }
    if (!path.startsWith('/api/')) throw new HttpError(404, `No route ${method} ${path}`);

    const who = await access.authenticate(req);
    const query = url.searchParams;
    const answer = (body: unknown) => sendJson(res, 200, body);
    const jobPath = /^\/api\/jobs\/([^/]+)\/([^/]+)$/.exec(path);
    if (read) {
      if (path === '/api/session') return answer(api.session(who));
      if (path === '/api/workers') return answer(await api.workers(query));
      if (path === '/api/fleet') return answer(await api.fleet());
      if (path === '/api/jobs') return answer(await api.jobs(query));
      if (path === '/api/requests') return answer(await api.requests(query));
      if (jobPath !== null)
        return answer(await api.job(decode(jobPath[1]!, 'queue'), decode(jobPath[2]!, 'id'), query));
    } else if (method === 'POST') {
      if (path === '/api/terminate') return answer(await api.terminate(await writeBody(req, who), who));
      if (path === '/api/bulk-terminate') return answer(await api.bulkTerminate(await writeBody(req, who), who));
    } else {
      throw methodNotAllowed('GET, POST');
    }
    throw new HttpError(404, `No route ${method} ${path}`);
  }

  /** The body of a state-changing route, read only once the caller may write. */
  async function writeBody(req: IncomingMessage, who: Access): Promise<Record<string, unknown>> {
    access.checkWrite(req, who);
    return readJsonObject(req);
  }

  async function login(req: IncomingMessage, res: ServerResponse, mount: string): Promise<void> {
    // A forged sign-in would put the victim in the attacker's session.
    if (!sameOrigin(req)) throw new HttpError(403, 'Cross-site sign-in refused');
    const wantsJson = /application\/json/.test(String(req.headers.accept ?? ''));
    const form = await readForm(req);
    const secret = form.get('token') ?? '';
    const user = secret === '' ? undefined : resolved.credentials.bySecret(secret);
    if (user === undefined) {
      if (wantsJson) throw new HttpError(401, 'That token is not one of the dashboard tokens', 'token');
      res.writeHead(303, { location: './?signin=failed', 'cache-control': 'no-store' });
      res.end();
      return;
    }
    const session = resolved.credentials.sessionFor(user, resolved.sessionTtl);
    const setCookie = cookie(req, mount, session, resolved.sessionTtl);
    if (wantsJson) {
      sendJson(res, 200, { user }, { 'set-cookie': setCookie });
      return;
    }
    res.writeHead(303, { location: './', 'set-cookie': setCookie, 'cache-control': 'no-store' });
    res.end();
  }

  /** The session cookie, scoped to the path the browser sees the dashboard under. */
  function cookie(req: IncomingMessage, mount: string, value: string, ttl: number): string {
    const secure =
      (req.socket as { encrypted?: boolean }).encrypted === true || req.headers['x-forwarded-proto'] === 'https';
    return [
      `${SESSION_COOKIE}=${encodeURIComponent(value)}`,
      `Path=${mount}/`,
      'HttpOnly',
      'SameSite=Strict',
      `Max-Age=${Math.floor(ttl / 1000)}`,
      ...(secure ? ['Secure'] : []),
    ].join('; ');
  }

  return function jobtermDashboard(req, res, next) {
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    const base = resolved.basePath;
    if (base !== '' && url.pathname !== base && !url.pathname.startsWith(`${base}/`)) {
      if (next !== undefined) next();
      else sendError(res, new HttpError(404, `No route ${req.method} ${url.pathname}`));
      return;
    }
    const path = url.pathname.slice(base.length);
    // The path the browser sees: a framework that strips its mount path keeps the full one in originalUrl.
    const original = new URL((req as { originalUrl?: string }).originalUrl ?? req.url ?? '/', 'http://x').pathname;
    const mount = original.slice(0, original.length - (path === '' ? 0 : path.length)).replace(/\/$/, '');
    // The page uses relative links: it must be served with its trailing slash.
    if ((path === '' || path === '/') && !original.endsWith('/')) {
      res.writeHead(308, { location: `${original}/${url.search}` });
      res.end();
      return;
    }
    route(req, res, path === '' ? '/' : path, url, mount).catch((error: unknown) => {
      const http = isHttpError(error) ? error : badInput(error);
      if (http !== undefined) {
        if (!res.headersSent) sendError(res, http, http.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
        return;
      }
      // By name, so any store's "database unreachable" error (postgres, redis) answers 503.
      const unavailable = error instanceof Error && error.name === 'StoreUnavailableError';
      logger?.error('dashboard request failed', { error, path });
      if (!res.headersSent) {
        sendError(
          res,
          new HttpError(
            unavailable ? 503 : 500,
            unavailable && error instanceof Error ? error.message : 'Internal error; see the server log',
          ),
        );
      } else {
        res.destroy();
      }
    });
  };
}

function methodNotAllowed(allowed: string): HttpError {
  return new HttpError(405, `Method not allowed here; use ${allowed}`);
}

function decode(segment: string, what: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `Expected \`${what}\` to be URL-encoded`, what);
  }
}
