import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { currentJob } from '../core/context.js';
import { expected, JobTerminatedError } from '../core/errors.js';
import type { Resources } from '../core/resources.js';
import { onTerminateUnobserved, peekReason, type TerminationToken } from '../core/token.js';
import { markTerminationSeen, registerHardStop, resourcesOf } from '../middleware/run-job.js';
import { rebuildError } from './crossing.js';
import { type IsolatedOptions, type ResolvedPoolOptions, resolveIsolatedOptions } from './options.js';
import { type IsolatePool, type IsolatePoolStats, type IsolateRun, STOPPED } from './pool.js';
import { ProcessPool } from './process-pool.js';
import { ThreadPool } from './thread-pool.js';

/**
 * Runs a module's export in a pooled worker thread or child process, as part
 * of whichever job calls it, so that it can really be stopped:
 *
 * ```ts
 * const render = isolated(new URL('./render.js', import.meta.url), { runner: 'thread' });
 * // in a graphile task, a pg-boss handler, a BullMQ processor, terminator.run():
 * const pdf = await render(job.data);
 * // render.js
 * export default function render(payload, token) { for (const page of payload.pages) { if (isTerminating()) break; draw(page); } }
 * ```
 *
 * The export gets `(payload, token)`, and jobterm's `currentToken()`,
 * `isTerminating()` and `throwIfTerminating()` work inside it. When the job's
 * token fires, the isolate's does too (cooperative first): in a thread at
 * once, even inside a synchronous loop (a shared `Atomics` flag); in a
 * process at the next turn of its event loop. If the job has not stopped at
 * escalation (`killTimeout`, or the shutdown timeout), the thread is
 * terminated, or the process gets SIGTERM and then SIGKILL after
 * `killGrace`; the job ends as its reason says. A crash (uncaught error,
 * `process.exit()`, out of memory, a signal) fails the job with an
 * `IsolateCrashError`; a payload that cannot cross, with an
 * `IsolateCloneError`. The pools belong to the terminator running the job
 * and close with its `shutdown()` and `close()`.
 */
export function isolated<P = unknown, R = unknown>(
  module: string | URL,
  options: IsolatedOptions,
): (payload: P) => Promise<R> {
  const href = moduleHref(module);
  const resolved = resolveIsolatedOptions(options);
  const { exportName } = resolved;
  const pool = resolved.pool;
  return async function isolatedJob(payload: P): Promise<R> {
    const job = currentJob();
    const resources = job === undefined ? undefined : resourcesOf(job.token);
    if (job === undefined || resources === undefined) {
      throw new Error(
        `jobterm: isolated(${href}) must be called inside a job run by a terminator (a wrapped task or handler, or terminator.run())`,
      );
    }
    const { token } = job;
    // Jobterm's own check (the job has not looked): new isolated work never starts once terminating.
    const already = peekReason(token);
    if (already !== undefined) throw new JobTerminatedError(already);
    const run = poolFor(resources, pool).start({ module: href, exportName, payload, ref: job.ref });
    return (await follow(token, run)) as R;
  };
}

/** The pool for these options in this terminator, made on first use. */
function poolFor(resources: Resources, options: ResolvedPoolOptions): IsolatePool {
  return resources.get(`jobterm.isolation:${options.key}`, () =>
    options.runner === 'thread' ? new ThreadPool(options) : new ProcessPool(options),
  );
}

/** The isolation pools of the terminator running the current job, for tests and dashboards. */
export function isolationStats(): IsolatePoolStats[] {
  const job = currentJob();
  const resources = job === undefined ? undefined : resourcesOf(job.token);
  return (resources?.all() ?? [])
    .filter((resource): resource is IsolatePool => resource instanceof ThreadPool || resource instanceof ProcessPool)
    .map((pool) => pool.stats());
}

/**
 * Mirrors the token into the run, joins escalation, and turns the answer
 * into the call's result; every listener and registration is gone when it
 * settles.
 */
async function follow(token: TerminationToken, run: IsolateRun): Promise<unknown> {
  // jobterm's own subscription and reads: the token's public onTerminate and
  // reason would count as the job seeing its termination (DESIGN.md, "Did
  // the job see it?"); only the isolate's own answer (`answer.seen`) does.
  const unsubscribe = onTerminateUnobserved(token, (reason) => run.terminate(reason, token.deadline));
  const leave = joinHardStop(token, run);
  let answer: Awaited<IsolateRun['answer']>;
  try {
    answer = await run.answer;
  } catch (error) {
    if (error !== STOPPED) throw error;
    const reason = peekReason(token);
    if (reason !== undefined) throw new JobTerminatedError(reason);
    throw new Error('jobterm: the isolation pool was closed while this call ran (terminator.close() or shutdown())');
  } finally {
    unsubscribe();
    leave();
  }
  if (answer.seen) markTerminationSeen(token);
  if (answer.ok) return answer.value;
  throw rebuildError(answer.error);
}

/**
 * run-job keeps one hard stop per job; a job may run several isolated calls
 * at once, so the job's hard stop stops all of them.
 */
const runsByToken = new WeakMap<TerminationToken, { runs: Set<IsolateRun>; remove: (() => void) | undefined }>();

function joinHardStop(token: TerminationToken, run: IsolateRun): () => void {
  let entry = runsByToken.get(token);
  if (entry === undefined) {
    const runs = new Set<IsolateRun>();
    const remove = registerHardStop(token, async () => {
      await Promise.all([...runs].map((each) => each.hardStop()));
    });
    entry = { runs, remove };
    runsByToken.set(token, entry);
  }
  const owned = entry;
  owned.runs.add(run);
  return () => {
    owned.runs.delete(run);
    if (owned.runs.size === 0 && runsByToken.get(token) === owned) {
      runsByToken.delete(token);
      owned.remove?.();
    }
  };
}

export function moduleHref(module: unknown): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== 'string' || module.length === 0) {
    throw expected('module', 'a file URL, or a path to an ES module or CommonJS file', module);
  }
  return /^[a-z][a-z0-9+.-]*:/i.test(module) ? module : pathToFileURL(resolvePath(module)).href;
}
