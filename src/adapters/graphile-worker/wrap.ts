import type { Job, JobHelpers, Task, TaskList, WithPgClient } from 'graphile-worker';
import { expected, JobTerminatedError } from '../../core/errors.js';
import { StoredRef } from '../../core/job-ref.js';
import type { JobDetails, JobOutcome } from '../../core/outcome.js';
import type { RunOptions } from '../../middleware/run-job.js';
import { JobtermHelpers } from './helpers.js';
import { recordEnding } from './log.js';
import { type ResolvedGraphileOptions, resolveGraphileOptions, type WrapTaskListOptions } from './options.js';
import { linkedPool, type PoolLink } from './pool-link.js';
import { GRAPHILE_WORKER_QUEUE } from './ref.js';
import { type SettleTarget, type Written, writeOutcome } from './settle.js';
import { checkSchema, defaultSchema, type GraphileSql, graphileSql } from './sql.js';

/** Marks a wrapped task and keeps the original; a registered symbol, so two copies of jobterm agree. */
const ORIGINAL = Symbol.for('jobterm.graphile-worker.original');

/** What wrapped tasks share: the plugin's or `wrapTaskList()`'s. */
export interface WrapContext extends ResolvedGraphileOptions {
  /** Statements for jobs whose pool no plugin joined (`wrapTaskList()` alone). */
  readonly sql: GraphileSql;
}

const SHUTDOWN_MESSAGE = 'graphile-worker is shutting down';
const NO_FORWARD = Object.freeze([]);

/**
 * The task jobterm runs in place of `task` (`wrapTaskList()`, `wrapTask()`):
 * same payload and helpers, plus a termination token, always under
 * `context`'s terminator.
 */
export function wrapTaskWith(taskIdentifier: string, task: Task, context: WrapContext): Task {
  if (originalOf(task) !== undefined) return task;
  const maxRuntime = context.maxRuntimeFor(taskIdentifier);
  const jobtermTask: Task = function jobtermTask(payload, helpers) {
    const link = linkedPool(helpers.job.locked_by ?? '');
    return runUnder(context, link, task, maxRuntime, payload, helpers);
  };
  Object.defineProperty(jobtermTask, ORIGINAL, { value: task });
  return jobtermTask;
}

/**
 * The plugin's wrapper for `task`: each call runs under the terminator of the
 * pool that claimed the job (the plugin that joined it), not one fixed when
 * the wrapper was made, so one task list can serve several runners, each with
 * its own terminator. A job of a pool no jobterm plugin joined runs `task`
 * itself, untouched.
 */
export function wrapTaskForPools(taskIdentifier: string, task: Task): Task {
  if (originalOf(task) !== undefined) return task;
  const jobtermTask: Task = function jobtermTask(payload, helpers) {
    const link = linkedPool(helpers.job.locked_by ?? '');
    const context = link?.context;
    if (context === undefined) return task(payload, helpers);
    return runUnder(context, link, task, context.maxRuntimeFor(taskIdentifier), payload, helpers);
  };
  Object.defineProperty(jobtermTask, ORIGINAL, { value: task });
  return jobtermTask;
}

async function runUnder(
  context: WrapContext,
  link: PoolLink | undefined,
  task: Task,
  maxRuntime: number | undefined,
  payload: unknown,
  helpers: JobHelpers,
): Promise<Awaited<ReturnType<Task>>> {
  const job = helpers.job;
  const run = new GraphileJobRun(helpers, link, context.sql, maxRuntime);
  link?.jobStarted();
  try {
    const outcome = await context.terminator.run(
      // graphile-worker hands out rows of its jobs table: the id is a bigint read from PostgreSQL.
      new StoredRef(GRAPHILE_WORKER_QUEUE, String(job.id)),
      (token) => {
        helpers.jobterm = new JobtermHelpers(token);
        return task(payload, helpers);
      },
      run,
    );
    return endAsGraphileExpects(outcome, job, run.written) as Awaited<ReturnType<Task>>;
  } finally {
    link?.jobEnded();
  }
}

/**
 * One job's run options and the target of its queue write, in one object:
 * the wrapper runs for every job, so it allocates as little as it can.
 */
class GraphileJobRun implements RunOptions<unknown>, SettleTarget {
  /** Known when a plugin joined the pool that claimed the job. */
  readonly link: PoolLink | undefined;
  readonly poolId: string;
  readonly sql: GraphileSql;
  readonly forward: NonNullable<RunOptions<unknown>['forward']>;
  declare readonly maxRuntime?: number;
  written: Written = 'none';

  constructor(
    private readonly helpers: JobHelpers,
    link: PoolLink | undefined,
    fallbackSql: GraphileSql,
    maxRuntime: number | undefined,
  ) {
    this.poolId = helpers.job.locked_by ?? '';
    this.link = link;
    this.sql = this.link?.sql ?? fallbackSql;
    // graphile's one pool-wide signal fires gracefulShutdownAbortTimeout after
    // its own graceful shutdown starts: a shutdown for this job. Under the
    // plugin that graceful shutdown already runs terminator.shutdown(), which
    // fired every token, so the listener is only needed without it (and for
    // runOnce() pools, which the plugin leaves alone).
    const needsForward = helpers.abortSignal !== undefined && (this.link === undefined || this.link.oneTime);
    this.forward = needsForward
      ? [{ signal: helpers.abortSignal, kind: 'shutdown', message: SHUTDOWN_MESSAGE }]
      : NO_FORWARD;
    if (maxRuntime !== undefined) (this as { maxRuntime?: number }).maxRuntime = maxRuntime;
  }

  get job(): Job {
    return this.helpers.job;
  }

  /** For the fleet view; read at heartbeats only. graphile counts `attempts` when it claims a job, so it is this run's number. */
  get details(): JobDetails {
    const job = this.helpers.job;
    return { task: job.task_identifier, attempt: job.attempts, queueWorkerId: this.poolId };
  }

  get withPgClient(): WithPgClient {
    return this.helpers.withPgClient;
  }

  poolStopped(): boolean {
    // Without the plugin the pool is unknown, but graphile aborts its signal
    // only after its graceful shutdown deactivated the pool.
    return this.link === undefined ? this.helpers.abortSignal?.aborted === true : !this.link.fetching;
  }

  settle(outcome: JobOutcome<unknown>): Promise<void> | undefined {
    return writeOutcome(outcome, this)?.then((written) => {
      this.written = written;
    });
  }
}

/**
 * Returns or throws so that graphile records what jobterm decided. After a
 * kill or a refunded interruption, graphile's in-memory job is brought in
 * line with the row, so its `job:failed` event and its log line ("attempt N
 * of M") tell the truth.
 */
function endAsGraphileExpects(outcome: JobOutcome, job: Job, written: Written): unknown {
  switch (outcome.status) {
    case 'completed':
      return outcome.value;
    case 'failed':
      throw outcome.error;
    case 'terminated':
      if (written === 'ended') job.attempts = job.max_attempts;
      throw forGraphile(new JobTerminatedError(outcome.reason), written);
    case 'interrupted':
      if (written === 'put_back' || written === 'refunded') job.attempts = Math.max(0, job.attempts - 1);
      throw forGraphile(new JobTerminatedError(outcome.reason), written);
  }
}

/**
 * graphile logs the stack of every failed task; this one would only point
 * into jobterm's wrapper, so its log line keeps just the reason. The plugin's
 * logger turns that line into what jobterm wrote (`log.ts`).
 */
function forGraphile(error: JobTerminatedError, written: Written): JobTerminatedError {
  error.stack = '';
  recordEnding(error, written);
  return error;
}

/** The task a wrapped task runs, or undefined for a task jobterm did not wrap. */
export function originalOf(task: unknown): Task | undefined {
  return typeof task === 'function'
    ? ((task as unknown as Record<symbol, Task | undefined>)[ORIGINAL] ?? undefined)
    : undefined;
}

const WRAP_OPTION_KEYS = ['terminator', 'maxRuntime', 'schema'] as const;

function wrapContext(options: WrapTaskListOptions): WrapContext {
  const resolved = resolveGraphileOptions(options, WRAP_OPTION_KEYS);
  return { ...resolved, sql: graphileSql(checkSchema(options.schema ?? defaultSchema())) };
}

/**
 * A copy of a hand-built task list with every task wrapped: each job gets a
 * termination token (`helpers.jobterm.token`, `currentToken()`) and ends in
 * graphile's tables as jobterm decided. Pass the result as `taskList`.
 * Shutdown integration (stop fetching, put jobs back at once) needs the
 * plugin: add `makeJobtermPreset()` too, or call `terminator.shutdown()`
 * before `runner.stop()`.
 */
export function wrapTaskList<T extends TaskList>(tasks: T, options: WrapTaskListOptions): T {
  if (typeof tasks !== 'object' || tasks === null) throw expected('tasks', 'a graphile-worker task list', tasks);
  const context = wrapContext(options);
  const wrapped: Record<string, Task> = {};
  for (const [identifier, task] of Object.entries(tasks)) {
    if (typeof task !== 'function') throw expected(`tasks.${identifier}`, 'a task function', task);
    wrapped[identifier] = wrapTaskWith(identifier, task as Task, context);
  }
  return wrapped as T;
}

/** One task wrapped as `wrapTaskList()` does; `taskIdentifier` selects its `maxRuntime`. */
export function wrapTask(taskIdentifier: string, task: Task, options: WrapTaskListOptions): Task {
  if (typeof task !== 'function') throw expected('task', 'a task function', task);
  return wrapTaskWith(taskIdentifier, task, wrapContext(options));
}
