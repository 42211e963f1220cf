import { hostname } from 'node:os';
import type { QueueAdapter } from './adapter.js';
import { checkKnownKeys, expected } from './errors.js';
import { type PresenceOptions, type ResolvedPresenceOptions, resolvePresenceOptions } from './heartbeat.js';
import { type Logger, makeConsoleLogger } from './logger.js';
import type { ProgressStore } from './progress.js';
import type { KillStore } from './store.js';

export interface TerminatorOptions {
  /**
   * Where kill requests are stored and how they reach this process. Without
   * one, a terminator still terminates the jobs it runs itself.
   */
  store?: KillStore;
  /**
   * How long a shutdown waits for running jobs to stop after their tokens
   * fire, before it escalates (settles them as interrupted, hard-stops
   * isolated ones). Sidekiq's value. Longer is kinder to jobs and slower to
   * deploy. @default 25_000
   */
  shutdownTimeout?: number;
  /**
   * How long a killed job gets to stop before jobterm settles it as
   * terminated without it and emits `unresponsive`. @default 10_000
   */
  killTimeout?: number;
  /**
   * Install SIGTERM and SIGINT handlers that run `shutdown()` and then exit
   * the process; a second signal escalates at once. Turn your queue's own
   * signal handling off when you turn this on. @default false
   */
  handleSignals?: boolean;
  /**
   * Where `iterate()` saves cursors. @default the store's own (`postgresStore()`
   * has one), else none: `iterate()` then needs one passed to it.
   */
  progress?: ProgressStore;
  /** Queue adapters that answer for jobs not running here (usually added by the adapter itself). */
  adapters?: readonly QueueAdapter[];
  /**
   * How this worker shows itself to the fleet (`fleet()`, `jobterm workers`)
   * and whether it rescues dead workers' jobs; `false` for no presence at
   * all. Used only with a store that keeps presence (`postgresStore()`), and
   * only once this terminator runs jobs. See docs/fleet.md. @default {}
   */
  presence?: PresenceOptions | false;
  /** Names this process in the requests it resolves. @default `${hostname}:${pid}` */
  workerId?: string;
  /** @default warnings and errors to stderr */
  logger?: Logger;
}

export interface ResolvedTerminatorOptions {
  readonly store: KillStore | undefined;
  readonly progress: ProgressStore | undefined;
  readonly shutdownTimeout: number;
  readonly killTimeout: number;
  readonly handleSignals: boolean;
  readonly adapters: readonly QueueAdapter[];
  readonly workerId: string;
  readonly logger: Logger;
  readonly presence: ResolvedPresenceOptions | false;
}

export const DEFAULTS = Object.freeze({
  shutdownTimeout: 25_000,
  killTimeout: 10_000,
  handleSignals: false,
  /** How long `terminate({ wait: true })` waits by default. */
  waitTimeout: 30_000,
});

/** Longest reason message accepted; longer ones are refused, not cut, so nothing is half-written. */
export const MAX_REASON_LENGTH = 1_000;

export function resolveTerminatorOptions(options: TerminatorOptions = {}): ResolvedTerminatorOptions {
  if (typeof options !== 'object' || options === null) throw expected('options', 'an object', options);
  checkKnownKeys('options', options, [
    'store',
    'progress',
    'shutdownTimeout',
    'killTimeout',
    'handleSignals',
    'adapters',
    'workerId',
    'logger',
    'presence',
  ]);
  const store = options.store;
  if (store !== undefined && (typeof store !== 'object' || store === null || typeof store.open !== 'function')) {
    throw expected('store', 'a KillStore such as postgresStore()', store);
  }
  const adapters = options.adapters ?? [];
  if (!Array.isArray(adapters)) throw expected('adapters', 'an array of queue adapters', adapters);
  for (const adapter of adapters) checkAdapter(adapter);
  const logger = options.logger ?? makeConsoleLogger();
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof logger?.[level] !== 'function') throw expected(`logger.${level}`, 'a function', logger?.[level]);
  }
  const workerId = options.workerId ?? `${hostname()}:${process.pid}`;
  if (typeof workerId !== 'string' || workerId.length === 0 || workerId.length > 200) {
    throw expected('workerId', 'a non-empty string of at most 200 characters', workerId);
  }
  const handleSignals = options.handleSignals ?? DEFAULTS.handleSignals;
  if (typeof handleSignals !== 'boolean') throw expected('handleSignals', 'a boolean', handleSignals);
  const progress = options.progress ?? store?.progress;
  if (progress !== undefined && (typeof progress !== 'object' || typeof progress.load !== 'function')) {
    throw expected('progress', 'a ProgressStore with load, save and clear', progress);
  }
  return {
    store,
    progress,
    shutdownTimeout: milliseconds('shutdownTimeout', options.shutdownTimeout ?? DEFAULTS.shutdownTimeout),
    killTimeout: milliseconds('killTimeout', options.killTimeout ?? DEFAULTS.killTimeout),
    handleSignals,
    adapters: [...adapters],
    workerId,
    logger,
    presence: resolvePresenceOptions(options.presence),
  };
}

export function checkAdapter(adapter: unknown): QueueAdapter {
  if (typeof adapter !== 'object' || adapter === null || typeof (adapter as QueueAdapter).queue !== 'string') {
    throw expected('adapter', 'an object with a `queue` string', adapter);
  }
  return adapter as QueueAdapter;
}

/** Timers hold at most 2^31-1 ms; a larger value would fire at once. */
const MAX_TIMER = 2_147_483_647;

export function milliseconds(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_TIMER) {
    throw expected(what, 'a non-negative number of milliseconds', value);
  }
  return value;
}

export function reasonMessage(what: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length > MAX_REASON_LENGTH) {
    throw expected(what, `a string of at most ${MAX_REASON_LENGTH} characters`, value);
  }
  return value.length === 0 ? fallback : value;
}
