/**
 * Isolation (src/isolation): what a pooled isolate costs and how fast it
 * really stops, each beside its reference in the same run.
 *
 * - escalation's hard stop -> the isolate gone, beside Node's own floor
 *   (`worker.terminate()` on a spinning thread; SIGKILL to a spinning child);
 * - per job, a pooled isolated no-op beside the same job in-process and
 *   beside a fresh thread per job (what runInWorkerThread() did in 0.1);
 * - end to end, terminate() in another process -> a CPU-bound isolated job
 *   gone, with killTimeout 0, beside the same terminate() -> token fired.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { silentLogger } from '../../src/core/logger.js';
import { isolated } from '../../src/isolation/index.js';
import { resolveIsolatedOptions } from '../../src/isolation/options.js';
import { ProcessPool } from '../../src/isolation/process-pool.js';
import { ThreadPool } from '../../src/isolation/thread-pool.js';
import { postgresStore } from '../../src/stores/postgres/index.js';
import { createTerminator } from '../../src/terminator/terminator.js';
import { freshThread } from '../lib/fresh-thread.js';
import type { BenchSuite, Figure } from '../lib/types.js';
import { connectWorker } from '../lib/worker-messages.js';

const moduleUrl = new URL('../fixtures/isolated-bench.mjs', import.meta.url).href;
const workerScript = fileURLToPath(new URL('../workers/isolation-worker.ts', import.meta.url));
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ref = { queue: 'bench', id: 'isolation' };

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('bench: an isolate never started');
    await sleep(1);
  }
}

/** Escalation's hard stop on a spinning isolate -> gone, through the pool, beside Node's own floor. */
async function hardStopFigures(rounds: number, dir: string): Promise<Figure[]> {
  const threadStop: number[] = [];
  const threadFloor: number[] = [];
  const processStop: number[] = [];
  const processFloor: number[] = [];
  // No loader in the isolates (the module is plain JavaScript), as for the floor's thread and child.
  const options = (runner: 'thread' | 'process') => resolveIsolatedOptions({ runner, size: 1, execArgv: [] }).pool;
  const threads = new ThreadPool(options('thread'));
  const processes = new ProcessPool(options('process'));
  try {
    for (let round = 0; round < rounds; round++) {
      // jobterm: a pooled thread, terminated by escalation's hard stop.
      const laps = new SharedArrayBuffer(4);
      const run = threads.start({ module: moduleUrl, exportName: 'spin', payload: { laps }, ref });
      run.answer.catch(() => {});
      await until(() => Atomics.load(new Int32Array(laps), 0) > 0);
      let start = performance.now();
      await run.hardStop();
      threadStop.push(performance.now() - start);

      // Node's floor: worker.terminate() on a fresh spinning thread.
      const floorLaps = new SharedArrayBuffer(4);
      const worker = new Worker(
        'const l = new Int32Array(require("node:worker_threads").workerData); for (;;) Atomics.add(l, 0, 1);',
        { eval: true, workerData: floorLaps, execArgv: [] },
      );
      await until(() => Atomics.load(new Int32Array(floorLaps), 0) > 0);
      start = performance.now();
      await worker.terminate();
      threadFloor.push(performance.now() - start);

      // jobterm: a pooled child process, SIGTERM (a deaf loop has no handler: it dies at once).
      const marker = join(dir, `p${round}`);
      const child = processes.start({ module: moduleUrl, exportName: 'spin', payload: { marker }, ref });
      child.answer.catch(() => {});
      await until(() => existsSync(marker));
      start = performance.now();
      await child.hardStop();
      processStop.push(performance.now() - start);

      // Node's floor: SIGKILL to a spinning child -> its exit.
      const floorMarker = join(dir, `f${round}`);
      const raw = spawn(
        process.execPath,
        ['-e', `require('node:fs').writeFileSync(${JSON.stringify(floorMarker)}, ''); for (;;) {}`],
        { stdio: 'ignore' },
      );
      await until(() => existsSync(floorMarker));
      const exited = new Promise((resolve) => raw.once('exit', resolve));
      start = performance.now();
      raw.kill('SIGKILL');
      await exited;
      processFloor.push(performance.now() - start);
    }
  } finally {
    await Promise.all([threads.close(), processes.close()]);
  }
  return [
    {
      name: "escalation's hard stop -> pooled thread gone",
      unit: 'ms',
      samples: threadStop,
      reference: { name: 'worker.terminate() on a spinning thread, alone', samples: threadFloor },
      lowerIsBetter: true,
      goal: 'about the floor (~2 ms)',
    },
    {
      name: "escalation's hard stop -> pooled child process gone, SIGTERM",
      unit: 'ms',
      samples: processStop,
      reference: { name: 'SIGKILL -> exit of a spinning child, alone', samples: processFloor },
      lowerIsBetter: true,
      goal: 'about the floor (~2 ms)',
    },
  ];
}

/** One job's cost, sequentially, in each runner, beside in-process and a fresh thread per job. */
async function perJobFigures(jobs: number): Promise<Figure[]> {
  const terminator = createTerminator({ logger: silentLogger });
  const inThread = isolated(moduleUrl, { runner: 'thread', exportName: 'noop', size: 1, execArgv: [] });
  const inProcess = isolated(moduleUrl, { runner: 'process', exportName: 'noop', size: 1, execArgv: [] });
  const time = async (job: () => unknown, n: number): Promise<number[]> => {
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
      const start = performance.now();
      const outcome = await terminator.run(ref, job);
      samples.push(performance.now() - start);
      if (outcome.status !== 'completed') throw new Error(`bench: a no-op job ended ${outcome.status}`);
    }
    return samples;
  };
  // Warm: the pools' isolates started, the module loaded.
  await time(() => inThread(undefined), 20);
  await time(() => inProcess(undefined), 20);
  await time(() => 1, 200);
  const fresh = await time(() => freshThread(moduleUrl, 'noop'), Math.max(10, Math.round(jobs / 20)));
  const pooledThread = await time(() => inThread(undefined), jobs);
  const pooledProcess = await time(() => inProcess(undefined), jobs);
  const inline = await time(() => 1, jobs);
  await terminator.shutdown();
  return [
    {
      name: 'per job: isolated no-op, pooled thread',
      unit: 'ms',
      samples: pooledThread,
      reference: { name: 'a fresh worker thread per job (runInWorkerThread() in 0.1)', samples: fresh },
      lowerIsBetter: true,
      goal: 'start-up paid once per pool slot, not per job',
    },
    {
      name: 'per job: isolated no-op, pooled child process',
      unit: 'ms',
      samples: pooledProcess,
      reference: { name: 'a fresh worker thread per job (runInWorkerThread() in 0.1)', samples: fresh },
      lowerIsBetter: true,
    },
    {
      name: 'per job: isolated no-op, pooled thread, against in-process',
      unit: 'ms',
      samples: pooledThread,
      reference: { name: 'the same job in-process (terminator.run)', samples: inline },
      lowerIsBetter: true,
      notes:
        'the cost of isolating: one structured clone each way, a SharedArrayBuffer flag, a v8.serialize of the result',
    },
  ];
}

/** terminate() in this process -> the isolated CPU-bound job gone in the worker process, killTimeout 0. */
async function endToEndFigures(
  url: string,
  runner: 'thread' | 'process',
  rounds: number,
  warmup: number,
): Promise<Figure[]> {
  const store = postgresStore({ connectionString: url, receiveRequests: false, logger: silentLogger });
  await store.migrate();
  const requester = createTerminator({ store, logger: silentLogger, workerId: 'bench-requester' });
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', workerScript], {
    env: { ...process.env, DATABASE_URL: url, RUNNER: runner },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const next = connectWorker(child, 'isolation worker');
  const gone: number[] = [];
  const fired: number[] = [];
  try {
    await next('ready', '', 30_000);
    for (let round = 0; round < warmup + rounds; round++) {
      const i = `${runner}-${round}`;
      child.stdin!.write(`run ${i}\n`);
      await next('started', i, 30_000);
      const start = now();
      await requester.terminate({ queue: 'bench', id: i });
      const firedAt = await next('fired', i);
      const goneAt = await next('gone', i);
      await next('settled', i);
      if (round >= warmup) {
        fired.push(firedAt.t! - start);
        gone.push(goneAt.t! - start);
      }
    }
    child.stdin!.write('exit\n');
    await new Promise((resolve) => child.once('exit', resolve));
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await requester.close();
  }
  return [
    {
      name: `end to end: terminate() in another process -> CPU-bound isolated job gone, ${runner}, killTimeout 0`,
      unit: 'ms',
      samples: gone,
      reference: { name: 'the same terminate() -> the job’s token fired in the worker', samples: fired },
      lowerIsBetter: true,
      goal: 'p99 < 10 ms; Sidequest polls each running job every 1 s (its documented cancel path)',
    },
  ];
}

export const isolationSuite: BenchSuite = {
  name: 'isolation',
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), 'jobterm-bench-isolation-'));
    try {
      const figures = await hardStopFigures(ctx.quick ? 3 : 30, dir);
      figures.push(...(await perJobFigures(ctx.quick ? 50 : 1_000)));
      const { url } = await ctx.createDatabase('jobterm_bench_isolation');
      for (const runner of ['thread', 'process'] as const) {
        figures.push(...(await endToEndFigures(url, runner, ctx.quick ? 5 : 100, ctx.quick ? 1 : 5)));
      }
      return figures;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
