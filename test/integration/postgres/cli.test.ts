import { spawn } from 'node:child_process';
import { hostname, userInfo } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LATEST_VERSION } from '../../../src/stores/postgres/migrations.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { killAllWorkers, spawnWorker, type WorkerMessage } from '../../support/processes.js';

const main = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
const workerScript = fileURLToPath(new URL('../../fixtures/postgres/worker.ts', import.meta.url));

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `jobterm ...` in its own process through tsx, as a user would run the bin. */
function jobterm(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, DEBUG: '', ...env };
    for (const [key, value] of Object.entries(childEnv)) if (value === undefined) delete childEnv[key];
    const child = spawn(process.execPath, ['--import', 'tsx', main, ...args], {
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    // A command that leaks a timer or a connection never exits: that fails here.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`jobterm ${args.join(' ')} did not exit\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('jobterm CLI', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  const count = async (schema = 'jobterm') =>
    (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.kill_requests`))[0]?.n;
  const oneLine = (text: string) => text.trimEnd().split('\n');

  beforeAll(async () => {
    db = await createTestDatabase('jobterm_pg_cli');
    env = { DATABASE_URL: db.url };
  });
  afterEach(killAllWorkers);
  afterAll(() => db?.drop());

  it('migrate creates the schema, then says it is up to date; concurrent migrates all succeed', async () => {
    const first = await jobterm(['migrate'], env);
    expect(first).toEqual({
      code: 0,
      stdout: `schema "jobterm" migrated from version 0 to ${LATEST_VERSION}\n`,
      stderr: '',
    });
    const again = await jobterm(['migrate', '--json'], env);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({
      schema: 'jobterm',
      from: LATEST_VERSION,
      to: LATEST_VERSION,
      applied: [],
    });

    const racers = await Promise.all([1, 2, 3].map(() => jobterm(['migrate', '--schema', 'raced'], env)));
    expect(racers.map((r) => r.code)).toEqual([0, 0, 0]);
    expect(racers.filter((r) => r.stdout.includes(`migrated from version 0 to ${LATEST_VERSION}`))).toHaveLength(1);
    expect(await db.query('SELECT version FROM raced.migrations ORDER BY version')).toEqual(
      Array.from({ length: LATEST_VERSION }, (_, i) => ({ version: i + 1 })),
    );
  });

  it('terminate stores a request (exit 0), records who asked, and a second one returns the same request', async () => {
    // A queue system of the user's own: jobterm has no adapter, so the request is stored as given.
    const result = await jobterm(['terminate', 'reports', '42', '--reason', 'deploy rollback'], env);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(oneLine(result.stdout)).toHaveLength(1);
    const id = /\(request ([0-9a-f-]{36})\)/.exec(result.stdout)?.[1];
    expect(result.stdout).toMatch(/^requested termination of reports#42: /);
    const json = await jobterm(['terminate', 'reports', '42', '--json'], env);
    expect(JSON.parse(json.stdout)).toEqual({
      status: 'requested',
      job: { queue: 'reports', name: null, id: '42' },
      requestId: id,
    });
    expect(
      await db.query(
        'SELECT id, queue, queue_name, job_id, reason_message, requested_by, status FROM jobterm.kill_requests WHERE job_id = $1',
        ['42'],
      ),
    ).toEqual([
      {
        id,
        queue: 'reports',
        queue_name: '',
        job_id: '42',
        reason_message: 'deploy rollback',
        requested_by: `cli:${userInfo().username}@${hostname()}`,
        status: 'pending',
      },
    ]);
  });

  it('terminate --wait reaches a job running in a worker process and exits 0 with `terminated`', async () => {
    const worker = spawnWorker(workerScript, { env: { DATABASE_URL: db.url, WORKER_ID: 'cli-worker' } });
    await worker.waitFor('ready');
    await db.query(`SELECT pg_notify('jobterm_test_start', 'cli-job')`);
    await worker.waitFor((m: WorkerMessage) => m.event === 'job-started' && m.id === 'cli-job');
    const result = await jobterm(
      ['terminate', 'test', 'cli-job', '--wait', '--timeout', '15000', '--reason', 'from cli'],
      env,
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^terminated test#cli-job \(request [0-9a-f-]{36}\)\n$/);
    const signal = await worker.waitFor((m: WorkerMessage) => m.event === 'job-signal' && m.id === 'cli-job');
    expect(signal.reason).toMatchObject({
      kind: 'kill',
      message: 'from cli',
      requestedBy: expect.stringMatching(/^cli:/),
    });
  });

  it('terminate --wait with no worker times out: exit 1, one line, the request stays', async () => {
    const result = await jobterm(
      ['terminate', 'mailer', 'nobody', '--name', 'emails', '--wait', '--timeout', '300'],
      env,
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /^timed out after 300 ms waiting for mailer\/emails#nobody; the request stays in force/,
    );
    expect(oneLine(result.stdout)).toHaveLength(1);
    expect(await db.query(`SELECT status, queue_name FROM jobterm.kill_requests WHERE job_id = 'nobody'`)).toEqual([
      { status: 'pending', queue_name: 'emails' },
    ]);
  });

  it('requests lists a readable table, JSON for scripts, and only open ones with --pending', async () => {
    await db.query(
      `UPDATE jobterm.kill_requests SET status = 'resolved', outcome = 'terminated', resolved_by = 'w' WHERE job_id = '42'`,
    );
    const table = await jobterm(['requests'], env);
    expect(table.code).toBe(0);
    const lines = oneLine(table.stdout);
    expect(lines[0]).toMatch(/^ID\s+JOB\s+STATUS\s+OUTCOME\s+REQUESTED\s+BY\s+RESOLVED BY\s+REASON$/);
    expect(lines.some((l) => /reports#42\s+resolved\s+terminated .*deploy rollback$/.test(l))).toBe(true);

    const json = await jobterm(['requests', '--pending', '--json'], env);
    const rows = JSON.parse(json.stdout) as Array<{ jobId: string; status: string }>;
    expect(rows.map((r) => r.jobId)).toContain('nobody');
    expect(rows.map((r) => r.jobId)).not.toContain('42');
    expect(rows.every((r) => r.status !== 'resolved')).toBe(true);
    expect(JSON.parse((await jobterm(['requests', '--json', '--limit', '1'], env)).stdout)).toHaveLength(1);
  });

  it('--help for the tool and each command exits 0 and prints usage', async () => {
    for (const args of [['--help'], ['migrate', '--help'], ['terminate', '--help'], ['requests', '-h']]) {
      const result = await jobterm(args, {});
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Usage: jobterm/);
    }
  });

  describe('usage errors: exit 2, one line on stderr, nothing inserted', () => {
    const cases: Array<[string, string[], Record<string, string | undefined>, RegExp]> = [
      ['no command', [], {}, /^jobterm: no command given/],
      ['an unknown command', ['kill', 'x'], {}, /^jobterm: unknown command 'kill'/],
      [
        'an unknown option',
        ['terminate', 'q', '1', '--forcibly'],
        {},
        /^jobterm terminate: unknown option '--forcibly'/,
      ],
      ['a missing job id', ['terminate', 'q'], {}, /expected <queue> <job-id>, got 1 argument/],
      ['an empty job id', ['terminate', 'q', ''], {}, /Expected `job.id` to be a non-empty string/],
      ['a reason over the limit', ['terminate', 'q', '1', '--reason', 'x'.repeat(1001)], {}, /`reason`.*at most 1000/],
      ['a schema name with quotes', ['terminate', 'q', '1', '--schema', 'a"b'], {}, /Expected `schema`/],
      ['--timeout without --wait', ['terminate', 'q', '1', '--timeout', '5'], {}, /--timeout applies only with --wait/],
      ['a bad --timeout', ['terminate', 'q', '1', '--wait', '--timeout', '1s'], {}, /--timeout must be a whole number/],
      [
        'no database',
        ['terminate', 'q', '1'],
        // REDIS_URL too: with it and no database, the CLI uses the Redis store (src/cli/redis.ts).
        { DATABASE_URL: undefined, REDIS_URL: undefined },
        /no database: pass --database-url or set DATABASE_URL/,
      ],
      ['a bad --limit', ['requests', '--limit', '0'], {}, /--limit must be a positive whole number/],
      // issue 10, item 4: ids that cannot be the queue's are refused before anything is stored.
      [
        'a pg-boss id that is not a UUID',
        ['terminate', 'pg-boss', '123', '--name', 'q'],
        {},
        /Expected `job.id` to be a pg-boss job id \(a UUID\), got "123"/,
      ],
      [
        'a pg-boss job without its queue name',
        ['terminate', 'pg-boss', '0b7e8f52-8d2b-4c5e-9a3e-1f2a3b4c5d6e'],
        {},
        /Expected `job.name` to be the pg-boss queue name/,
      ],
      [
        'a graphile-worker id that is not an integer',
        ['terminate', 'graphile-worker', '4x2'],
        {},
        /Expected `job.id` to be a graphile-worker job id/,
      ],
      // issue 10, item 8: a URL that is not one is a usage error, not a DNS lookup.
      [
        'a --database-url that is not a URL',
        ['terminate', 'q', '1', '--database-url', 'base'],
        {},
        /--database-url is not a PostgreSQL URL/,
      ],
      [
        'a DATABASE_URL that is not a URL',
        ['requests'],
        { DATABASE_URL: 'localhost:5432' },
        /DATABASE_URL is not a PostgreSQL URL/,
      ],
      [
        'a --database-url for another database',
        ['migrate', '--database-url', 'mysql://x@y/z'],
        {},
        /--database-url is not a PostgreSQL URL/,
      ],
    ];
    it.each(cases)('%s', async (_what, args, extraEnv, message) => {
      const before = await count();
      const result = await jobterm(args, { ...env, ...extraEnv });
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(oneLine(result.stderr)).toHaveLength(1);
      expect(result.stderr).toMatch(message);
      expect(await count()).toBe(before);
    });
  });

  it('terminate and requests never create a schema: an unmigrated one is exit 3, pointing at `jobterm migrate`', async () => {
    for (const args of [
      ['terminate', 'q', '1', '--schema', 'typo'],
      ['requests', '--schema', 'typo'],
    ]) {
      const result = await jobterm(args, env);
      expect(result.code).toBe(3);
      expect(oneLine(result.stderr)).toEqual([
        expect.stringMatching(/schema "typo" is missing jobterm's tables; run `jobterm migrate`/),
      ]);
    }
    expect(await db.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'typo'`)).toEqual([]);
  });

  it('a database that is down: exit 3 and one line saying where', async () => {
    const result = await jobterm(['terminate', 'q', '1', '--database-url', 'postgres://postgres:secret@127.0.0.1:1/x']);
    expect(result.code).toBe(3);
    expect(oneLine(result.stderr)).toEqual([
      expect.stringMatching(/^jobterm terminate: could not reach PostgreSQL at 127\.0\.0\.1:1\/x: /),
    ]);
    expect(result.stderr).not.toContain('secret');
  });

  // issue 10, item 5: a built-in queue whose tables are not in the database is refused, not stored.
  it('terminate of a graphile-worker or pg-boss job where the queue’s tables are missing: exit 3, one line naming queue and schema, nothing stored', async () => {
    const before = await count();
    const graphile = await jobterm(['terminate', 'graphile-worker', '999999', '--wait', '--timeout', '30000'], env);
    expect(graphile.code).toBe(3);
    expect(graphile.stdout).toBe('');
    expect(oneLine(graphile.stderr)).toEqual([
      expect.stringMatching(
        /^jobterm terminate: could not read graphile-worker's jobs in schema "graphile_worker" at 127\.0\.0\.1:\d+\/jobterm_pg_cli\w+ \(relation "graphile_worker\.jobs" does not exist\): check that/,
      ),
    ]);
    const boss = await jobterm(
      ['terminate', 'pg-boss', '0B7E8F52-8D2B-4C5E-9A3E-1F2A3B4C5D6E', '--name', 'emails'],
      env,
    );
    expect(boss.code).toBe(3);
    expect(oneLine(boss.stderr)).toEqual([
      expect.stringMatching(/^jobterm terminate: could not read pg-boss's jobs in schema pgboss at .*: check that/),
    ]);
    expect(await count()).toBe(before);
  });

  it('a database that is down: the same one line and exit 3 on every command', async () => {
    const url = 'postgres://postgres:secret@127.0.0.1:1/x';
    for (const args of [
      ['terminate', 'graphile-worker', '42'],
      ['terminate', 'pg-boss', '0b7e8f52-8d2b-4c5e-9a3e-1f2a3b4c5d6e', '--name', 'q'],
      ['terminate', 'mine', '42'],
      ['requests'],
      ['migrate'],
    ]) {
      const command = args[0];
      const result = await jobterm([...args, '--database-url', url]);
      expect(result.code, args.join(' ')).toBe(3);
      expect(oneLine(result.stderr), args.join(' ')).toEqual([
        expect.stringMatching(new RegExp(`^jobterm ${command}: could not reach PostgreSQL at 127\\.0\\.0\\.1:1/x: `)),
      ]);
      expect(result.stderr).not.toContain('secret');
    }
  });
});
