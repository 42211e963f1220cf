import type pg from 'pg';
import { checkKnownKeys, expected } from '../../core/errors.js';
import { type Logger, makeConsoleLogger } from '../../core/logger.js';
import { milliseconds } from '../../core/options.js';
import { validateSchemaName } from './schema.js';

export interface PostgresStoreOptions {
  /** Where to connect; the store then owns a small pool and closes it in `close()`. Give this or `pool`. */
  connectionString?: string;
  /**
   * Your own `pg.Pool`; the store borrows clients for short queries and never
   * ends it. The LISTEN connection is a separate client made from the pool's
   * settings. Give this or `connectionString`.
   */
  pool?: pg.Pool;
  /** The schema holding jobterm's tables, created by the migration. @default 'jobterm' */
  schema?: string;
  /**
   * Run the migration on first use (under an advisory lock, so concurrent
   * processes are safe). Turn off when a deploy step runs `jobterm migrate`
   * and the app's role may not run DDL. @default true
   */
  migrate?: boolean;
  /**
   * Whether `open()` (called by `createTerminator`) loads, listens for and
   * polls kill requests. A process that only makes requests (a CLI, an API
   * server) can turn it off and hold no LISTEN connection until it waits on a
   * request. @default true
   */
  receiveRequests?: boolean;
  /**
   * How often a worker re-reads the open requests, in case a NOTIFY was lost
   * (the LISTEN connection dropped): the upper bound on delivery time while
   * LISTEN is down. Also how often a waiting `terminate()` re-checks. @default 1_000
   */
  pollInterval?: number;
  /**
   * Poll only the requests written since the last read (a watermark on
   * migration 4's `change_xid`), with a full reload at start and after every
   * reconnect. Off: every poll reloads every open request, as before
   * (cost: workers x open requests per interval). @default true
   */
  incrementalPoll?: boolean;
  /**
   * Most open requests a worker holds in memory. Above it, a worker keeps
   * only those of its running jobs, and each job start reads its own from the
   * store (one indexed query) instead: memory stays bounded and no request
   * is dropped. `Infinity` for no bound. @default 10_000
   */
  maxOpenInMemory?: number;
  /** How long a request stays in force, in ms; after that no worker applies it and `prune()` deletes it. @default 7 days */
  requestTtl?: number;
  /**
   * Prune expired requests every this many ms, while opened. Off by default:
   * most apps prune from one place (a cron calling `store.prune()`), not from
   * every worker. @default false
   */
  pruneInterval?: number | false;
  /** First delay before reconnecting the LISTEN connection; doubles up to `maxReconnectDelay`. @default 100 */
  reconnectDelay?: number;
  /** @default 5_000 */
  maxReconnectDelay?: number;
  /** For a pool the store makes itself and for the LISTEN connection. @default 10_000 */
  connectionTimeout?: number;
  /** @default warnings and errors to stderr; a forged NOTIFY is logged at debug */
  logger?: Logger;
}

export interface ResolvedPostgresStoreOptions {
  readonly connectionString: string | undefined;
  readonly pool: pg.Pool | undefined;
  readonly schema: string;
  readonly migrate: boolean;
  readonly receiveRequests: boolean;
  readonly pollInterval: number;
  readonly incrementalPoll: boolean;
  readonly maxOpenInMemory: number;
  readonly requestTtl: number;
  readonly pruneInterval: number | false;
  readonly reconnectDelay: number;
  readonly maxReconnectDelay: number;
  readonly connectionTimeout: number;
  readonly logger: Logger;
}

const DAY = 24 * 60 * 60 * 1000;

export const POSTGRES_STORE_DEFAULTS = Object.freeze({
  schema: 'jobterm',
  migrate: true,
  receiveRequests: true,
  pollInterval: 1_000,
  incrementalPoll: true,
  maxOpenInMemory: 10_000,
  requestTtl: 7 * DAY,
  pruneInterval: false as const,
  reconnectDelay: 100,
  maxReconnectDelay: 5_000,
  connectionTimeout: 10_000,
  /** Connections in a pool the store makes itself. */
  poolSize: 4,
});

/** Ten years: a TTL is not a timer, so it may exceed setTimeout's range, but not PostgreSQL's timestamps. */
const MAX_TTL = 3650 * DAY;

const KNOWN: readonly string[] = [
  'connectionString',
  'pool',
  'schema',
  'migrate',
  'receiveRequests',
  'pollInterval',
  'incrementalPoll',
  'maxOpenInMemory',
  'requestTtl',
  'pruneInterval',
  'reconnectDelay',
  'maxReconnectDelay',
  'connectionTimeout',
  'logger',
];

export function resolvePostgresStoreOptions(options: unknown): ResolvedPostgresStoreOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw expected('options', 'an object `{ connectionString | pool, schema? }`', options);
  }
  const given = options as PostgresStoreOptions;
  checkKnownKeys('postgresStore() options', given, KNOWN);
  const { connectionString, pool } = given;
  if ((connectionString === undefined) === (pool === undefined)) {
    // Never echo the options back: a connection string can hold a password.
    const got = connectionString === undefined ? 'neither' : 'both';
    throw expected('options', 'an object with exactly one of `connectionString` and `pool`', got);
  }
  if (connectionString !== undefined && (typeof connectionString !== 'string' || connectionString.length === 0)) {
    throw expected('connectionString', 'a non-empty string such as postgres://user@host/db', connectionString);
  }
  if (
    pool !== undefined &&
    (typeof pool !== 'object' ||
      pool === null ||
      typeof pool.query !== 'function' ||
      typeof pool.connect !== 'function' ||
      typeof (pool as { options?: unknown }).options !== 'object')
  ) {
    throw expected('pool', 'a pg.Pool', pool);
  }
  const schema = validateSchemaName(given.schema ?? POSTGRES_STORE_DEFAULTS.schema);
  const migrate = boolean('migrate', given.migrate ?? POSTGRES_STORE_DEFAULTS.migrate);
  const receiveRequests = boolean('receiveRequests', given.receiveRequests ?? POSTGRES_STORE_DEFAULTS.receiveRequests);
  const pollInterval = positive('pollInterval', given.pollInterval ?? POSTGRES_STORE_DEFAULTS.pollInterval);
  const incrementalPoll = boolean('incrementalPoll', given.incrementalPoll ?? POSTGRES_STORE_DEFAULTS.incrementalPoll);
  const maxOpenInMemory = given.maxOpenInMemory ?? POSTGRES_STORE_DEFAULTS.maxOpenInMemory;
  if (
    typeof maxOpenInMemory !== 'number' ||
    !(maxOpenInMemory === Number.POSITIVE_INFINITY || (Number.isSafeInteger(maxOpenInMemory) && maxOpenInMemory >= 0))
  ) {
    throw expected('maxOpenInMemory', 'a non-negative integer or Infinity', maxOpenInMemory);
  }
  const requestTtl = given.requestTtl ?? POSTGRES_STORE_DEFAULTS.requestTtl;
  if (typeof requestTtl !== 'number' || !Number.isFinite(requestTtl) || requestTtl <= 0 || requestTtl > MAX_TTL) {
    throw expected('requestTtl', 'a positive number of milliseconds, at most ten years', requestTtl);
  }
  const pruneInterval = given.pruneInterval ?? POSTGRES_STORE_DEFAULTS.pruneInterval;
  if (pruneInterval !== false) positive('pruneInterval', pruneInterval);
  const reconnectDelay = positive('reconnectDelay', given.reconnectDelay ?? POSTGRES_STORE_DEFAULTS.reconnectDelay);
  const maxReconnectDelay = positive(
    'maxReconnectDelay',
    given.maxReconnectDelay ?? Math.max(reconnectDelay, POSTGRES_STORE_DEFAULTS.maxReconnectDelay),
  );
  if (maxReconnectDelay < reconnectDelay) {
    throw expected('maxReconnectDelay', `at least \`reconnectDelay\` (${reconnectDelay})`, maxReconnectDelay);
  }
  const connectionTimeout = positive(
    'connectionTimeout',
    given.connectionTimeout ?? POSTGRES_STORE_DEFAULTS.connectionTimeout,
  );
  const logger = given.logger ?? makeConsoleLogger();
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof logger?.[level] !== 'function') throw expected(`logger.${level}`, 'a function', logger?.[level]);
  }
  return {
    connectionString,
    pool,
    schema,
    migrate,
    receiveRequests,
    pollInterval,
    incrementalPoll,
    maxOpenInMemory,
    requestTtl,
    pruneInterval,
    reconnectDelay,
    maxReconnectDelay,
    connectionTimeout,
    logger,
  };
}

function boolean(what: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw expected(what, 'a boolean', value);
  return value;
}

function positive(what: string, value: unknown): number {
  milliseconds(what, value);
  if ((value as number) === 0) throw expected(what, 'a positive number of milliseconds', value);
  return value as number;
}
