// `jobterm dashboard` as a real process: where it binds, which tokens it
// takes, the admin token it generates when given none, and a clean exit on
// SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { postgresStore } from '../../../src/stores/postgres/index.js';
import { redisStore } from '../../../src/stores/redis/index.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { haveRedis, redisUrl, uniquePrefix } from '../../support/redis.js';

const cli = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
let db: TestDatabase;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  db = await createTestDatabase('jobterm_http_cli');
  const store = postgresStore({ connectionString: db.url, logger: silentLogger });
  await store.migrate();
  await store.close();
});
afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
});
afterAll(async () => {
  await db?.drop();
});

/** Starts `jobterm dashboard ...` and resolves with its first stdout line (the JSON with --json). */
function dashboard(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'dashboard', '--port', '0', ...args], {
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      JOBTERM_DASHBOARD_TOKEN: '',
      JOBTERM_DASHBOARD_READ_TOKEN: '',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const lines: string[] = [];
  const first = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      if (lines.length === 1) resolve(line);
    });
    exited.then((code) => reject(new Error(`exited ${code} before printing: ${stderr}`)));
  });
  // Tests of a usage error never read `first`.
  first.catch(() => undefined);
  return { child, first, lines, exited, stderr: () => stderr };
}

describe('jobterm dashboard', () => {
  it('with no token, generates an admin token and prints the URL to open; binds 127.0.0.1; exits 0 on SIGTERM', async () => {
    const run = dashboard([]);
    const line = await run.first;
    expect(line).toMatch(/^jobterm dashboard on http:\/\/127\.0\.0\.1:\d+\/$/);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const generated = run.lines.find((l) => l.startsWith('no token given'))!;
    const token = /\(admin:([A-Za-z0-9_-]{32})\)/.exec(generated)![1]!;
    const open = run.lines.find((l) => l.startsWith('open '))!.slice('open '.length);
    const url = line.slice('jobterm dashboard on '.length);
    expect(open).toBe(`${url}#token=${token}`);
    expect((await fetch(`${url}api/session`)).status).toBe(401);
    const session = await fetch(`${url}api/session`, { headers: { authorization: `Bearer ${token}` } });
    expect(await session.json()).toMatchObject({ user: { name: 'admin', role: 'admin' } });
    // The fleet and the history come from the database.
    const jobs = await fetch(`${url}api/jobs`, { headers: { authorization: `Bearer ${token}` } });
    expect(await jobs.json()).toMatchObject({ count: 0, jobs: [] });
    const history = await fetch(`${url}api/requests`, { headers: { authorization: `Bearer ${token}` } });
    expect(await history.json()).toEqual({ requests: [] });
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it('takes named tokens from the environment; the read token may not terminate; nothing is generated', async () => {
    const admin = 'ops-secret-0123456789abcd';
    const reader = 'viewer-secret-0123456789';
    const run = dashboard(['--json'], {
      JOBTERM_DASHBOARD_TOKEN: `ops:${admin}`,
      JOBTERM_DASHBOARD_READ_TOKEN: `viewer:${reader}, other:another-secret-0123456`,
    });
    const printed = JSON.parse(await run.first) as { url: string; token?: string };
    expect(printed.token).toBeUndefined();
    const { url } = printed;
    const whoami = async (secret: string) =>
      (
        (await (await fetch(`${url}api/session`, { headers: { authorization: `Bearer ${secret}` } })).json()) as {
          user: unknown;
        }
      ).user;
    expect(await whoami(admin)).toEqual({ name: 'ops', role: 'admin' });
    expect(await whoami(reader)).toEqual({ name: 'viewer', role: 'read' });
    expect(await whoami('another-secret-0123456')).toEqual({ name: 'other', role: 'read' });
    const refused = await fetch(`${url}api/terminate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json' },
      body: JSON.stringify({ job: { queue: 'graphile-worker', id: '1' } }),
    });
    expect(refused.status).toBe(403);
    const [row] = await db.query<{ n: number }>('select count(*)::int as n from jobterm.kill_requests');
    expect(row!.n).toBe(0);
  });

  it('--token wins over the environment; --host binds elsewhere', async () => {
    const run = dashboard(['--json', '--token', 'cli:cli-secret-0123456789ab', '--host', '0.0.0.0'], {
      JOBTERM_DASHBOARD_TOKEN: 'env:env-secret-0123456789ab',
    });
    const { url } = JSON.parse(await run.first) as { url: string };
    expect(url).toMatch(/^http:\/\/0\.0\.0\.0:\d+\/$/);
    const local = url.replace('0.0.0.0', '127.0.0.1');
    const env = await fetch(`${local}api/session`, { headers: { authorization: 'Bearer env-secret-0123456789ab' } });
    expect(env.status).toBe(401);
    const flag = await fetch(`${local}api/session`, { headers: { authorization: 'Bearer cli-secret-0123456789ab' } });
    expect(flag.status).toBe(200);
  });

  it('a weak token or a bad port is a usage error (exit 2) before anything listens', async () => {
    const weak = dashboard(['--token', 'alice:short']);
    expect(await weak.exited).toBe(2);
    expect(weak.stderr()).toMatch(/at least 16 characters/);
    expect(weak.stderr()).not.toContain('short');
    const port = dashboard(['--port', '99999']);
    expect(await port.exited).toBe(2);
    expect(port.stderr()).toMatch(/--port must be a whole number/);
  });
});

describe.runIf(haveRedis())('jobterm dashboard on the Redis store', () => {
  it('--redis-url serves the fleet and the request history from Redis, without PostgreSQL', async () => {
    const prefix = uniquePrefix('jt-dash');
    const store = redisStore({ connection: redisUrl(), prefix, receiveRequests: false, logger: silentLogger });
    try {
      const instanceId = randomUUID();
      await store.heartbeat(
        {
          instanceId,
          workerId: 'bull-on-redis',
          host: 'h',
          pid: 7,
          queues: [{ queue: 'bullmq', names: ['mail'], queueIds: ['w1'] }],
          versions: { jobterm: '1', node: '24' },
          startedAt: new Date(),
          heartbeatInterval: 60_000,
          deadAfter: 240_000,
          jobs: [
            { ref: { queue: 'bullmq', name: 'mail', id: '3@4' }, task: 'mail', attempt: 1, startedAt: new Date() },
          ],
        },
        randomBytes(32).toString('hex'),
      );
      const { request } = await store.request({
        ref: { queue: 'bullmq', name: 'mail', id: '3@4' },
        message: 'stop it',
      });
      const admin = 'ops-secret-0123456789abcd';
      const run = dashboard(['--json', '--redis-url', redisUrl(), '--redis-prefix', prefix], {
        DATABASE_URL: '',
        JOBTERM_DASHBOARD_TOKEN: `ops:${admin}`,
      });
      const { url } = JSON.parse(await run.first) as { url: string };
      const get = async (path: string) =>
        (await fetch(`${url}api/${path}`, { headers: { authorization: `Bearer ${admin}` } })).json() as Promise<
          Record<string, unknown>
        >;
      expect(await get('workers')).toMatchObject({ workers: [{ workerId: 'bull-on-redis' }] });
      expect(await get('jobs')).toMatchObject({
        jobs: [{ task: 'mail', attempt: 1, termination: { state: 'requested', requestId: request.id } }],
      });
      expect(await get('requests')).toMatchObject({ requests: [{ id: request.id }] });
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    } finally {
      await store.close();
    }
  });
});
