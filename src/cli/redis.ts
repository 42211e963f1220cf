import type { QueueAdapter } from '../core/adapter.js';
import type { Logger } from '../core/logger.js';
import type { PostgresStore } from '../stores/postgres/store.js';
import { type RedisStore, redisStore } from '../stores/redis/store.js';
import { cliLogger, cliStore, databaseUrl, type Io, UsageError } from './common.js';

/** Options of the commands that can work on the Redis store (BullMQ users without PostgreSQL). */
export const REDIS_OPTIONS = {
  'redis-url': { type: 'string' },
  'redis-prefix': { type: 'string' },
  'bull-prefix': { type: 'string' },
} as const;

export const REDIS_HELP = `  --redis-url <url>     use the Redis store at this URL (default: $REDIS_URL, for bullmq jobs
                        or when no database is given)
  --redis-prefix <p>    the Redis store's key prefix (default: $JOBTERM_REDIS_PREFIX or jobterm)
  --bull-prefix <p>     BullMQ's key prefix, for bullmq jobs (default: $BULL_PREFIX or bull)`;

type RedisValues = { 'redis-url'?: string | undefined; 'database-url'?: string | undefined };

/**
 * The Redis URL a command uses, if it uses Redis: `--redis-url`; else
 * `REDIS_URL` when the job is a BullMQ job or no PostgreSQL is given
 * (`--database-url`, `DATABASE_URL`). Undefined: the PostgreSQL store.
 */
export function redisTarget(values: RedisValues, env: NodeJS.ProcessEnv, queue?: string): string | undefined {
  const given = values['redis-url'];
  if (given !== undefined) {
    if (given === '') throw new UsageError('--redis-url needs a redis:// URL');
    if (values['database-url'] !== undefined) throw new UsageError('give --redis-url or --database-url, not both');
    return given;
  }
  const fromEnv = env.REDIS_URL;
  if (fromEnv === undefined || fromEnv === '' || values['database-url'] !== undefined) return undefined;
  if (queue === 'bullmq' || !env.DATABASE_URL) return fromEnv;
  return undefined;
}

/** The Redis store for a CLI command: requests only, no subscription until a wait needs one. */
export function cliRedisStore(
  url: string,
  values: { 'redis-prefix'?: string | undefined },
  env: NodeJS.ProcessEnv,
  logger: Logger,
): RedisStore {
  const prefix = values['redis-prefix'] ?? env.JOBTERM_REDIS_PREFIX;
  return redisStore({
    connection: url,
    ...(prefix ? { prefix } : {}),
    receiveRequests: false,
    logger,
  });
}

/**
 * The store a command that only reads or withdraws works on: the Redis store
 * when `redisTarget()` says so (BullMQ workers on jobterm/redis), else the
 * PostgreSQL one at `--database-url` / `DATABASE_URL`. The caller closes it.
 */
export function cliReadStore(
  values: RedisValues & { schema?: string | undefined; 'redis-prefix'?: string | undefined },
  io: Io,
): PostgresStore | RedisStore {
  const redisUrl = redisTarget(values, io.env);
  return redisUrl === undefined
    ? cliStore(values, io, { connectionString: databaseUrl(values, io.env) })
    : cliRedisStore(redisUrl, values, io.env, cliLogger(io.env));
}

/**
 * The BullMQ adapter on the same Redis, when BullMQ is installed: it
 * completes a job id with the job's timestamp, tells finished from unknown,
 * and removes a job that has not started.
 */
export async function bullmqCliAdapter(
  url: string,
  values: { 'bull-prefix'?: string | undefined },
  env: NodeJS.ProcessEnv,
): Promise<(QueueAdapter & { close(): Promise<void> }) | undefined> {
  try {
    await import('bullmq');
  } catch {
    return undefined;
  }
  const { bullmqAdapter } = await import('../adapters/bullmq/adapter.js');
  const parsed = new URL(url);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : undefined;
  const prefix = values['bull-prefix'] ?? env.BULL_PREFIX;
  return bullmqAdapter({
    connection: {
      host: parsed.hostname,
      port: Number(parsed.port || 6379),
      ...(db === undefined ? {} : { db }),
      ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
      ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
      ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
      maxRetriesPerRequest: 1,
    },
    ...(prefix ? { prefix } : {}),
  });
}
