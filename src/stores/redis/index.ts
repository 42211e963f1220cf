/**
 * `jobterm/redis`: a kill store (and iterate()'s progress store) on Redis,
 * for BullMQ users who have no PostgreSQL. Loads ioredis only when given
 * connection options instead of a client.
 */
export type { RedisConnectionOptions } from './connection.js';
export { REDIS_STORE_DEFAULTS, type RedisStoreOptions } from './options.js';
export {
  type ListRedisRequestsOptions,
  RedisStore,
  type RedisStoreKeys,
  redisStore,
  redisStoreKeys,
  type StoredRedisKillRequest,
} from './store.js';
