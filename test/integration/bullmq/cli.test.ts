// `jobterm terminate bullmq <id> --name <queue>` and `jobterm requests`
// against the Redis store, as a BullMQ user without PostgreSQL runs them.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killAllWorkers } from '../../support/processes.js';
import { haveRedis } from '../../support/redis.js';
import { about, type BullmqWorld, jobFacts, makeWorld } from './setup.js';

const main = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));

function jobterm(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, DEBUG: '', ...env };
    delete childEnv.DATABASE_URL;
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
    // A command that leaks a connection never exits: that fails here.
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

describe.runIf(haveRedis())('jobterm CLI with the Redis store', () => {
  let world: BullmqWorld;
  let env: Record<string, string>;

  beforeAll(async () => {
    world = await makeWorld();
    env = { REDIS_URL: world.url, JOBTERM_REDIS_PREFIX: world.storePrefix, BULL_PREFIX: world.bullPrefix };
  });
  afterEach(killAllWorkers);
  afterAll(async () => {
    await world?.close();
  });

  it('terminates a running BullMQ job in another process, lists the request, and tells unknown jobs apart', async () => {
    const queue = world.queue();
    const a = await world.startWorker(queue, { JOB_MODE: 'stop-on-signal' });
    const job = await queue.add('j', {});
    await a.waitFor(about('job-started', job.id));
    const done = await jobterm(
      ['terminate', 'bullmq', job.id!, '--name', queue.name, '--reason', 'from the shell', '--wait'],
      env,
    );
    expect(done).toMatchObject({ code: 0, stderr: '' });
    expect(done.stdout).toMatch(
      new RegExp(`^terminated bullmq/${queue.name}#${job.id}@${job.timestamp} \\(request [0-9a-f-]{36}\\)`),
    );
    expect(await jobFacts(queue, job.id!)).toMatchObject({
      state: 'failed',
      failedReason: expect.stringMatching(/^Terminated: from the shell \(by cli:/),
    });

    const listed = await jobterm(['requests', '--json'], env);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toMatchObject([
      {
        queue: 'bullmq',
        name: queue.name,
        jobId: `${job.id}@${job.timestamp}`,
        status: 'resolved',
        outcome: 'terminated',
        deliveredBy: 'worker-a',
      },
    ]);

    const unknown = await jobterm(['terminate', 'bullmq', 'nope', '--name', queue.name, '--json'], env);
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ status: 'not_found' });
    const bad = await jobterm(['terminate', 'bullmq', 'a:b', '--name', queue.name], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Expected `job.id` to be a BullMQ job id/);
  });

  it('jobterm workers and jobs list BullMQ workers on the Redis store (--redis-url, or REDIS_URL); withdraw takes back a request', async () => {
    const queue = world.queue();
    const a = await world.startWorker(queue, {
      JOB_MODE: 'stop-on-signal',
      JT_HEARTBEAT: '200',
      JT_DEAD_BEATS: '40',
      WORKER_ID: 'cli-bull',
    });
    const { bullWorkerId } = await a.waitFor('ready');
    const job = await queue.add('j', {});
    await a.waitFor(about('job-started', job.id));
    const ref = `bullmq/${queue.name}#${job.id}@${job.timestamp}`;
    for (const deadline = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 50))) {
      if ((await world.store.fleet({ worker: 'cli-bull' })).workers[0]?.jobs.length === 1) break;
      if (Date.now() > deadline) throw new Error('the worker never listed its job');
    }

    const workers = await jobterm(['workers', '--json'], env);
    expect(workers).toMatchObject({ code: 0, stderr: '' });
    // The previous test's SIGKILLed worker is listed too until its dead threshold passes: look at this one.
    const listed = JSON.parse(workers.stdout).workers.filter((w: { workerId: string }) => w.workerId === 'cli-bull');
    expect(listed).toMatchObject([
      {
        workerId: 'cli-bull',
        pid: a.pid,
        jobs: 1,
        queues: [{ queue: 'bullmq', names: [queue.name], queueIds: [bullWorkerId] }],
      },
    ]);
    const table = await jobterm(['workers', '--redis-url', world.url, '--redis-prefix', world.storePrefix], {
      REDIS_URL: '',
    });
    expect(table).toMatchObject({ code: 0, stderr: '' });
    expect(table.stdout).toMatch(new RegExp(`^cli-bull .* bullmq\\(${queue.name}\\) +1 `, 'm'));

    const jobs = await jobterm(['jobs', '--json', '--queue', 'bullmq', '--worker', 'cli-bull'], env);
    expect(jobs).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(jobs.stdout).jobs).toMatchObject([
      {
        job: ref,
        task: queue.name,
        attempt: 1,
        workerId: 'cli-bull',
        queueWorkerId: bullWorkerId,
        termination: { state: 'none' },
      },
    ]);
    const jobsTable = await jobterm(['jobs'], env);
    expect(jobsTable.stdout).toContain(ref);

    // A request for a job not running anywhere (and not in BullMQ): withdrawn before any worker applies it.
    const { request } = await world.store.request({ ref: { queue: 'custom', id: 'later' }, message: 'never mind' });
    const withdrawn = await jobterm(['withdraw', request.id], env);
    expect(withdrawn).toMatchObject({ code: 0, stderr: '' });
    expect(withdrawn.stdout).toMatch(/withdrawn: no worker will apply it/);
    expect((await world.store.listRequests({ pending: true })).map((r) => r.id)).not.toContain(request.id);
  });
});
