// The demo's child processes: spawned with their stdout read as JSON lines
// (protocol.ts), every message kept so a step can wait for one that already
// arrived, and every process tracked so cleanup can end them all.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Message } from './protocol.js';

/** `--import tsx` resolved from here, so the demo runs from any working directory. */
const TSX = import.meta.resolve('tsx');

export interface DemoProcess {
  readonly label: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Writes one line to its stdin (processes spawned with `stdin: true`). */
  send(line: string): void;
}

export interface Received {
  readonly label: string;
  readonly message: Message;
}

export interface ProcessEvents {
  /** A JSON line from a process. */
  message(label: string, message: Message): void;
  /** Any other output (stderr, or stdout that is not a message), one line at a time. */
  output(label: string, line: string, stream: 'stdout' | 'stderr'): void;
  exit(label: string, code: number | null, signal: NodeJS.Signals | null): void;
}

export class ProcessGroup {
  private readonly live = new Set<DemoProcess>();
  private readonly started: DemoProcess[] = [];
  private readonly received: Received[] = [];
  private readonly waiters = new Set<{ match: (r: Received) => boolean; resolve: (r: Received) => void }>();

  constructor(
    private readonly events: ProcessEvents,
    private readonly signal: AbortSignal,
  ) {}

  /** Runs a TypeScript file in a new Node process (through tsx). */
  spawnScript(
    label: string,
    script: string,
    options: { env?: Record<string, string>; args?: string[]; stdin?: boolean } = {},
  ): DemoProcess {
    return this.spawn(label, process.execPath, ['--import', TSX, script, ...(options.args ?? [])], options);
  }

  spawn(
    label: string,
    command: string,
    args: string[],
    options: { env?: Record<string, string>; stdin?: boolean } = {},
  ): DemoProcess {
    this.signal.throwIfAborted();
    const child = spawn(command, args, {
      env: { ...process.env, ...options.env },
      stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      // Its own process group: a Ctrl-C in the terminal reaches the demo only, which then ends
      // every child itself, instead of each child starting its own shutdown at the same moment.
      detached: true,
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => {
        this.live.delete(proc);
        this.events.exit(label, code, signal);
        resolve({ code, signal });
      });
    });
    // A spawn failure (e.g. no such binary) arrives as 'error' without an 'exit'.
    child.once('error', (error) => {
      this.events.output(label, `could not start: ${error.message}`, 'stderr');
    });
    const proc: DemoProcess = {
      label,
      pid: child.pid ?? -1,
      child,
      exited,
      send: (line) => {
        child.stdin?.write(`${line}\n`);
      },
    };
    child.stdin?.on('error', () => {}); // the process may exit while a line is on its way
    this.live.add(proc);
    this.started.push(proc);
    createInterface({ input: child.stdout! }).on('line', (line) => this.onStdout(label, line));
    createInterface({ input: child.stderr! }).on('line', (line) => this.events.output(label, line, 'stderr'));
    return proc;
  }

  /** The first message (already received or still to come) that matches; rejects after `timeout` ms or on abort. */
  waitFor(what: string, match: (received: Received) => boolean, timeout = 30_000): Promise<Received> {
    const seen = this.received.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (received: Received) => {
          done();
          resolve(received);
        },
      };
      const fail = (error: Error) => {
        done();
        reject(error);
      };
      const onAbort = () => fail(new Error(`stopped while waiting for ${what}`));
      const timer = setTimeout(() => fail(new Error(`timed out after ${timeout} ms waiting for ${what}`)), timeout);
      const done = () => {
        this.waiters.delete(waiter);
        clearTimeout(timer);
        this.signal.removeEventListener('abort', onAbort);
      };
      if (this.signal.aborted) return onAbort();
      this.signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** Every message received so far that matches. */
  all(match: (received: Received) => boolean): Received[] {
    return this.received.filter(match);
  }

  /** Every process started, for the cleanup report. */
  pids(): number[] {
    return this.started.map((proc) => proc.pid).filter((pid) => pid > 0);
  }

  /**
   * Ends every process still running: SIGTERM and up to `graceMs` for each to
   * exit on its own, then SIGKILL. `graceMs: 0` kills at once. Resolves when
   * all have exited.
   */
  async stopAll(graceMs: number): Promise<number> {
    const running = [...this.live];
    await Promise.all(
      running.map(async (proc) => {
        if (graceMs > 0) {
          proc.child.kill('SIGTERM');
          const timer = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), graceMs).unref());
          if ((await Promise.race([proc.exited, timer])) !== 'late') return;
        }
        proc.child.kill('SIGKILL');
        await proc.exited;
      }),
    );
    return running.length;
  }

  private onStdout(label: string, line: string): void {
    let message: Message;
    try {
      message = JSON.parse(line) as Message;
      if (typeof message?.event !== 'string') throw new Error('not a message');
    } catch {
      this.events.output(label, line, 'stdout');
      return;
    }
    const received = { label, message };
    this.received.push(received);
    this.events.message(label, message);
    for (const waiter of [...this.waiters]) {
      if (waiter.match(received)) waiter.resolve(received);
    }
  }
}
