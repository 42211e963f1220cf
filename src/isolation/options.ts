import { availableParallelism } from 'node:os';
import type { ResourceLimits } from 'node:worker_threads';
import { checkKnownKeys, expected } from '../core/errors.js';
import { milliseconds } from '../core/options.js';

export type IsolateRunner = 'thread' | 'process';

/** Options for `isolated()` and the adapters' `isolated` wrappers. */
export interface IsolatedOptions {
  /**
   * `'thread'`: a pooled worker thread (piscina). Cheap to start, shares the
   * process's memory limits; its termination flag is shared memory, so
   * `isTerminating()` turns true even inside a synchronous loop; escalation
   * terminates the thread. `'process'`: a pooled child process
   * (`child_process.fork`), for code that must be SIGKILLed (native addons,
   * leaks, `process.exit`); the flag turns at the next turn of its event loop;
   * escalation sends SIGTERM, then SIGKILL after `killGrace`.
   */
  runner: IsolateRunner;
  /** The module's export to call with `(payload, token)`. @default 'default' */
  exportName?: string;
  /**
   * Most isolates the pool runs at once; more calls wait for a free one.
   * Pools are shared by every `isolated()` with the same pool options.
   * @default os.availableParallelism()
   */
  size?: number;
  /** An idle isolate exits after this many ms; the next call starts a fresh one. @default 30_000 */
  idleTimeout?: number;
  /**
   * Node's limits for each isolate: a thread's `resourceLimits`; for a
   * process, `maxOldGenerationSizeMb` becomes `--max-old-space-size`,
   * `maxYoungGenerationSizeMb` `--max-semi-space-size` (a third of it) and
   * `stackSizeMb` `--stack-size`. Running out is a `failed` job
   * (`IsolateCrashError`, `kind: 'out_of_memory'`), and the pool goes on.
   * @default none (Node's defaults)
   */
  resourceLimits?: ResourceLimits;
  /** Node flags for each isolate. @default the parent's `process.execArgv` (so a tsx loader carries over) */
  execArgv?: readonly string[];
  /** `'process'` only: ms between SIGTERM and SIGKILL at escalation. @default 1_000 */
  killGrace?: number;
}

export interface ResolvedIsolatedOptions {
  readonly runner: IsolateRunner;
  readonly exportName: string;
  readonly pool: ResolvedPoolOptions;
}

export interface ResolvedPoolOptions {
  readonly runner: IsolateRunner;
  readonly size: number;
  readonly idleTimeout: number;
  readonly resourceLimits: ResourceLimits | undefined;
  readonly execArgv: readonly string[] | undefined;
  readonly killGrace: number;
  /** Pools with the same key are one pool. */
  readonly key: string;
}

export const ISOLATION_DEFAULTS = Object.freeze({
  exportName: 'default',
  idleTimeout: 30_000,
  killGrace: 1_000,
});

export const ISOLATED_OPTION_KEYS = [
  'runner',
  'exportName',
  'size',
  'idleTimeout',
  'resourceLimits',
  'execArgv',
  'killGrace',
] as const;

const LIMIT_KEYS = ['maxOldGenerationSizeMb', 'maxYoungGenerationSizeMb', 'codeRangeSizeMb', 'stackSizeMb'];

export function resolveIsolatedOptions(options: unknown, what = 'isolated() options'): ResolvedIsolatedOptions {
  if (typeof options !== 'object' || options === null) {
    throw expected(what, "an object with `runner: 'thread' | 'process'`", options);
  }
  checkKnownKeys(what, options, ISOLATED_OPTION_KEYS);
  const given = options as IsolatedOptions;
  const runner = given.runner;
  if (runner !== 'thread' && runner !== 'process') throw expected('runner', "'thread' or 'process'", runner);
  const exportName = given.exportName ?? ISOLATION_DEFAULTS.exportName;
  if (typeof exportName !== 'string' || exportName.length === 0) {
    throw expected('exportName', 'a non-empty string', exportName);
  }
  const size = given.size ?? availableParallelism();
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > 1024) {
    throw expected('size', 'an integer from 1 to 1024', size);
  }
  const idleTimeout = milliseconds('idleTimeout', given.idleTimeout ?? ISOLATION_DEFAULTS.idleTimeout);
  const killGrace = milliseconds('killGrace', given.killGrace ?? ISOLATION_DEFAULTS.killGrace);
  const resourceLimits = given.resourceLimits;
  if (resourceLimits !== undefined) {
    if (typeof resourceLimits !== 'object' || resourceLimits === null) {
      throw expected('resourceLimits', 'an object of Node worker resource limits', resourceLimits);
    }
    checkKnownKeys('resourceLimits', resourceLimits, LIMIT_KEYS);
    for (const [key, value] of Object.entries(resourceLimits)) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
        throw expected(`resourceLimits.${key}`, 'a positive number of megabytes', value);
      }
    }
  }
  const execArgv = given.execArgv;
  if (execArgv !== undefined && (!Array.isArray(execArgv) || execArgv.some((arg) => typeof arg !== 'string'))) {
    throw expected('execArgv', 'an array of strings', execArgv);
  }
  const limits = resourceLimits === undefined ? undefined : { ...resourceLimits };
  const argv = execArgv === undefined ? undefined : [...execArgv];
  return {
    runner,
    exportName,
    pool: {
      runner,
      size,
      idleTimeout,
      resourceLimits: limits,
      execArgv: argv,
      killGrace,
      key: JSON.stringify([runner, size, idleTimeout, limits ?? null, argv ?? null, killGrace]),
    },
  };
}
