import { checkKnownKeys, expected } from '../../core/errors.js';
import { milliseconds } from '../../core/options.js';
import type { Terminator } from '../../terminator/terminator.js';

export interface JobtermGraphileOptions {
  /** The process's terminator (`createTerminator()`); one per process. */
  terminator: Terminator;
  /**
   * Interrupt a task that runs longer than this, in ms, with kind `timeout`:
   * that attempt fails with a `Timed out:` error and graphile's retry rules
   * apply. A number for every task, or one per task identifier.
   * @default no limit
   */
  maxRuntime?: number | Readonly<Record<string, number>>;
}

export interface WrapTaskListOptions extends JobtermGraphileOptions {
  /** graphile-worker's schema. @default process.env.GRAPHILE_WORKER_SCHEMA || 'graphile_worker' */
  schema?: string;
}

export interface ResolvedGraphileOptions {
  readonly terminator: Terminator;
  readonly maxRuntimeFor: (taskIdentifier: string) => number | undefined;
}

export function resolveGraphileOptions(options: unknown, known: readonly string[]): ResolvedGraphileOptions {
  if (typeof options !== 'object' || options === null)
    throw expected('options', 'an object with a `terminator`', options);
  checkKnownKeys('options', options, known);
  const { terminator, maxRuntime } = options as Partial<JobtermGraphileOptions>;
  // Duck-typed, not instanceof: two copies of jobterm in one process must still agree.
  if (
    typeof terminator !== 'object' ||
    terminator === null ||
    typeof terminator.run !== 'function' ||
    typeof terminator.addShutdownParticipant !== 'function'
  ) {
    throw expected('terminator', 'a Terminator from createTerminator()', terminator);
  }
  return { terminator, maxRuntimeFor: resolveMaxRuntime(maxRuntime) };
}

function resolveMaxRuntime(value: unknown): (taskIdentifier: string) => number | undefined {
  if (value === undefined) return () => undefined;
  if (typeof value === 'number') {
    const ms = milliseconds('maxRuntime', value);
    return () => ms;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw expected('maxRuntime', 'a number of milliseconds, or an object of them by task identifier', value);
  }
  const byTask = new Map<string, number>();
  for (const [task, ms] of Object.entries(value)) byTask.set(task, milliseconds(`maxRuntime.${task}`, ms));
  return (taskIdentifier) => byTask.get(taskIdentifier);
}
