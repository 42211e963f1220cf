import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { hasRedisServer, REDIS_HINT, type RedisServer, startRedisServer } from './redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    /** REDIS_URL, the redis-server started here, or '' when neither is at hand (BullMQ tests skip). */
    redisUrl: string;
  }
}

/**
 * One PostgreSQL for the whole run: `DATABASE_URL` when set, otherwise an
 * embedded server that is stopped (and its temp dir removed) at the end, also
 * when tests fail. Each test file then makes its own database (see db.ts).
 */
export default async function setup(project: TestProject) {
  const redis = await setupRedis(project);
  const given = process.env.DATABASE_URL;
  if (given) {
    project.provide('databaseUrl', given);
    return () => redis?.stop();
  }
  const server = await startEmbeddedPostgres();
  project.provide('databaseUrl', server.url);
  const stop = () => Promise.all([server.stop(), redis?.stop()]);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return async () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await stop();
  };
}

/**
 * Redis for the BullMQ tests and the Redis store: `REDIS_URL` when set,
 * otherwise a `redis-server` from PATH in a temp dir, stopped at the end.
 * Without either the tests that need it skip, with one line saying why.
 */
async function setupRedis(project: TestProject): Promise<RedisServer | undefined> {
  const given = process.env.REDIS_URL;
  if (given) {
    project.provide('redisUrl', given);
    return undefined;
  }
  if (!hasRedisServer()) {
    console.warn(`[jobterm] ${REDIS_HINT}`);
    project.provide('redisUrl', '');
    return undefined;
  }
  const server = await startRedisServer();
  project.provide('redisUrl', server.url);
  return server;
}
