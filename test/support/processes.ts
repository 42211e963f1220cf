import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A message a test worker prints as one JSON line on stdout (see `report()`). */
export type WorkerMessage = { event: string } & Record<string, unknown>;

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Every message so far, in order. */
  readonly messages: WorkerMessage[];
  /** Resolves with the first message (past or future) that matches; rejects after `timeout` ms or if the process exits first. */
  waitFor(match: string | ((message: WorkerMessage) => boolean), timeout?: number): Promise<WorkerMessage>;
  /** Sends a signal. */
  kill(signal?: NodeJS.Signals): void;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** stderr so far, for failure messages. */
  stderr(): string;
}

const live = new Set<ChildProcess>();

/**
 * Spawns a TypeScript worker script in a real OS process (through tsx, so it
 * imports jobterm's sources directly). Its stdout must carry JSON lines;
 * anything else is kept with stderr for diagnostics.
 */
export function spawnWorker(
  script: string,
  options: { env?: Record<string, string>; args?: string[] } = {},
): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...(options.args ?? [])], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const messages: WorkerMessage[] = [];
  const waiters = new Set<{ match: (m: WorkerMessage) => boolean; resolve: (m: WorkerMessage) => void }>();
  let errText = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    errText += chunk;
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let message: WorkerMessage;
    try {
      message = JSON.parse(line) as WorkerMessage;
      if (typeof message?.event !== 'string') throw new Error('no event');
    } catch {
      errText += `[stdout] ${line}\n`;
      return;
    }
    messages.push(message);
    for (const waiter of [...waiters]) {
      if (waiter.match(message)) {
        waiters.delete(waiter);
        waiter.resolve(message);
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  const toMatcher = (match: string | ((m: WorkerMessage) => boolean)) =>
    typeof match === 'string' ? (m: WorkerMessage) => m.event === match : match;
  return {
    child,
    pid: child.pid ?? -1,
    messages,
    exited,
    stderr: () => errText,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    waitFor(match, timeout = 20_000) {
      const matcher = toMatcher(match);
      const seen = messages.find(matcher);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = {
          match: matcher,
          resolve: (m: WorkerMessage) => {
            clearTimeout(timer);
            resolve(m);
          },
        };
        const fail = (why: string) => {
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(
            new Error(
              `${why} waiting for ${String(match)} from ${script}\nmessages: ${JSON.stringify(messages)}\nstderr: ${errText}`,
            ),
          );
        };
        const timer = setTimeout(() => fail(`timed out after ${timeout} ms`), timeout);
        waiters.add(waiter);
        exited.then(({ code, signal }) => {
          if (waiters.has(waiter)) fail(`process exited (code ${code}, signal ${signal})`);
        });
      });
    },
  };
}

/** Kills every worker a test file spawned and is still alive; call in `afterEach`/`afterAll`. */
export async function killAllWorkers(): Promise<void> {
  const children = [...live];
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

/** For worker scripts: print one message as a JSON line. */
export function report(event: string, data: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, at: Date.now(), ...data })}\n`);
}
