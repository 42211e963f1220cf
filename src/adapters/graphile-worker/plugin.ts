import type { CompiledSharedOptions, Task, TaskList, WorkerPool, WorkerPoolOptions } from 'graphile-worker';
import type { Logger } from '../../core/logger.js';
import { makeGraphileWorkerAdapter, type Query } from './adapter.js';
import { borrowTaskList } from './borrowed-tasks.js';
import { workerAdapter } from './fleet.js';
import { withTrueEndings } from './log.js';
import { type JobtermGraphileOptions, resolveGraphileOptions } from './options.js';
import { linkedPool, PoolLink } from './pool-link.js';
import { graphileSql } from './sql.js';
import { wrapTaskForPools } from './wrap.js';

declare global {
  namespace GraphileConfig {
    interface Plugins {
      JobtermPlugin: true;
    }
  }
}

export type JobtermPluginOptions = JobtermGraphileOptions;

/**
 * How long graphile's forceful shutdown waits for jobterm to settle the
 * pool's jobs before it fails them itself; graphile gives its own forceful
 * steps the same 5 s.
 */
const FORCEFUL_SETTLE_WAIT = 5_000;

/** Task lists the plugin made (wrapped copies of a `taskList` option): nothing to borrow. */
const wrappedCopies = new WeakSet<object>();

/**
 * The graphile-config plugin: every task gets a termination token and ends in
 * graphile's tables as jobterm decides; the pools join the terminator's
 * shutdown; `runner.stop()` and graphile's own shutdowns go through
 * `terminator.shutdown()`; with `handleSignals: true` on the terminator,
 * graphile's signal handling is turned off (`noHandleSignals`) so jobterm
 * owns SIGTERM/SIGINT. Add it to `preset.plugins`, or extend
 * `makeJobtermPreset()`.
 *
 * The caller's task list is never left changed: a `taskList` option is
 * replaced by a wrapped copy; a list given to `runTaskList()`,
 * `runTaskListOnce()` or `run(options, tasks)`, which graphile's workers read
 * in place, is borrowed while a pool runs it and restored when the pool's
 * last worker stops (borrowed-tasks.ts).
 */
export function makeJobtermPlugin(options: JobtermPluginOptions): GraphileConfig.Plugin {
  const resolved = resolveGraphileOptions(options, ['terminator', 'maxRuntime']);
  const { terminator } = resolved;
  const logger: Logger = terminator.options.logger;
  let terminatorStopping = false;
  terminator.on('shutdown:start', () => {
    terminatorStopping = true;
  });

  const linkFor = (pool: WorkerPool): PoolLink => PoolLink.of(pool, terminator);

  const shutDownTerminator = (escalate: boolean) => {
    // A second shutdown() call escalates at once; a first one with timeout 0 does the same.
    const report = terminatorStopping ? terminator.shutdown() : terminator.shutdown(escalate ? { timeout: 0 } : {});
    report.then(undefined, (error: unknown) => logger.error('shutdown failed', { error }));
  };

  const middleware: NonNullable<NonNullable<GraphileConfig.Plugin['worker']>['middleware']> = {
    init(next) {
      const compiled = next() as unknown as CompiledSharedOptions<WorkerPoolOptions>;
      // graphile-worker 0.18 reads `noHandleSignals` only from the raw options
      // (not the preset). A copy, so the caller's object is left alone; it is
      // read when the pool starts, after this.
      const raw = compiled._rawOptions as WorkerPoolOptions & { taskList?: TaskList };
      const noHandleSignals = terminator.options.handleSignals && raw.noHandleSignals !== true;
      // run() and runOnce() read `taskList` from the raw options after this
      // (graphile-worker 0.18 runner.js assertTaskList): a wrapped copy there
      // leaves the caller's object alone.
      const taskList = raw.taskList !== undefined && !wrappedCopies.has(raw.taskList) ? raw.taskList : undefined;
      if (noHandleSignals || taskList !== undefined) {
        compiled._rawOptions = {
          ...raw,
          ...(noHandleSignals ? { noHandleSignals: true } : {}),
          ...(taskList === undefined ? {} : { taskList: wrappedCopy(taskList) }),
        };
      }
      // Workers scope this logger when they start, after init: a put-back or
      // a kill is then logged as what it is, not as graphile's `Failed task`.
      compiled.logger = withTrueEndings(compiled.logger);
      return compiled as unknown as ReturnType<typeof next>;
    },
    poolGracefulShutdown(next, event) {
      const link = linkFor(event.workerPool);
      // next() deactivates the pool synchronously (no more claims) before any token fires.
      const graceful = next();
      link.watchGraceful(graceful);
      // runner.stop(), or graphile stopping by itself: the same path as SIGTERM.
      if (!terminatorStopping && !link.stoppingByJobterm && !link.oneTime) shutDownTerminator(false);
      return graceful;
    },
    async poolForcefulShutdown(next, event) {
      const link = linkFor(event.workerPool);
      if (!link.oneTime) shutDownTerminator(true);
      // graphile's forceful path fails its active jobs, spending an attempt,
      // and leaves their code running. Escalation settles them at once
      // (unlocked and put back), so that fail write then finds nothing.
      await link.idle(FORCEFUL_SETTLE_WAIT);
      return next();
    },
  };

  return {
    name: 'JobtermPlugin',
    description:
      'jobterm: a termination token in every task, kills from any process, shutdown that puts jobs back at once',
    worker: {
      middleware,
      hooks: {
        startWorker(ctx, event) {
          const pool = event.worker.workerPool;
          const link = linkFor(pool);
          if (link.sql === undefined) {
            link.sql = graphileSql(ctx.workerSchema);
            const { withPgClient } = event;
            const query: Query = (text, values) =>
              withPgClient(async (client) => (await client.query(text, [...values])).rows);
            link.removeAdapter = terminator.addAdapter(
              workerAdapter(makeGraphileWorkerAdapter(query, ctx.workerSchema), query, ctx.workerSchema, terminator),
            );
          }
          link.context ??= { ...resolved, sql: link.sql };
          link.workerStarted(event.worker.workerId);
          if (!wrappedCopies.has(event.tasks)) {
            const giveBack = borrowTaskList(event.tasks, pool.id, logger);
            link.giveBackTasks ??= giveBack;
          }
        },
        stopWorker(_ctx, event) {
          // Runs before the pool's promise settles (graphile-worker 0.18: each
          // worker's promise includes this hook, and the pool waits for its
          // workers), so a caller awaiting the pool finds its functions back.
          linkedPool(event.worker.workerPool.id)?.workerStopped(event.worker.workerId);
        },
      },
    },
  };
}

/** The plugin as a preset, for `preset: makeJobtermPreset({ terminator })` or a preset's `extends`. */
export function makeJobtermPreset(options: JobtermPluginOptions): GraphileConfig.Preset {
  return { plugins: [makeJobtermPlugin(options)] };
}

/** A `taskList` option's copy with every task wrapped; the caller's object is left as it is. */
function wrappedCopy(tasks: TaskList): TaskList {
  const copy = Object.create(Object.getPrototypeOf(tasks)) as Record<string, unknown>;
  for (const [identifier, task] of Object.entries(tasks)) {
    copy[identifier] = typeof task === 'function' ? wrapTaskForPools(identifier, task as Task) : task;
  }
  wrappedCopies.add(copy);
  return copy as TaskList;
}
