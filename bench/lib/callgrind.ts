/**
 * Running a bench worker under `valgrind --tool=callgrind` and reading its
 * counts: instructions, not seconds, so the figure is the same whatever else
 * the machine runs. The worker starts with instrumentation off
 * (`--instr-atstart=no`: start-up and warm-up at near native speed, the JIT
 * settles); the suite switches it on and off with `callgrind_control` around
 * the part it counts, and each `callgrind_control -d` writes one numbered
 * dump of what was counted since the last one.
 *
 * `BENCH_CALLGRIND_DIR=<dir>` keeps the dumps there (a folder per process)
 * for `callgrind_annotate`: V8's builtins and the garbage collector are
 * named in them (JIT-compiled JavaScript is not), which says how much of a
 * count is promises, maps, allocation or collection.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * V8 flags that make a count repeat, for every process the suites count.
 * No background compiler or GC threads (their work would land in the count
 * by timing), and a heap that grows by fixed steps rather than by measured
 * allocation rates. Full collections only when the old generation is full,
 * in one piece: incremental marking is advanced by posted tasks and the
 * memory reducer by an idle timer, so under valgrind's slowdown a full
 * collection landed in one counted round of eight or in none, by wall time
 * (a round of 41k per job among rounds of 12.5k; the mean moved by 2.5k per
 * job). With both off, the rounds of a side agree within 3%.
 */
export const REPEATABLE_V8_FLAGS: readonly string[] = [
  '--single-threaded',
  '--predictable-gc-schedule',
  '--no-incremental-marking',
  '--no-memory-reducer',
];

export async function hasValgrind(): Promise<boolean> {
  try {
    await run('valgrind', ['--version']);
    await run('callgrind_control', ['--version']);
    return true;
  } catch {
    return false;
  }
}

/** A node process under callgrind, instrumentation off, and the controls the suite drives it with. */
export interface CallgrindProcess {
  readonly child: ChildProcess;
  /** The last of valgrind's stderr, for an error message. */
  stderr(): string;
  instrument(on: boolean): Promise<void>;
  /** Writes the next numbered dump (the counts since the previous one). */
  dump(): Promise<void>;
  /** The instruction total of dump `n` (1 for the first `dump()`). */
  dumped(n: number): Promise<number>;
  /** Kills the process if it still runs and removes its dumps. */
  close(): Promise<void>;
}

export async function spawnUnderCallgrind(
  nodeArgs: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<CallgrindProcess> {
  const keep = process.env.BENCH_CALLGRIND_DIR;
  const dir = await mkdtemp(join(keep ?? tmpdir(), 'jobterm-callgrind-'));
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--instr-atstart=no',
      `--callgrind-out-file=${join(dir, 'callgrind.out.%p')}`,
      process.execPath,
      ...nodeArgs,
    ],
    { env, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const control = (...args: string[]) => run('callgrind_control', [...args, String(child.pid)]).then(() => undefined);
  return {
    child,
    stderr: () => stderr,
    instrument: (on) => control('-i', on ? 'on' : 'off'),
    dump: () => control('-d'),
    dumped: (n) => dumpedInstructions(dir, n),
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if (keep === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The instruction total of dump `n` in `dir` (the final dump at exit is never counted). */
async function dumpedInstructions(dir: string, n: number): Promise<number> {
  const parts = (await readdir(dir)).filter((name) => name.endsWith(`.${n}`));
  if (parts.length !== 1)
    throw new Error(`expected one callgrind dump .${n} in ${dir}, found ${parts.join(', ') || 'none'}`);
  const text = await readFile(join(dir, parts[0]!), 'utf8');
  const line = /^(?:summary|totals):\s*(\d+)/m.exec(text);
  if (line === null) throw new Error('no summary line in the callgrind dump');
  return Number(line[1]);
}
