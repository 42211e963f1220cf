// jobterm/http's API against a real PostgreSQL kill store and real jobs run
// by a real terminator in this process (its fleet read through localFleet()).
// Every route, its access rules, and bad input answered 400 with nothing stored.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JobRef } from '../../../src/core/job-ref.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { TerminationToken } from '../../../src/core/token.js';
import { createDashboard, type DashboardOptions, localFleet } from '../../../src/http/index.js';
import { type PostgresStore, postgresStore } from '../../../src/stores/postgres/index.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';

/** An API answer, read by the assertions that check it. */
// biome-ignore lint/suspicious/noExplicitAny: the assertions are the type check
type Answer = any;

const ADMIN = 'alice-secret-0123456789';
const READER = 'bob-secret-0123456789ab';
const TOKENS = { admin: `alice:${ADMIN}`, read: { bob: READER } };

let db: TestDatabase;
let store: PostgresStore;
let terminator: Terminator;
let server: Server;
let base: string;
const running = new Map<string, { stop: () => void; done: Promise<unknown> }>();

function serve(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    ),
  );
}

function dashboardOptions(extra: Partial<DashboardOptions> = {}): DashboardOptions {
  return { terminator, fleet: localFleet(terminator), requests: store, tokens: TOKENS, ...extra };
}

beforeAll(async () => {
  db = await createTestDatabase('jobterm_http');
  store = postgresStore({ connectionString: db.url, logger: silentLogger });
  terminator = createTerminator({ store, logger: silentLogger, killTimeout: 20_000, workerId: 'api-test' });
  await terminator.whenReady();
  ({ server, url: base } = await serve(createDashboard({ ...dashboardOptions(), basePath: '/jobs' })));
});
afterEach(async () => {
  for (const job of running.values()) job.stop();
  await Promise.all([...running.values()].map((job) => job.done));
  running.clear();
});
afterAll(async () => {
  server?.close();
  await terminator?.close();
  await db?.drop();
});

/** Starts a job in this process's terminator; `behave` says how it treats its token. */
function startJob(ref: JobRef, behave: 'cooperate' | 'ignore' = 'cooperate'): { done: Promise<unknown> } {
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const done = terminator.run(ref, async (token: TerminationToken) => {
    if (behave === 'cooperate') {
      await Promise.race([new Promise((resolve) => token.signal.addEventListener('abort', resolve)), released]);
      token.throwIfTerminating();
    } else await released;
  });
  running.set(`${ref.queue}/${ref.name}/${ref.id}`, { stop: release, done });
  return { done };
}

async function call(
  path: string,
  options: { method?: string; token?: string | null; body?: unknown; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? ADMIN : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(`${base}/jobs${path}`, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers,
    ...(options.body === undefined
      ? {}
      : { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }),
    redirect: 'manual',
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, json: json as Answer, text };
}

async function storedRequests(): Promise<number> {
  const [row] = await db.query<{ n: number }>('select count(*)::int as n from jobterm.kill_requests');
  return row!.n;
}

describe('access', () => {
  it('refuses to be made open: no tokens and no authorize is a TypeError', () => {
    expect(() => createDashboard({ terminator })).toThrow(/closed by default/);
    expect(() => createDashboard({ terminator, tokens: { admin: 'alice:short' } })).toThrow(/at least 16 characters/);
    expect(() => createDashboard({ terminator, tokens: { admin: ADMIN, writers: 'x' } as never })).toThrow(
      /Unknown option `writers`/,
    );
  });

  it('no token: 401 on every API route; a wrong token: 401', async () => {
    for (const path of ['/api/session', '/api/workers', '/api/fleet', '/api/jobs', '/api/requests', '/api/jobs/q/1']) {
      const answer = await call(path, { token: null });
      expect(answer.status, path).toBe(401);
      expect(answer.headers.get('www-authenticate')).toBe('Bearer');
      expect(answer.json.error).toMatchObject({ status: 401, message: expect.stringMatching(/Sign in/) });
    }
    expect((await call('/api/jobs', { token: 'not-a-token-at-all-000' })).status).toBe(401);
    const before = await storedRequests();
    const terminate = await call('/api/terminate', { token: null, body: { job: { queue: 'q', id: '1' } } });
    expect(terminate.status).toBe(401);
    expect(await storedRequests()).toBe(before);
  });

  it('the page and its files load without a token (they hold no data), with a strict CSP', async () => {
    const page = await call('/', { token: null });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const js = await call('/assets/app.js', { token: null });
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    const again = await fetch(`${base}/jobs/assets/app.js`, { headers: { 'if-none-match': js.headers.get('etag')! } });
    expect(again.status).toBe(304);
    // Relative links need the trailing slash.
    const bare = await call('', { token: null });
    expect(bare.status).toBe(308);
    expect(bare.headers.get('location')).toBe('/jobs/');
  });

  it('session: who is signed in and their role', async () => {
    expect((await call('/api/session')).json).toMatchObject({
      user: { name: 'alice', role: 'admin' },
      csrfToken: null,
    });
    expect((await call('/api/session', { token: READER })).json).toMatchObject({ user: { name: 'bob', role: 'read' } });
  });

  it('a read-only user reads everything and gets 403 on every state-changing route, with nothing stored', async () => {
    const ref = { queue: 'custom', id: 'read-only-1' };
    startJob(ref);
    expect((await call('/api/jobs', { token: READER })).json.count).toBe(1);
    const before = await storedRequests();
    for (const [path, body] of [
      ['/api/terminate', { job: ref, reason: 'nope' }],
      ['/api/bulk-terminate', { filter: {}, dryRun: true }],
      ['/api/bulk-terminate', { jobs: [ref], reason: 'nope' }],
    ] as const) {
      const answer = await call(path, { token: READER, body });
      expect(answer.status, path).toBe(403);
      expect(answer.json.error.message).toMatch(/read-only/);
    }
    expect(await storedRequests()).toBe(before);
    expect(terminator.running().map((job) => job.ref.id)).toContain('read-only-1');
  });

  it('sign-in form: an HttpOnly SameSite=Strict cookie scoped to the base path; POSTs with it need the CSRF token', async () => {
    const failed = await fetch(`${base}/jobs/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=wrong-wrong-wrong-wrong',
      redirect: 'manual',
    });
    expect(failed.status).toBe(303);
    expect(failed.headers.get('location')).toBe('./?signin=failed');
    expect(failed.headers.get('set-cookie')).toBeNull();

    const login = await fetch(`${base}/jobs/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${ADMIN}`,
      redirect: 'manual',
    });
    expect(login.status).toBe(303);
    const setCookie = login.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^jobterm_session=/);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Path=\/jobs\//);
    expect(setCookie).not.toContain(ADMIN);
    const cookie = setCookie.split(';')[0]!;

    const session = await call('/api/session', { token: null, headers: { cookie } });
    expect(session.json.user).toEqual({ name: 'alice', role: 'admin' });
    const csrf = session.json.csrfToken as string;
    expect(csrf).toEqual(expect.any(String));

    const ref = { queue: 'custom', id: 'csrf-1' };
    startJob(ref);
    const before = await storedRequests();
    const noCsrf = await call('/api/terminate', { token: null, headers: { cookie }, body: { job: ref } });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.json.error.field).toBe('x-jobterm-csrf');
    const crossSite = await call('/api/terminate', {
      token: null,
      headers: { cookie, 'x-jobterm-csrf': csrf, origin: 'https://evil.example' },
      body: { job: ref },
    });
    expect(crossSite.status).toBe(403);
    // A form post (the one thing a cross-site page can send with the cookie) is refused before anything is read.
    const form = await call('/api/terminate', {
      token: null,
      headers: { cookie, 'x-jobterm-csrf': csrf, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'job=1',
    });
    expect(form.status).toBe(415);
    expect(await storedRequests()).toBe(before);

    const ok = await call('/api/terminate', {
      token: null,
      headers: { cookie, 'x-jobterm-csrf': csrf },
      body: { job: ref, reason: 'via the page', wait: true },
    });
    expect(ok.json).toMatchObject({ status: 'terminated', job: ref });
    const [row] = await db.query('select requested_by, reason_message from jobterm.kill_requests where job_id = $1', [
      'csrf-1',
    ]);
    expect(row).toEqual({ requested_by: 'alice', reason_message: 'via the page' });

    const logout = await fetch(`${base}/jobs/logout`, { method: 'POST', headers: { cookie } });
    expect(logout.headers.get('set-cookie')).toMatch(/jobterm_session=; .*Max-Age=0/);
    // A tampered cookie is nobody.
    const tampered = cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    expect((await call('/api/session', { token: null, headers: { cookie: tampered } })).status).toBe(401);
  });

  it('an authorize hook decides who the user is; requestedBy is that user, never the body', async () => {
    const { server: hooked, url } = await serve(
      createDashboard({
        ...dashboardOptions({ tokens: undefined as never }),
        authorize: (req) =>
          req.headers['x-user'] === 'carol' ? { name: 'carol@example.com', role: 'admin' } : undefined,
      }),
    );
    try {
      const ref = { queue: 'custom', id: 'hook-1' };
      startJob(ref);
      expect((await fetch(`${url}/api/session`)).status).toBe(401);
      const session = (await (await fetch(`${url}/api/session`, { headers: { 'x-user': 'carol' } })).json()) as {
        csrfToken: string;
      };
      const refused = await fetch(`${url}/api/terminate`, {
        method: 'POST',
        headers: { 'x-user': 'carol', 'content-type': 'application/json', 'x-jobterm-csrf': session.csrfToken },
        body: JSON.stringify({ job: ref, requestedBy: 'mallory' }),
      });
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as { error: unknown }).error).toMatchObject({ field: 'requestedBy' });
      const answer = await fetch(`${url}/api/terminate`, {
        method: 'POST',
        headers: { 'x-user': 'carol', 'content-type': 'application/json', 'x-jobterm-csrf': session.csrfToken },
        body: JSON.stringify({ job: ref, wait: true }),
      });
      expect(((await answer.json()) as { status: string }).status).toBe('terminated');
      const [row] = await db.query('select requested_by from jobterm.kill_requests where job_id = $1', ['hook-1']);
      expect(row).toEqual({ requested_by: 'carol@example.com' });
    } finally {
      hooked.close();
    }
  });
});

describe('reading', () => {
  it('workers, fleet, and running jobs with filters', async () => {
    startJob({ queue: 'custom', name: 'emails', id: 'r-1' });
    startJob({ queue: 'custom', name: 'reports', id: 'r-2' });
    startJob({ queue: 'other', id: 'r-3' });
    const workers = (await call('/api/workers')).json;
    expect(workers.workers).toEqual([expect.objectContaining({ workerId: 'api-test', jobCount: 3, alive: true })]);
    expect(workers.workers[0].jobs).toBeUndefined();
    const fleet = (await call('/api/fleet')).json;
    expect(fleet.workers[0].jobs).toHaveLength(3);

    const all = (await call('/api/jobs')).json;
    expect(all.count).toBe(3);
    expect(all.jobs[0]).toMatchObject({
      ref: { queue: 'custom', name: 'emails', id: 'r-1' },
      workerId: 'api-test',
      termination: { state: 'none' },
      runningMs: expect.any(Number),
    });
    expect((await call('/api/jobs?queue=custom')).json.count).toBe(2);
    expect((await call('/api/jobs?queue=custom&name=reports')).json.jobs.map((j: Answer) => j.ref.id)).toEqual(['r-2']);
    expect((await call('/api/jobs?task=emails')).json.count).toBe(1);
    expect((await call('/api/jobs?worker=api-test&state=none')).json.count).toBe(3);
    expect((await call('/api/jobs?state=signalled')).json.count).toBe(0);
    expect((await call('/api/jobs?runningLongerThan=3600000')).json.count).toBe(0);
    expect((await call('/api/jobs?limit=1')).json).toMatchObject({ count: 3, jobs: [expect.any(Object)] });
    expect((await call('/api/workers?worker=someone-else')).json.workers).toEqual([]);
  });

  it('job detail: where it runs and its requests', async () => {
    const ref = { queue: 'custom', name: 'emails', id: 'detail/1' };
    const { done } = startJob(ref);
    const detail = (await call(`/api/jobs/custom/${encodeURIComponent('detail/1')}?name=emails`)).json;
    expect(detail).toMatchObject({
      job: ref,
      running: [expect.objectContaining({ workerId: 'api-test' })],
      requests: [],
    });
    await call('/api/terminate', { body: { job: ref, reason: 'detail test', wait: true } });
    await done;
    const after = (await call(`/api/jobs/custom/${encodeURIComponent('detail/1')}?name=emails`)).json;
    expect(after.running).toEqual([]);
    expect(after.requests).toEqual([
      expect.objectContaining({
        job: ref,
        reason: 'detail test',
        requestedBy: 'alice',
        status: 'resolved',
        outcome: 'terminated',
        resolvedBy: 'api-test',
        tookMs: expect.any(Number),
      }),
    ]);
  });

  it('request history: who, why, when, outcome; pending only; limit', async () => {
    const ref = { queue: 'custom', id: 'history-1' };
    startJob(ref, 'ignore');
    await call('/api/terminate', { body: { job: ref, reason: 'still open' } });
    const history = (await call('/api/requests?limit=500')).json.requests;
    expect(history[0]).toMatchObject({ job: ref, reason: 'still open', requestedBy: 'alice', outcome: null });
    expect(history[0].status === 'pending' || history[0].status === 'delivered').toBe(true);
    const pending = (await call('/api/requests?pending=true')).json.requests;
    expect(pending.map((r: Answer) => r.job.id)).toEqual(['history-1']);
    expect((await call('/api/requests?limit=1')).json.requests).toHaveLength(1);
  });

  it('the OpenAPI document names every route', async () => {
    const doc = (await call('/api/openapi.json', { token: null })).json;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/api/bulk-terminate',
        '/api/jobs',
        '/api/jobs/{queue}/{id}',
        '/api/openapi.json',
        '/api/requests',
        '/api/session',
        '/api/terminate',
        '/api/workers',
      ].sort(),
    );
  });
});

describe('bad input: 400 naming the field, nothing stored', () => {
  it.each([
    ['/api/jobs?colour=red', 'colour', /Unknown filter `colour`/],
    ['/api/jobs?state=dead', 'state', /Expected `state` to be one of none, requested, signalled, escalated/],
    ['/api/jobs?runningLongerThan=soon', 'runningLongerThan', /whole number of milliseconds/],
    ['/api/jobs?limit=0', 'limit', /Expected `limit`/],
    ['/api/jobs?queue=a&queue=b', 'queue', /given once/],
    ['/api/requests?limit=x', 'limit', /Expected `limit`/],
    ['/api/requests?pending=maybe', 'pending', /true or false/],
    ['/api/workers?includeDead=perhaps', 'includeDead', /true or false/],
    [`/api/jobs/custom/${'9'.repeat(513)}`, 'job.id', /Expected `job.id`/],
    ['/api/jobs/custom/a%00b', 'job.id', /Expected `job.id`/],
    ['/api/jobs/custom/%E0%A4%A', 'id', /URL-encoded/],
  ])('GET %s', async (path, field, message) => {
    const answer = await call(path);
    expect(answer.status).toBe(400);
    expect(answer.headers.get('content-type')).toMatch(/application\/json/);
    expect(answer.json.error).toMatchObject({ status: 400, field, message: expect.stringMatching(message) });
  });

  it.each([
    [{ job: { queue: 'custom', id: 'x' }, reason: 'r'.repeat(1001) }, 'reason', /at most 1000 characters/],
    [{ job: { queue: 'custom', id: '' } }, 'job.id', /Expected `job.id`/],
    [{ job: { queue: 'custom', id: 'a\u0000b' } }, 'job.id', /Expected `job.id`/],
    [{ job: 'custom#1' }, 'job', /Expected `job` to be an object/],
    [{ job: { queue: 'custom', id: 'x' }, requestedBy: 'mallory' }, 'requestedBy', /Unknown option `requestedBy`/],
    [{ job: { queue: 'custom', id: 'x' }, wait: 'yes' }, 'wait', /Expected `wait` to be a boolean/],
    [{ job: { queue: 'custom', id: 'x' }, timeout: 5 }, 'timeout', /only with `wait`/],
    [{ job: { queue: 'custom', id: 'x' }, wait: true, timeout: 3_600_000 }, 'timeout', /at most 60000 ms/],
    [{ job: { queue: 'custom', id: 'x' }, force: 1 }, 'force', /Expected `force` to be a boolean/],
  ])('POST /api/terminate %j', async (body, field, message) => {
    const before = await storedRequests();
    const answer = await call('/api/terminate', { body });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toMatchObject({ field, message: expect.stringMatching(message) });
    expect(await storedRequests()).toBe(before);
  });

  it.each([
    [{ filter: { colour: 'red' }, dryRun: true }, 'filter.colour', /Unknown filter `filter.colour`/],
    [{ filter: { state: 'gone' }, dryRun: true }, 'filter.state', /Expected `filter.state`/],
    [{ filter: {}, dryRun: true, reason: 'x' }, 'reason', /only `filter`/],
    [{ filter: {}, reason: 'x' }, 'filter', /not `filter`/],
    [{ jobs: [], reason: 'x' }, 'jobs', /Expected `jobs` to be an array of 1 to 1000/],
    [{ jobs: [{ queue: 'custom', id: 'x' }, { queue: 'custom' }] }, 'jobs[1].id', /Expected `jobs\[1\].id`/],
    [{ jobs: [{ queue: 'custom', id: 'x', extra: 1 }] }, 'extra', /Unknown option `extra` in `jobs\[0\]`/],
    [{ jobs: [{ queue: 'custom', id: 'x' }], reason: 'r'.repeat(1001) }, 'reason', /at most 1000/],
  ])('POST /api/bulk-terminate %j', async (body, field, message) => {
    const before = await storedRequests();
    const answer = await call('/api/bulk-terminate', { body });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toMatchObject({ field, message: expect.stringMatching(message) });
    expect(await storedRequests()).toBe(before);
  });

  it('a body that is not JSON, not an object, or of another type; an unknown route; a wrong method', async () => {
    expect((await call('/api/terminate', { body: '{nope' })).status).toBe(400);
    expect((await call('/api/terminate', { body: '[1]' })).json.error.message).toMatch(/JSON object/);
    expect((await call('/api/terminate', { body: 'x', headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    const missing = await call('/api/nothing');
    expect(missing.status).toBe(404);
    expect(missing.json.error.message).toMatch(/No route GET \/api\/nothing/);
    expect((await call('/api/jobs', { method: 'DELETE' })).status).toBe(405);
    expect((await call('/login', { method: 'GET', token: null })).status).toBe(405);
  });
});

describe('terminating', () => {
  it('one job, waiting for the outcome: terminated, requestedBy the token name, the time it took', async () => {
    const ref = { queue: 'custom', id: 'kill-1' };
    const { done } = startJob(ref);
    const answer = await call('/api/terminate', { body: { job: ref, reason: 'operator said stop', wait: true } });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ status: 'terminated', job: ref, requestId: expect.any(String) });
    expect(answer.json.elapsedMs).toBeGreaterThan(0);
    expect(await done).toMatchObject({ status: 'terminated', reason: { message: 'operator said stop' } });
    const [row] = await db.query('select requested_by, outcome from jobterm.kill_requests where id = $1', [
      answer.json.requestId,
    ]);
    expect(row).toEqual({ requested_by: 'alice', outcome: 'terminated' });
  });

  it('force: a job that ignores its token is settled at once instead of after killTimeout (20 s here)', async () => {
    const ref = { queue: 'custom', id: 'force-1' };
    const { done } = startJob(ref, 'ignore');
    const first = await call('/api/terminate', { body: { job: ref, reason: 'stop' } });
    expect(first.json.status).toBe('requested');
    expect((await call('/api/jobs?state=signalled')).json.jobs.map((j: Answer) => j.ref.id)).toEqual(['force-1']);
    const startedAt = Date.now();
    const forced = await call('/api/terminate', { body: { job: ref, reason: 'stop now', force: true, wait: true } });
    expect(forced.json.status).toBe('terminated');
    expect(await done).toMatchObject({ status: 'terminated', escalated: true });
    expect(Date.now() - startedAt).toBeLessThan(10_000);
  });

  it('bulk: the dry run lists what the filter selects; terminating acts on exactly that list', async () => {
    const a = { queue: 'bulk', id: 'b-1' };
    const b = { queue: 'bulk', id: 'b-2' };
    const jobA = startJob(a);
    const jobB = startJob(b);
    const dry = (await call('/api/bulk-terminate', { body: { filter: { queue: 'bulk' }, dryRun: true } })).json;
    expect(dry).toMatchObject({ dryRun: true, count: 2 });
    const listed = dry.jobs.map((job: Answer) => job.ref);
    expect(listed).toEqual([a, b]);
    expect(await storedRequests()).toBe(await storedRequests());
    // Started after the dry run, matching the same filter: must not be swept along.
    const late = { queue: 'bulk', id: 'b-3' };
    startJob(late);
    const before = await storedRequests();
    const answer = (await call('/api/bulk-terminate', { body: { jobs: listed, reason: 'bulk stop' } })).json;
    expect(answer.count).toBe(2);
    expect(answer.results.map((r: Answer) => [r.job.id, r.status])).toEqual([
      ['b-1', 'requested'],
      ['b-2', 'requested'],
    ]);
    expect(await jobA.done).toMatchObject({ status: 'terminated' });
    expect(await jobB.done).toMatchObject({ status: 'terminated' });
    expect(await storedRequests()).toBe(before + 2);
    expect(terminator.running().map((job) => job.ref.id)).toContain('b-3');
    const rows = await db.query(
      'select job_id, requested_by, reason_message from jobterm.kill_requests where queue = $1 order by job_id',
      ['bulk'],
    );
    expect(rows).toEqual([
      { job_id: 'b-1', requested_by: 'alice', reason_message: 'bulk stop' },
      { job_id: 'b-2', requested_by: 'alice', reason_message: 'bulk stop' },
    ]);
  });
});

describe('mounting', () => {
  it('node:http without a base path, and a request outside a base path is 404 JSON', async () => {
    const { server: plain, url } = await serve(createDashboard(dashboardOptions()));
    try {
      const session = await fetch(`${url}/api/session`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(session.status).toBe(200);
      expect((await fetch(`${url}/`)).status).toBe(200);
    } finally {
      plain.close();
    }
    const outside = await fetch(`${base}/elsewhere`);
    expect(outside.status).toBe(404);
  });

  it('Express: app.use(path, handler) after express.json(), other routes untouched, the cookie scoped to the mount', async () => {
    const app = express();
    app.use(express.json());
    app.get('/health', (_req, res) => {
      res.send('ok');
    });
    app.use('/admin/jobs', createDashboard(dashboardOptions()));
    const { server: mounted, url } = await serve(app);
    try {
      expect(await (await fetch(`${url}/health`)).text()).toBe('ok');
      const bare = await fetch(`${url}/admin/jobs`, { redirect: 'manual' });
      expect(bare.status).toBe(308);
      expect(bare.headers.get('location')).toBe('/admin/jobs/');
      expect((await fetch(`${url}/admin/jobs/`)).status).toBe(200);
      expect((await fetch(`${url}/admin/jobs/assets/app.css`)).headers.get('content-type')).toMatch(/text\/css/);
      const ref = { queue: 'custom', id: 'express-1' };
      const { done } = startJob(ref);
      // express.json() has read the body already: the handler uses req.body.
      const answer = await fetch(`${url}/admin/jobs/api/terminate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ job: ref, reason: 'from express', wait: true }),
      });
      expect(((await answer.json()) as { status: string }).status).toBe('terminated');
      await done;
      const login = await fetch(`${url}/admin/jobs/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `token=${ADMIN}`,
        redirect: 'manual',
      });
      expect(login.headers.get('set-cookie')).toMatch(/Path=\/admin\/jobs\//);
      const unknown = await fetch(`${url}/admin/jobs/api/nothing`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(unknown.status).toBe(404);
    } finally {
      mounted.close();
    }
  });
});
