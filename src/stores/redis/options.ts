import { checkKnownKeys, expected } from '../../core/errors.js';
import { type Logger, makeConsoleLogger } from '../../core/logger.js';
import { milliseconds } from '../../core/options.js';
import { isRedisClient, type RedisConnectionOptions } from './connection.js';

export interface RedisStoreOptions {
  /**
   * Where to connect, as BullMQ takes it: ioredis options (`{ host, port,
   * password, db, ... }`) or a `redis://` URL. The store then makes its own
   * ioredis clients and closes them in `close()`. Give this or `client`.
   */
  connection?: RedisConnectionOptions;
  /**
   * Your own client: an ioredis `Redis` (the one you give BullMQ works) or a
   * connected node-redis client. The store sends short commands on it and
   * never closes it; pub/sub runs on a `duplicate()` the store owns.
   */
  client?: unknown;
  /** Prefix of every key and channel jobterm uses. @default 'jobterm' */
  prefix?: string;
  /**
   * Whether `open()` (called by `createTerminator`) loads, subscribes to and
   * polls kill requests. A process that only makes requests (a CLI, an API
   * server) turns it off. @default true
   */
  receiveRequests?: boolean;
  /** How often a worker re-reads the open requests, in case a message was lost; also how often a waiting `terminate()` re-checks. @default 1_000 */
  pollInterval?: number;
  /** How long a request stays in force, in ms; after that no worker applies it and it is pruned. @default 7 days */
  requestTtl?: number;
  /**
   * Prune expired requests' index entries every this many ms, while opened.
   * Each request's own key also expires in Redis a day after the request
   * (Redis prunes it even if nobody calls `prune()`). @default false
   */
  pruneInterval?: number | false;
  /** @default warnings and errors to stderr; a forged message is logged at debug */
  logger?: Logger;
}

export interface ResolvedRedisStoreOptions {
  readonly connection: RedisConnectionOptions | undefined;
  readonly client: unknown;
  readonly prefix: string;
  readonly receiveRequests: boolean;
  readonly pollInterval: number;
  readonly requestTtl: number;
  readonly pruneInterval: number | false;
  readonly logger: Logger;
}

const DAY = 24 * 60 * 60 * 1000;

export const REDIS_STORE_DEFAULTS = Object.freeze({
  prefix: 'jobterm',
  receiveRequests: true,
  pollInterval: 1_000,
  requestTtl: 7 * DAY,
  pruneInterval: false as const,
  /** How long a request's key outlives its expiry, so `prune()` can still read which job it named. */
  keepAfterExpiry: DAY,
});

const MAX_TTL = 3650 * DAY;
const PREFIX = /^[A-Za-z0-9_.:{}-]{1,100}$/;

const KNOWN = [
  'connection',
  'client',
  'prefix',
  'receiveRequests',
  'pollInterval',
  'requestTtl',
  'pruneInterval',
  'logger',
];

export function resolveRedisStoreOptions(options: unknown): ResolvedRedisStoreOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw expected('options', 'an object `{ connection | client, prefix? }`', options);
  }
  const given = options as RedisStoreOptions;
  checkKnownKeys('redisStore() options', given, KNOWN);
  const { connection, client } = given;
  if ((connection === undefined) === (client === undefined)) {
    // Never echo the options back: they can hold a password.
    const got = connection === undefined ? 'neither' : 'both';
    throw expected('options', 'an object with exactly one of `connection` and `client`', got);
  }
  if (
    connection !== undefined &&
    !(typeof connection === 'string' && connection.length > 0) &&
    !(typeof connection === 'object' && connection !== null && !Array.isArray(connection))
  ) {
    throw expected('connection', 'ioredis options `{ host, port, ... }` or a redis:// URL', typeof connection);
  }
  if (client !== undefined && !isRedisClient(client)) {
    throw expected('client', 'an ioredis or node-redis client', client === null ? null : typeof client);
  }
  const prefix = given.prefix ?? REDIS_STORE_DEFAULTS.prefix;
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw expected('prefix', 'at most 100 letters, digits or _ . : { } -', prefix);
  }
  const receiveRequests = given.receiveRequests ?? REDIS_STORE_DEFAULTS.receiveRequests;
  if (typeof receiveRequests !== 'boolean') throw expected('receiveRequests', 'a boolean', receiveRequests);
  const pollInterval = positive('pollInterval', given.pollInterval ?? REDIS_STORE_DEFAULTS.pollInterval);
  const requestTtl = given.requestTtl ?? REDIS_STORE_DEFAULTS.requestTtl;
  if (typeof requestTtl !== 'number' || !Number.isFinite(requestTtl) || requestTtl <= 0 || requestTtl > MAX_TTL) {
    throw expected('requestTtl', 'a positive number of milliseconds, at most ten years', requestTtl);
  }
  const pruneInterval = given.pruneInterval ?? REDIS_STORE_DEFAULTS.pruneInterval;
  if (pruneInterval !== false) positive('pruneInterval', pruneInterval);
  const logger = given.logger ?? makeConsoleLogger();
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof logger?.[level] !== 'function') throw expected(`logger.${level}`, 'a function', logger?.[level]);
  }
  return { connection, client, prefix, receiveRequests, pollInterval, requestTtl, pruneInterval, logger };
}

function positive(what: string, value: unknown): number {
  milliseconds(what, value);
  if ((value as number) === 0) throw expected(what, 'a positive number of milliseconds', value);
  return value as number;
}
