import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { deserialize, serialize } from 'node:v8';
import type { TerminationReason } from '../core/reason.js';
import { type DescribedError, payloadCloneError } from './crossing.js';
import { IsolateCrashError } from './errors.js';
import { wireReason } from './flag.js';
import type { ResolvedPoolOptions } from './options.js';
import {
  type IsolateAnswer,
  type IsolatePool,
  type IsolatePoolStats,
  type IsolateRun,
  type IsolateTask,
  STOPPED,
} from './pool.js';

/** The child's main module; the same name in src/ and in dist/ (see thread-pool.ts). */
const MAIN = fileURLToPath(new URL('./isolate-process.cjs', import.meta.url));

/** How much of a child's stderr is kept for a crash's message (the "heap out of memory" line). */
const STDERR_TAIL = 4_096;

/**
 * A pool of child processes (`child_process.fork`), one call at a time each.
 * No pool library fits here (see docs/isolation.md): escalation needs SIGTERM
 * then SIGKILL after a grace of the user's choosing, and a crash must keep
 * its exit code, its signal and the child's last stderr lines as its cause.
 *
 * Idle children are unref'd and never keep the parent alive; a parent that
 * exits kills them (an 'exit' listener while the pool has children). A
 * parent killed by SIGKILL cannot: an idle child exits when its IPC channel
 * closes, but one stuck in a synchronous loop keeps running.
 */
export class ProcessPool implements IsolatePool {
  private readonly idle: Child[] = [];
  private readonly all = new Set<Child>();
  private readonly waiting: Array<(child: Child | undefined) => void> = [];
  private running = 0;
  private closing: Promise<void> | undefined;
  private readonly goneListeners = new Set<(gone: { runner: 'process'; id: number }) => void>();
  private readonly killOnExit = () => {
    for (const child of this.all) child.process.kill('SIGKILL');
  };

  constructor(private readonly options: ResolvedPoolOptions) {}

  start(task: IsolateTask): IsolateRun {
    const where = `${task.module}#${task.exportName}`;
    let child: Child | undefined;
    let stopped = false;
    let pendingReason: { reason: TerminationReason; deadline: Date | undefined } | undefined;
    let cancelWait: (() => void) | undefined;
    this.running++;
    const answer = (async (): Promise<IsolateAnswer> => {
      // The same serializer as the IPC channel ('advanced'): refused before any child is taken.
      try {
        serialize(task.payload);
      } catch (error) {
        throw payloadCloneError(task.payload, error, where, serialize);
      }
      child = await this.acquire((cancel) => {
        cancelWait = cancel;
      });
      if (child === undefined || stopped) {
        if (child !== undefined) this.release(child);
        throw STOPPED;
      }
      try {
        return await child.run(task, pendingReason);
      } catch (error) {
        if (stopped || this.closing !== undefined) throw STOPPED;
        throw error;
      } finally {
        this.release(child);
      }
    })().finally(() => {
      this.running--;
    });
    return {
      answer,
      terminate: (reason, deadline) => {
        pendingReason = { reason, deadline };
        if (child !== undefined) child.terminate(reason, deadline);
        else {
          // Still waiting for a child: it never starts.
          stopped = true;
          cancelWait?.();
        }
      },
      hardStop: async () => {
        stopped = true;
        if (child === undefined) {
          cancelWait?.();
          return;
        }
        await child.stop(this.options.killGrace);
      },
    };
  }

  onGone(listener: (gone: { runner: 'process'; id: number }) => void): () => void {
    this.goneListeners.add(listener);
    return () => this.goneListeners.delete(listener);
  }

  stats(): IsolatePoolStats {
    const pids = [...this.all].map((child) => child.process.pid).filter((pid): pid is number => pid !== undefined);
    return { runner: 'process', isolates: this.all.size, running: this.running, queued: this.waiting.length, pids };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const resolve of this.waiting.splice(0)) resolve(undefined);
      await Promise.all([...this.all].map((child) => child.stop(this.options.killGrace)));
      process.off('exit', this.killOnExit);
    })();
    return this.closing;
  }

  private acquire(onCancel: (cancel: () => void) => void): Promise<Child | undefined> {
    if (this.closing !== undefined) return Promise.resolve(undefined);
    const ready = this.idle.pop();
    if (ready !== undefined) return Promise.resolve(ready.take());
    if (this.all.size < this.options.size) return Promise.resolve(this.spawn().take());
    return new Promise((resolve) => {
      const waiter = (child: Child | undefined) => resolve(child?.take());
      this.waiting.push(waiter);
      onCancel(() => {
        const index = this.waiting.indexOf(waiter);
        if (index !== -1) this.waiting.splice(index, 1);
        resolve(undefined);
      });
    });
  }

  private release(child: Child): void {
    if (child.gone || this.closing !== undefined) return;
    const next = this.waiting.shift();
    if (next !== undefined) next(child);
    else {
      child.idle(this.options.idleTimeout);
      this.idle.push(child);
    }
  }

  private spawn(): Child {
    const limits = this.options.resourceLimits;
    const flags = [...(this.options.execArgv ?? process.execArgv)];
    if (limits?.maxOldGenerationSizeMb !== undefined)
      flags.push(`--max-old-space-size=${limits.maxOldGenerationSizeMb}`);
    if (limits?.maxYoungGenerationSizeMb !== undefined) {
      flags.push(`--max-semi-space-size=${Math.max(1, Math.round(limits.maxYoungGenerationSizeMb / 3))}`);
    }
    if (limits?.stackSizeMb !== undefined) flags.push(`--stack-size=${Math.round(limits.stackSizeMb * 1024)}`);
    const proc = fork(MAIN, [], {
      serialization: 'advanced',
      execArgv: flags,
      stdio: ['inherit', 'inherit', 'pipe', 'ipc'],
    });
    if (this.all.size === 0) process.on('exit', this.killOnExit);
    const child = new Child(proc, () => {
      this.all.delete(child);
      const index = this.idle.indexOf(child);
      if (index !== -1) this.idle.splice(index, 1);
      if (this.all.size === 0) process.off('exit', this.killOnExit);
      for (const listener of this.goneListeners) listener({ runner: 'process', id: proc.pid ?? -1 });
      // A waiting call gets a fresh child in place of the lost one.
      if (this.waiting.length > 0 && this.closing === undefined) {
        const next = this.waiting.shift();
        next?.(this.spawn());
      }
    });
    this.all.add(child);
    return child;
  }
}

interface PendingCall {
  readonly id: number;
  readonly where: string;
  resolve(answer: IsolateAnswer): void;
  reject(error: Error): void;
}

let nextCallId = 1;

/** One child process and the call it runs. */
class Child {
  gone = false;
  readonly exited: Promise<void>;
  private call: PendingCall | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private stderrTail = '';

  constructor(
    readonly process: ChildProcess,
    onGone: () => void,
  ) {
    process.stderr?.on('data', (chunk: Buffer) => {
      globalThis.process.stderr.write(chunk);
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL);
    });
    process.on('message', (message: ChildMessage) => {
      if (message?.type !== 'answer' || this.call === undefined || message.id !== this.call.id) return;
      const call = this.call;
      this.call = undefined;
      call.resolve(message.ok ? { ok: true, value: deserialize(message.value), seen: message.seen } : message);
    });
    // A send to a child that just died; its 'exit' tells the call what happened.
    process.on('error', () => {});
    this.exited = new Promise((resolve) => {
      process.once('exit', (code, signal) => {
        this.gone = true;
        clearTimeout(this.idleTimer);
        const call = this.call;
        this.call = undefined;
        call?.reject(this.crash(call.where, code, signal));
        onGone();
        resolve();
      });
    });
    this.unref();
  }

  take(): this {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.process.ref();
    this.process.channel?.ref();
    return this;
  }

  idle(timeout: number): void {
    this.unref();
    this.idleTimer = setTimeout(() => this.process.kill('SIGTERM'), timeout);
    this.idleTimer.unref();
  }

  run(
    task: IsolateTask,
    pending: { reason: TerminationReason; deadline: Date | undefined } | undefined,
  ): Promise<IsolateAnswer> {
    if (this.gone) return Promise.reject(STOPPED);
    return new Promise<IsolateAnswer>((resolve, reject) => {
      const id = nextCallId++;
      this.call = { id, where: `${task.module}#${task.exportName}`, resolve, reject };
      this.process.send({ type: 'run', id, task });
      if (pending !== undefined) this.terminate(pending.reason, pending.deadline);
    });
  }

  terminate(reason: TerminationReason, deadline: Date | undefined): void {
    if (this.call === undefined || this.gone) return;
    this.process.send({ type: 'terminate', id: this.call.id, ...wireReason(reason, deadline) });
  }

  /** SIGTERM, then SIGKILL after `grace` ms; resolves once the process is gone. */
  async stop(grace: number): Promise<void> {
    if (this.gone) return;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), grace);
    await this.exited;
    clearTimeout(timer);
  }

  private unref(): void {
    this.process.unref();
    this.process.channel?.unref();
    (this.process.stderr as { unref?: () => void } | null)?.unref?.();
  }

  private crash(where: string, code: number | null, signal: NodeJS.Signals | null): IsolateCrashError {
    const tail = this.stderrTail;
    const outOfMemory = /heap out of memory|Reached heap limit/i.test(tail);
    // Node prints an uncaught error's "Name: message" line, or V8's "FATAL ERROR" line, before the stack.
    const lines = tail.trim().split('\n');
    const telling = lines.filter((line) => /^(\w*Error\b|FATAL ERROR|Uncaught)/.test(line.trim()));
    const last = (telling.length > 0 ? telling.slice(-2) : lines.slice(-3)).map((line) => line.trim()).join(' | ');
    const cause = last.length > 0 ? new Error(last) : undefined;
    const options = cause === undefined ? undefined : { cause };
    if (outOfMemory) {
      return new IsolateCrashError(
        `jobterm: the child process running ${where} ran out of memory (${signal ?? `exit code ${code}`})`,
        {
          kind: 'out_of_memory',
          runner: 'process',
          ...(code === null ? {} : { exitCode: code }),
          ...(signal === null ? {} : { signal }),
        },
        options,
      );
    }
    if (signal !== null) {
      return new IsolateCrashError(
        `jobterm: the child process running ${where} was killed by ${signal}`,
        { kind: 'signal', runner: 'process', signal },
        options,
      );
    }
    return new IsolateCrashError(
      `jobterm: the child process running ${where} exited with code ${code} before answering`,
      { kind: 'exit', runner: 'process', exitCode: code ?? 0 },
      options,
    );
  }
}

type ChildMessage =
  | { type: 'ready' }
  | { type: 'answer'; id: number; ok: true; value: Uint8Array; seen: boolean }
  | { type: 'answer'; id: number; ok: false; error: DescribedError; seen: boolean };
