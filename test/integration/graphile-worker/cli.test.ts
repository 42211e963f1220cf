// `jobterm terminate graphile-worker <id>`: the CLI reads graphile's tables
// (through graphileWorkerAdapter) to answer already_finished / not_found and
// to cancel a queued job; a running job is reached through the store.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killAllWorkers } from '../../support/processes.js';
import { forJob, type GraphileTestDatabase, prepareGraphileDatabase } from './setup.js';

const main = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));

let gw: GraphileTestDatabase;
beforeAll(async () => {
  gw = await prepareGraphileDatabase();
  // The CLI changes no schema by itself.
  expect((await jobterm(['migrate'])).code).toBe(0);
});
afterAll(() => gw?.close());
afterEach(async () => {
  await killAllWorkers();
  await gw.reset();
});

function jobterm(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', main, ...args], {
      env: { ...process.env, DATABASE_URL: gw.db.url, DEBUG: '' },
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
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`jobterm ${args.join(' ')} did not exit\n${stdout}\n${stderr}`));
    }, 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('jobterm terminate graphile-worker', () => {
  it('answers already_finished for a completed job and not_found for an unknown id (exit 1)', async () => {
    const done = await gw.addJob({ behave: 'complete' });
    await gw.utils.completeJobs([done]);
    const finished = await jobterm(['terminate', 'graphile-worker', done, '--json']);
    expect(finished.code).toBe(1);
    expect(JSON.parse(finished.stdout)).toMatchObject({
      status: 'already_finished',
      job: { queue: 'graphile-worker', id: done },
    });
    const unknown = await jobterm(['terminate', 'graphile-worker', '424242424', '--json']);
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ status: 'not_found' });
  });

  it('cancels a queued job before it starts (exit 0)', async () => {
    const id = await gw.addJob({ behave: 'complete' }, { maxAttempts: 2 });
    const result = await jobterm(['terminate', 'graphile-worker', id, '--reason', 'bad batch']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^terminated graphile-worker#/);
    const row = await gw.row(id);
    expect(row).toMatchObject({ attempts: 2, max_attempts: 2, locked_at: null });
    expect(row!.last_error).toMatch(/^Terminated: bad batch \(by cli:/);
  });

  it('reaches a running job in a worker process and waits for it', async () => {
    const worker = await gw.startWorker({ JT_STORE: '1' });
    const id = await gw.addJob({ behave: 'cooperate' });
    await worker.waitFor(forJob('task-start', id));
    const result = await jobterm(['terminate', 'graphile-worker', id, '--wait', '--timeout', '15000', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'terminated' });
    expect((await gw.row(id))?.last_error).toMatch(/^Terminated: terminated from the jobterm CLI/);
  });

  it('a job id that is not graphile’s is a usage error, and nothing is written', async () => {
    const result = await jobterm(['terminate', 'graphile-worker', 'not-a-number']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Expected `job.id` to be a graphile-worker job id/);
  });
});
