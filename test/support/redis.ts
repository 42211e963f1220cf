import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

/** The run's Redis (REDIS_URL, or the one global-setup started), or '' when there is none. */
export function redisUrl(): string {
  return inject('redisUrl');
}

/** True when a Redis is at hand; otherwise the caller skips (global-setup printed the one line saying how to enable it). */
export function haveRedis(): boolean {
  return redisUrl() !== '';
}

/** A prefix of keys no other test file uses on the shared server. */
export function uniquePrefix(what: string): string {
  return `${what}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** ioredis options for the run's Redis. */
export function redisConnection(): {
  host: string;
  port: number;
  db?: number;
  password?: string;
  maxRetriesPerRequest: null;
} {
  const url = new URL(redisUrl());
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : undefined;
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    ...(db === undefined ? {} : { db }),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    maxRetriesPerRequest: null,
  };
}
