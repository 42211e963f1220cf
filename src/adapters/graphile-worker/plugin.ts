import type { CompiledSharedOptions, Task, TaskList, WorkerPool, WorkerPoolOptions } from 'graphile-worker';
import type { Logger } from '../../core/logger.js';
import { makeGraphileWorkerAdapter, type Query } from './adapter.js';
import { workerAdapter } from './fleet.js';
import { type JobtermGraphileOptions, resolveGraphileOptions } from './options.js';
import { PoolLink } from './pool-link.js';
import { graphileSql } from './sql.js';
import { originalOf, type WrapContext, wrapTaskWith } from './wrap.js';

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

/**
 * The graphile-config plugin: every task gets a termination token and ends in
 * graphile's tables as jobterm decides; the pools join the terminator's
 * shutdown; `runner.stop()` and graphile's own shutdowns go through
 * `terminator.shutdown()`; with `handleSignals: true` on the terminator,
 * graphile's signal handling is turned off (`noHandleSignals`) so jobterm
 * owns SIGTERM/SIGINT. Add it to `preset.plugins`, or extend
 * `makeJobtermPreset()`.
 */
export function makeJobtermPlugin(options: JobtermPluginOptions): GraphileConfig.Plugin {
  const resolved = resolveGraphileOptions(options, ['terminator', 'maxRuntime']);
  const { terminator } = resolved;
  const logger: Logger = terminator.options.logger;
  let terminatorStopping = false;
  terminator.on('shutdown:start', () => {
    terminatorStopping = true;
  });
  let context: WrapContext | undefined;

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
      if (terminator.options.handleSignals && compiled._rawOptions.noHandleSignals !== true) {
        compiled._rawOptions = { ...compiled._rawOptions, noHandleSignals: true };
      }
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
          const link = linkFor(event.worker.workerPool);
          if (link.sql === undefined) {
            link.sql = graphileSql(ctx.workerSchema);
            const { withPgClient } = event;
            const query: Query = (text, values) =>
              withPgClient(async (client) => (await client.query(text, [...values])).rows);
            link.removeAdapter = terminator.addAdapter(
              workerAdapter(makeGraphileWorkerAdapter(query, ctx.workerSchema), query, ctx.workerSchema, terminator),
            );
          }
          context ??= { ...resolved, sql: link.sql };
          wrapInPlace(event.tasks, context, logger);
        },
      },
    },
  };
}

/** The plugin as a preset, for `preset: makeJobtermPreset({ terminator })` or a preset's `extends`. */
export function makeJobtermPreset(options: JobtermPluginOptions): GraphileConfig.Preset {
  return { plugins: [makeJobtermPlugin(options)] };
}

/**
 * graphile-worker 0.18 has no hook around a single job run; `startWorker`
 * hands plugins the task list its workers read from, so the tasks are
 * replaced in that object. It runs once per worker with the same object:
 * already wrapped tasks are left as they are.
 */
function wrapInPlace(tasks: TaskList, context: WrapContext, logger: Logger): void {
  const list = tasks as Record<string, Task | undefined>;
  for (const identifier of Object.keys(list)) {
    const task = list[identifier];
    if (typeof task !== 'function' || originalOf(task) !== undefined) continue;
    if (Object.isFrozen(list)) {
      logger.error('the task list is frozen, so its tasks run without jobterm; wrap it with wrapTaskList() first', {
        task: identifier,
      });
      return;
    }
    list[identifier] = wrapTaskWith(identifier, task, context);
  }
}
