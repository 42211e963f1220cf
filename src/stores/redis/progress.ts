import { validateJobRef } from '../../core/job-ref.js';
import type { JsonValue, ProgressStore } from '../../core/progress.js';
import type { RedisConnection } from './connection.js';

/**
 * iterate()'s cursors in one Redis hash, `<prefix>:progress`, a field per job
 * that stopped before finishing (the field is the job's reference as JSON).
 * Reached through `redisStore().progress`, which the terminator uses by default.
 */
export function makeRedisProgressStore(redis: RedisConnection, key: string): ProgressStore {
  const field = (ref: Parameters<ProgressStore['load']>[0]) => {
    const checked = validateJobRef(ref);
    return JSON.stringify([checked.queue, checked.name ?? '', checked.id]);
  };
  return {
    async load(ref) {
      const saved = (await redis.send(['HGET', key, field(ref)])) as string | null;
      return saved === null || saved === undefined ? undefined : (JSON.parse(saved) as JsonValue);
    },
    async save(ref, cursor) {
      await redis.send(['HSET', key, field(ref), JSON.stringify(cursor)]);
    },
    async clear(ref) {
      await redis.send(['HDEL', key, field(ref)]);
    },
  };
}
