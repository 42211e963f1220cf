// `npm run demo` as a user runs it: a real child process, real workers, a
// real PostgreSQL. Asserts what the demo shows (each kind of termination, the
// escalation, the resume, the summary) and that it leaves nothing behind:
// every process it started has exited, and its database or temp dir is gone.
// Timings are not asserted: they are the demo's to show, not the test's.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { serverUrl } from '../support/db.js';
import { hasRedisServer } from '../support/redis-server.js';

const DEMO = fileURLToPath(new URL('../../examples/demo/run.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface DemoRun {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves once a line matches. */
  waitForLine(pattern: RegExp, timeout: number): Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const runs: DemoRun[] = [];

function runDemo(env: Record<string, string | undefined>): DemoRun {
  const { DATABASE_URL: _inherited, ...base } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', DEMO], {
    cwd: ROOT,
    env: { ...base, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    for (const listener of [...listeners]) listener();
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const run: DemoRun = {
    child,
    exited,
    output: () => text,
    waitForLine(pattern, timeout) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = text.split('\n').find((l) => pattern.test(l));
          if (line === undefined) return;
          done();
          resolve(line);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no line matching ${pattern} within ${timeout} ms:\n${text}`));
        }, timeout);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
  };
  runs.push(run);
  return run;
}

/** Alive and not a zombie: a process that exited but was not reaped yet counts as gone. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The pids of every process the demo started, from its closing row. */
function cleanedUpPids(output: string): number[] {
  const match = /cleaned up: every process ended \(pids ([\d, ]+);/.exec(output);
  expect(match, output).not.toBeNull();
  return match![1]!.split(',').map((pid) => Number(pid.trim()));
}

afterEach(async () => {
  // A failed assertion must not leave a demo running.
  for (const run of runs.splice(0)) {
    if (run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill('SIGINT');
      await run.exited;
    }
  }
});

describe('npm run demo', () => {
  it('shows every kind of termination, ends with the summary, exits 0 and leaves nothing behind', async () => {
    const demo = runDemo({ DATABASE_URL: serverUrl() });
    const { code } = await demo.exited;
    const out = demo.output();
    expect(code, out).toBe(0);

    // A running graphile-worker job terminated from another process through the API.
    expect(out).toMatch(/\[gw-1\]\s+job 1 export sees its token fire: kill/);
    expect(out).toMatch(/\[api\]\s+terminate\(graphile-worker job 1 export\) answered 'terminated'/);
    expect(out).toMatch(/\[gw-1\]\s+job 1 export terminated: ended for good/);
    // A running pg-boss job terminated through the CLI.
    expect(out).toMatch(/\[cli\]\s+\$ jobterm terminate pg-boss [0-9a-f-]{36} --name media/);
    expect(out).toMatch(/\[cli\]\s+terminated pg-boss\/media#[0-9a-f-]{36}/);
    expect(out).toMatch(/\[boss-1\]\s+job [0-9a-f]{8} video terminated: ended for good/);
    // A queued job terminated before it ran, and never started.
    expect(out).toMatch(/\[api\]\s+terminate\(pg-boss\/media job [0-9a-f]{8} newsletter\) answered 'terminated'/);
    expect(out).toMatch(/newsletter was due at .* ago: no worker ever started it/);
    expect(out).not.toMatch(/newsletter started/);
    // SIGTERM: the polite backfill stops, the stubborn job is escalated, the worker exits 0.
    const stopped = /\[gw-1\]\s+job 2 backfill: stops between two rows \(shutdown\); cursor (\d+) saved/.exec(out);
    expect(stopped, out).not.toBeNull();
    expect(out).toMatch(/\[gw-1\]\s+job 3 stubborn did not stop within the timeout: escalating/);
    expect(out).toMatch(/\[gw-1\]\s+job 3 stubborn interrupted \(shutdown, escalated\): back in the queue/);
    expect(out).toMatch(/\[gw-1\]\s+process exited \(code 0\)/);
    // The backfill resumes on the other worker from the cursor gw-1 saved, and completes.
    expect(out).toContain(`[gw-2]   job 2 backfill: iterate() resumes after cursor ${stopped![1]},`);
    expect(out).toMatch(/\[gw-2\]\s+job 2 backfill completed/);
    expect(out).toMatch(/\[gw-2\]\s+job 3 stubborn completed/);
    // The summary: one row per job, each as expected.
    const table = out.slice(out.indexOf('QUEUE '));
    const rows = table.split('\n').slice(1, 7);
    expect(rows.map((row) => row.trim().split(/\s+/)[2])).toEqual([
      'export',
      'backfill',
      'video',
      'thumbnail',
      'newsletter',
      'stubborn',
    ]);
    for (const row of rows) expect(row.trimEnd().endsWith('✓'), row).toBe(true);
    expect(out).toMatch(/demo_rows after the backfill: 3000 rows done once, 0 twice, 0 never/);

    // BullMQ on Redis, when a Redis is at hand (REDIS_URL, or redis-server on PATH); otherwise one line says so.
    if (process.env.REDIS_URL || hasRedisServer()) {
      expect(out).toMatch(/\[bull-1\]\s+job render sees its token fire: kill/);
      expect(out).toMatch(
        /BullMQ job render: failed, attemptsMade 1, .*failedReason "Terminated: customer cancelled \(by demo\)"/,
      );
      expect(out).toMatch(/BullMQ job archive: waiting, attemptsMade 0/);
      expect(out).toMatch(/BullMQ job later: removed/);
      expect(out).toMatch(/BullMQ jobs ended as expected/);
    } else {
      expect(out).toMatch(/skipping BullMQ: no Redis/);
    }
    expect(out).toContain('every job ended as expected');

    // Nothing left: no process, no database.
    const pids = cleanedUpPids(out);
    expect(pids.length).toBeGreaterThanOrEqual(5);
    expect(pids.filter(isAlive)).toEqual([]);
    const database = /\[pg\]\s+database (jobterm_demo_[0-9a-f]+) /.exec(out)?.[1];
    expect(database, out).toBeDefined();
    const client = new pg.Client({ connectionString: serverUrl() });
    await client.connect();
    try {
      const { rows: left } = await client.query('select 1 from pg_database where datname = $1', [database]);
      expect(left).toEqual([]);
    } finally {
      await client.end();
    }
  }, 240_000);

  it('on Ctrl-C (SIGINT) ends every process, stops the embedded PostgreSQL and removes its temp dir', async () => {
    // No DATABASE_URL: the demo starts its own embedded PostgreSQL, as for a new user.
    const demo = runDemo({});
    await demo.waitForLine(/\[gw-1\]\s+up \(pid \d+\)/, 120_000);
    demo.child.kill('SIGINT');
    const { code } = await demo.exited;
    const out = demo.output();
    expect(code, out).toBe(130);
    expect(out).toContain('SIGINT: stopping every process and removing the database');
    const dataDir = /\[pg\]\s+embedded PostgreSQL on [\d.:]+ \(pid \d+\), data in (\S+)/.exec(out)?.[1];
    expect(dataDir, out).toBeDefined();
    expect(existsSync(dataDir!)).toBe(false);
    expect(out).toContain(`PostgreSQL stopped, ${dataDir} removed`);
    const pids = cleanedUpPids(out);
    // The workers, the API process and the PostgreSQL server.
    expect(pids.length).toBeGreaterThanOrEqual(5);
    expect(pids.filter(isAlive)).toEqual([]);
  }, 240_000);
});
