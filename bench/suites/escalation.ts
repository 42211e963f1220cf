import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchSuite } from '../lib/types.js';

const script = fileURLToPath(new URL('../fixtures/stuck-worker.ts', import.meta.url));

/** SIGTERM -> process exit for a worker whose K jobs all ignore their tokens. */
async function timeShutdown(jobs: number, timeout: number): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, STUCK_JOBS: String(jobs), SHUTDOWN_TIMEOUT: String(timeout) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
    child.once('exit', () => reject(new Error('stuck worker exited before ready')));
  });
  const start = performance.now();
  const exited = new Promise<number>((resolve) => child.once('exit', () => resolve(performance.now() - start)));
  child.kill('SIGTERM');
  return exited;
}

/**
 * Shutdown escalation accuracy: with K stuck jobs and `shutdownTimeout` T,
 * how long the process takes to stop, beside T itself. The difference is
 * escalation's own cost (settling K jobs, awaiting their writes, exiting).
 */
export const escalationSuite: BenchSuite = {
  name: 'escalation',
  async run(ctx) {
    const jobs = ctx.quick ? 10 : 50;
    const timeout = 200;
    const runs = ctx.quick ? 2 : 10;
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) samples.push(await timeShutdown(jobs, timeout));
    return [
      {
        name: `SIGTERM -> exit, ${jobs} stuck jobs, shutdownTimeout ${timeout} ms`,
        unit: 'ms',
        samples,
        reference: { name: 'shutdownTimeout', samples: samples.map(() => timeout) },
        lowerIsBetter: true,
        goal: 'stops shortly after T',
      },
    ];
  },
};
