import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { JOBTERM_VERSION } from '../../../src/core/version.js';
import { postgresStore } from '../../../src/stores/postgres/index.js';
import { createTerminator, type Terminator } from '../../../src/terminator/terminator.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';

const main = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `jobterm ...` in its own process; `stopAfter` sends SIGINT once stdout holds that many frames. */
function jobterm(args: string[], env: Record<string, string>, stopAfterFrames?: number): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', main, ...args], {
      env: { ...process.env, DEBUG: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      if (stopAfterFrames !== undefined && stdout.split('Ctrl-C to stop').length - 1 >= stopAfterFrames) {
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`jobterm ${args.join(' ')} did not exit\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('jobterm workers / jobs / withdraw / --version', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let worker: Terminator;
  let release: () => void = () => {};
  let running: Promise<unknown>;

  beforeAll(async () => {
    db = await createTestDatabase('jobterm_fleet_cli');
    env = { DATABASE_URL: db.url };
    worker = createTerminator({
      store: postgresStore({ connectionString: db.url, logger: silentLogger }),
      logger: silentLogger,
      workerId: 'cli-worker',
      // 40 beats before it counts as dead: a loaded machine's stall must not drop it from the fleet mid-test.
      presence: { heartbeatInterval: 100, deadAfterBeats: 40 },
    });
    running = worker.run(
      // A queue of the user's own: no queue tables to read (a pg-boss ref would make the CLI read pg-boss's).
      { queue: 'custom', name: 'emails', id: 'job-1' },
      (token) =>
        new Promise<void>((resolve, reject) => {
          release = resolve;
          token.onTerminate(() => reject(token.reason));
        }),
    );
    for (const deadline = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 20))) {
      if ((await worker.fleet()).workers[0]?.jobs.length === 1) break;
      if (Date.now() > deadline) throw new Error('the worker never listed its job');
    }
  });
  afterAll(async () => {
    release();
    await running;
    await worker?.close();
    await db?.drop();
  });

  it('--version prints the version; a negative --timeout gets its own message', async () => {
    expect(await jobterm(['--version'], env)).toEqual({ code: 0, stdout: `${JOBTERM_VERSION}\n`, stderr: '' });
    const negative = await jobterm(['terminate', 'q', '1', '--wait', '--timeout', '-5'], env);
    expect(negative.code).toBe(2);
    expect(negative.stderr).toContain("--timeout must be a whole number of milliseconds, got '-5'");
    expect(negative.stderr).not.toContain('ambiguous');
  });

  it('workers and jobs list the fleet; jobs --watch redraws; terminate takes the JOB column', async () => {
    const workers = await jobterm(['workers'], env);
    expect(workers.code).toBe(0);
    expect(workers.stdout).toMatch(/^WORKER\s+HOST\s+PID/);
    expect(workers.stdout).toContain('cli-worker');
    const json = JSON.parse((await jobterm(['jobs', '--json', '--worker', 'cli-worker'], env)).stdout);
    expect(json.jobs).toEqual([
      expect.objectContaining({ job: 'custom/emails#job-1', workerId: 'cli-worker', termination: { state: 'none' } }),
    ]);
    expect(JSON.parse((await jobterm(['jobs', '--json', '--queue', 'graphile-worker'], env)).stdout).jobs).toEqual([]);
    const table = await jobterm(['jobs'], env);
    expect(table.stdout.split('\n')[1]).toMatch(/^custom\/emails#job-1\s/);

    const watched = await jobterm(['jobs', '--watch'], env, 2);
    expect(watched.code).toBe(0);
    expect(watched.stdout.split('\u001b[H\u001b[2J').length - 1).toBeGreaterThanOrEqual(2);

    const job = table.stdout.split('\n')[1]!.split(/\s+/)[0]!;
    const killed = await jobterm(['terminate', job, '--wait', '--timeout', '10000'], env);
    expect(killed).toMatchObject({ code: 0, stdout: expect.stringMatching(/^terminated custom\/emails#job-1/) });
    await expect(running).resolves.toMatchObject({ status: 'terminated' });
  });

  it('withdraw takes back a pending request; a second withdraw says why not; a bad id is a usage error', async () => {
    const requester = createTerminator({
      store: postgresStore({ connectionString: db.url, logger: silentLogger, receiveRequests: false }),
      logger: silentLogger,
      presence: false,
    });
    try {
      const { requestId } = await requester.terminate({ queue: 'q', id: 'not-started' });
      const first = await jobterm(['withdraw', requestId!], env);
      expect(first).toMatchObject({ code: 0, stdout: `request ${requestId}: withdrawn: no worker will apply it\n` });
      // Withdrawn: a job that starts now runs as if never asked about.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const outcome = await worker.run({ queue: 'q', id: 'not-started' }, () => 'ran');
      expect(outcome).toEqual({ status: 'completed', value: 'ran' });
      const again = await jobterm(['withdraw', requestId!, '--json'], env);
      expect(again.code).toBe(1);
      expect(JSON.parse(again.stdout)).toEqual({ requestId, status: 'expired' });
      const [row] = await db.query('SELECT withdrawn_by FROM jobterm.kill_requests WHERE id = $1', [requestId]);
      expect(row?.withdrawn_by).toMatch(/^cli:/);
      const bad = await jobterm(['withdraw', 'nope'], env);
      expect(bad.code).toBe(2);
    } finally {
      await requester.close();
    }
  });
});
