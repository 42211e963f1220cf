import type { Job, Worker } from 'bullmq';
import { checkKnownKeys, expected } from '../../core/errors.js';
import { milliseconds } from '../../core/options.js';
import type { JobOutcome } from '../../core/outcome.js';
import { describeReason } from '../../core/reason.js';
import type { TerminationToken } from '../../core/token.js';
import type { IsolatedOptions } from '../../isolation/options.js';
import { viewWithToken } from '../../middleware/job-view.js';
import type { RunOptions } from '../../middleware/run-job.js';
import type { Terminator } from '../../terminator/terminator.js';
import { type BullmqAdapter, bullmqAdapter } from './adapter.js';
import { alreadyMoved, unrecoverable } from './errors.js';
import { workerAdapter } from './fleet.js';
import { BullmqJobRun, type BullmqSettle } from './job-run.js';
import { bullmqRef } from './ref.js';
import { sandboxedFunction } from './sandbox.js';
import type { JobtermProcessor, JobWithToken } from './types.js';

export interface BullmqJobtermOptions {
  /** This process's terminator: it runs every wrapped job and owns the attached workers' shutdown. */
  terminator: Terminator;
  /**
   * Where `terminate()` reads BullMQ jobs that do not run in this process
   * (ioredis options or instance, as BullMQ takes it).
   * @default the connection of the first worker you `attach()`
   */
  connection?: unknown;
  /** BullMQ's key prefix. @default the first attached worker's, else 'bull' */
  prefix?: string;
  /**
   * Interrupt a job with kind `timeout` after this many ms: a timeout that
   * really stops the job (BullMQ has none, its #136). A job that saved
   * progress goes back without spending an attempt; any other fails that
   * attempt with `Timed out:` and BullMQ's `attempts`/`backoff` apply.
   * @default none
   */
  maxRuntime?: number;
}

/** How `jt.processor(file)` isolates the file: `isolated()`'s options, `runner` defaulting to `'thread'`. */
export interface SandboxOptions extends Partial<IsolatedOptions> {}

export interface BullmqJobterm {
  /**
   * Wraps the processor you pass to `new Worker(name, processor, opts)`.
   * Your processor gets `(job, lockToken, signal)` as BullMQ gives them, with
   * `signal` the termination token's and `job.token` the token. BullMQ's own
   * `worker.cancelJob()` is forwarded into the token when your processor
   * declares the third parameter, as BullMQ itself requires (without it,
   * BullMQ tracks no signal for the job and `cancelJob()` returns false, as
   * without jobterm); jobterm's `terminate()` reaches every job. `currentToken()` works
   * anywhere below. Given a file (path or URL) instead of a function, runs
   * that module's default export `(job, token)` in a worker thread that
   * escalation terminates for real.
   */
  processor<J extends Job = Job, R = unknown>(
    fn: JobtermProcessor<J, R>,
  ): (job: J, lockToken?: string, signal?: AbortSignal) => Promise<R>;
  processor(
    file: string | URL,
    options?: SandboxOptions,
  ): (job: Job, lockToken?: string, signal?: AbortSignal) => Promise<unknown>;
  /**
   * Hands jobterm the worker's shutdown; returns the worker. From then on
   * `terminator.shutdown()` (and SIGTERM with `handleSignals`), and your own
   * `worker.close()` (BullMQ emits `closing`), all go through jobterm's
   * escalation: tokens fire, `shutdownTimeout`, then the rest are put back.
   * Nothing of the worker is patched: jobterm listens to `closing` and calls
   * the worker's public `close()`.
   */
  attach<W extends Worker>(worker: W): W;
  /** The queue adapter registered on the terminator, once known (given `connection`, or after the first `attach()`). */
  readonly adapter: BullmqAdapter | undefined;
  /** Removes the adapter, the shutdown participant and the listeners on attached workers. Safe to call twice. */
  dispose(): Promise<void>;
}

const OPTION_KEYS = ['terminator', 'connection', 'prefix', 'maxRuntime'];

/**
 * Adds termination to BullMQ 6 workers:
 *
 * ```ts
 * const jt = bullmqJobterm({ terminator });
 * const worker = jt.attach(new Worker('mail', jt.processor(async (job, _lock, signal) => send(job.data, { signal })), { connection }));
 * ```
 */
export function bullmqJobterm(options: BullmqJobtermOptions): BullmqJobterm {
  if (typeof options !== 'object' || options === null) throw expected('options', 'an object `{ terminator }`', options);
  checkKnownKeys('bullmqJobterm() options', options, OPTION_KEYS);
  const terminator = options.terminator;
  if (typeof terminator !== 'object' || terminator === null || typeof terminator.run !== 'function') {
    throw expected('terminator', 'a Terminator from createTerminator()', terminator);
  }
  const maxRuntime = options.maxRuntime === undefined ? undefined : milliseconds('maxRuntime', options.maxRuntime);
  if (options.prefix !== undefined && (typeof options.prefix !== 'string' || options.prefix.length === 0)) {
    throw expected('prefix', 'a non-empty string', options.prefix);
  }
  const logger = terminator.options.logger;

  let adapter: BullmqAdapter | undefined;
  let removeAdapter: (() => void) | undefined;
  const useAdapter = (connection: unknown, prefix: string | undefined) => {
    if (adapter !== undefined) return;
    adapter = bullmqAdapter({ connection, ...(prefix === undefined ? {} : { prefix }) });
    // The worker's adapter (describeWorker, rescue): this process joins the fleet's presence.
    removeAdapter = terminator.addAdapter(workerAdapter(adapter, () => workers.values()));
  };
  if (options.connection !== undefined) useAdapter(options.connection, options.prefix);

  /** Attached workers by BullMQ's worker id, which prefixes every lock token it hands out (`${worker.id}:${n}`). */
  const workers = new Map<string, Worker>();
  const detachers: Array<() => void> = [];
  const closes = new Map<Worker, Promise<void>>();
  let stopping = false;
  const offStart = terminator.on('shutdown:start', () => {
    stopping = true;
  });
  const closeWorker = (worker: Worker) => {
    if (closes.has(worker)) return;
    const closing = worker.close().catch((error: unknown) => logger.warn('BullMQ worker close failed', { error }));
    closes.set(worker, closing);
  };
  const removeParticipant = terminator.addShutdownParticipant({
    // BullMQ's close() stops fetching at once and then waits for active jobs
    // forever; here the terminator's escalation bounds that wait, and close()
    // resolves once every wrapped job has been put back or ended.
    beforeJobs() {
      for (const worker of workers.values()) closeWorker(worker);
    },
    async afterJobs() {
      await Promise.all(closes.values());
    },
  });

  const workerOf = (lockToken: string | undefined): Worker | undefined => {
    if (lockToken === undefined) return undefined;
    const colon = lockToken.lastIndexOf(':');
    return colon > 0 ? workers.get(lockToken.slice(0, colon)) : undefined;
  };

  /**
   * The processor BullMQ calls. Its declared parameters follow `fn`'s, as
   * BullMQ 6.7 reads them (`processor.length >= 3`, Worker constructor): a
   * function that declares the signal gets it, BullMQ makes its per-job
   * AbortController, and its `cancelJob()` is forwarded into the token; one
   * that does not leaves BullMQ making none, as without jobterm (an
   * AbortController, its signal and a listener per job, for a function that
   * never asked: ~9% of jobterm's instructions per job on BullMQ's path).
   */
  function wrap<J extends Job, R>(
    fn: JobtermProcessor<J, R>,
    isolated?: 'thread' | 'process',
    takesBullmqSignal = fn.length >= 3,
  ): (job: J, lockToken?: string, signal?: AbortSignal) => Promise<R> {
    // A signal is an AbortController made on first read (the token's
    // heaviest part): handed over only to a function that declares it.
    const wantsSignal = fn.length >= 3;
    const withSignal = async function jobtermProcessor(job: J, lockToken?: string, signal?: AbortSignal): Promise<R> {
      const run = new BullmqJobRun<R>(
        job,
        lockToken,
        isolated,
        // BullMQ 6.7 makes an AbortController per job: this job alone listens.
        signal === undefined ? NO_FORWARD : [{ signal, kind: 'kill', exclusive: true }],
        maxRuntime,
        settleInBullmq,
      );
      const outcome = await terminator.run(
        bullmqRef(job),
        (token: TerminationToken) =>
          fn(withToken(job, token), lockToken, (wantsSignal ? token.signal : undefined) as AbortSignal),
        run,
      );
      const written = run.written;
      switch (outcome.status) {
        case 'completed':
          return outcome.value;
        case 'failed':
          throw outcome.error;
        case 'terminated':
          // Written by jobterm: BullMQ must not write again. Not written (the
          // write failed): BullMQ fails it, without retry.
          throw written ? alreadyMoved() : unrecoverable(outcome.reason);
        case 'interrupted':
          if (outcome.resumable && written) throw alreadyMoved();
          // A timeout that saved no progress: BullMQ fails this attempt and its retry rules apply.
          throw new Error(describeReason(outcome.reason));
      }
    };
    return takesBullmqSignal
      ? withSignal
      : function jobtermProcessor(job: J, lockToken?: string): Promise<R> {
          return withSignal(job, lockToken, undefined);
        };
  }

  const settleInBullmq: BullmqSettle = (job, lockToken, outcome) =>
    settle(job, lockToken, outcome, workerOf(lockToken));

  /** Writes jobterm's ending into BullMQ; true when it moved the job (BullMQ then writes nothing). */
  async function settle(
    job: Job,
    lockToken: string | undefined,
    outcome: JobOutcome,
    worker: Worker | undefined,
  ): Promise<boolean> {
    if (lockToken === undefined) return false;
    if (outcome.status === 'terminated') {
      // Failed for good, now, so the kill request is resolved only once
      // BullMQ holds the job failed (`getState()`, `failedReason`).
      // `removeOnFail` applies as in BullMQ's own fail.
      const error = unrecoverable(outcome.reason);
      await job.moveToFailed(error, lockToken, false);
      // The event BullMQ would have emitted had it failed the job itself.
      worker?.emit('failed', job, error, 'active');
      return true;
    }
    if (outcome.status === 'interrupted' && outcome.resumable) {
      // Back in the queue without spending an attempt (attemptsMade is only
      // counted by moveToFinished/retry), its progress and data kept; BullMQ
      // 6.7's moveJobFromActiveToWait releases the lock and RPUSHes it, so it
      // is the next job taken.
      const delay = outcome.retryDelay ?? 0;
      if (delay > 0) await job.moveToDelayed(Date.now() + delay, lockToken);
      else await job.moveToWait(lockToken);
      return true;
    }
    return false;
  }

  let disposed = false;
  const jt: BullmqJobterm = {
    get adapter() {
      return adapter;
    },
    processor(fn: unknown, sandboxOptions?: SandboxOptions) {
      if (typeof fn === 'string' || fn instanceof URL) {
        const run = sandboxedFunction(fn, sandboxOptions ?? {});
        // Declares BullMQ's signal, so its cancelJob() reaches the isolated module's token.
        return wrap((job) => run(job), sandboxOptions?.runner ?? 'thread', true) as never;
      }
      if (typeof fn !== 'function') throw expected('processor', 'a function, or a file path or URL of a module', fn);
      return wrap(fn as JobtermProcessor<Job, unknown>) as never;
    },
    attach<W extends Worker>(worker: W): W {
      checkWorker(worker);
      if (workers.get(worker.id) === worker) return worker;
      workers.set(worker.id, worker);
      const opts = worker.opts as { connection?: unknown; prefix?: string };
      if (opts.connection !== undefined) useAdapter(opts.connection, options.prefix ?? opts.prefix);
      // Also the user's own close(): BullMQ 6.7 emits `closing` at its start,
      // before it waits for active jobs (forever, without jobterm).
      // BullMQ emits `closing` synchronously inside close(), before it stores
      // the promise that a second close() returns: calling close() from here
      // would recurse. Its `closed` event marks the end instead.
      const onClosing = () => {
        if (!closes.has(worker))
          closes.set(worker, new Promise<void>((resolve) => worker.once('closed', () => resolve())));
        if (!stopping) {
          terminator.shutdown().catch((error: unknown) => logger.error('shutdown failed', { error }));
        }
      };
      worker.on('closing', onClosing);
      detachers.push(() => {
        worker.off('closing', onClosing);
        workers.delete(worker.id);
      });
      return worker;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      offStart();
      removeParticipant();
      for (const detach of detachers.splice(0)) detach();
      removeAdapter?.();
      await adapter?.close();
    },
  };
  return jt;
}

const NO_FORWARD: NonNullable<RunOptions<unknown>['forward']> = [];

/**
 * The job as the processor sees it: BullMQ's own job, plus `job.token`
 * (middleware/job-view.ts). BullMQ's object gains no property.
 */
function withToken<J extends Job>(job: J, token: TerminationToken): JobWithToken<J> {
  return viewWithToken(job, token, false) as JobWithToken<J>;
}

function checkWorker(worker: unknown): asserts worker is Worker {
  const w = worker as Partial<Worker> | null;
  if (
    typeof w !== 'object' ||
    w === null ||
    typeof w.close !== 'function' ||
    typeof w.on !== 'function' ||
    typeof w.id !== 'string'
  ) {
    throw expected('worker', 'a BullMQ Worker', worker);
  }
  const backend = (w as { getBackend?: () => unknown }).getBackend?.();
  const kind = (backend as { constructor?: { name?: string } } | undefined)?.constructor?.name;
  if (kind !== undefined && /postgres/i.test(kind)) {
    // BullMQ 6.7's createPostgresBackend: its jobs live in PostgreSQL, where
    // jobterm's BullMQ adapter (Queue/Job reads, remove) has not been verified.
    throw new TypeError(
      `jobterm/bullmq supports BullMQ's Redis backend; this Worker uses ${kind} (createPostgresBackend). Use jobterm's graphile-worker or pg-boss adapters for PostgreSQL queues.`,
    );
  }
}
