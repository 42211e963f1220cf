import { createHash } from 'node:crypto';
import { expected } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

/**
 * The few things the store needs from a Redis client, over either of the two
 * clients BullMQ 6.7 accepts: ioredis (`call`, `duplicate`, `'ready'` after
 * every reconnect) and node-redis 4/5 (`sendCommand`, `duplicate` + `connect`,
 * `'ready'` likewise). Valkey servers speak the same protocol, so both
 * clients work against them unchanged.
 */
export interface RedisConnection {
  /** Sends one command; resolves to Redis's reply (arrays of strings, numbers, null). */
  send(args: ReadonlyArray<string | number>): Promise<unknown>;
  /** Runs a Lua script by its SHA, loading it on `NOSCRIPT` (after a restart or a `SCRIPT FLUSH`). */
  eval(script: Script, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown>;
  /**
   * A dedicated subscriber connection (pub/sub needs its own). `onMessage`
   * gets every message of `channels`; `onReady` runs after every reconnect
   * (not the first connect), once the subscriptions are back.
   */
  subscribe(
    channels: readonly string[],
    onMessage: (channel: string, message: string) => void,
    onReady: () => void,
  ): Promise<Subscription>;
  /** Closes the connections this store made itself; never the user's client. Safe to call twice. */
  close(): Promise<void>;
}

export interface Subscription {
  close(): Promise<void>;
}

export interface Script {
  readonly source: string;
  readonly sha: string;
}

export function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/** What `redisStore({ connection })` takes: an ioredis options object, or a `redis://` URL. */
export type RedisConnectionOptions = string | Record<string, unknown>;

interface IoRedisLike {
  call(command: string, ...args: Array<string | number>): Promise<unknown>;
  duplicate(): IoRedisLike;
  on(event: string, listener: (...args: never[]) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
  subscribe(...channels: string[]): Promise<unknown>;
  quit(): Promise<unknown>;
  disconnect(): void;
  status: string;
}

interface NodeRedisLike {
  sendCommand(args: string[]): Promise<unknown>;
  duplicate(): NodeRedisLike;
  connect(): Promise<unknown>;
  on(event: string, listener: (...args: never[]) => void): unknown;
  subscribe(channels: string[], listener: (message: string, channel: string) => void): Promise<unknown>;
  quit?(): Promise<unknown>;
  close?(): Promise<unknown>;
  destroy?(): void;
  disconnect?(): Promise<unknown>;
}

function isIoRedis(client: unknown): client is IoRedisLike {
  const c = client as Partial<IoRedisLike> | null;
  return typeof c?.call === 'function' && typeof c.duplicate === 'function' && typeof c.subscribe === 'function';
}

function isNodeRedis(client: unknown): client is NodeRedisLike {
  const c = client as Partial<NodeRedisLike> | null;
  return typeof c?.sendCommand === 'function' && typeof c.duplicate === 'function' && typeof c.connect === 'function';
}

/** True for a client object the store can use (ioredis, node-redis). */
export function isRedisClient(client: unknown): boolean {
  return isIoRedis(client) || isNodeRedis(client);
}

/**
 * Wraps the user's client (never closed here), or makes an ioredis client
 * from connection options (loaded only then: ioredis is an optional peer).
 */
export function makeConnection(
  source: { client: unknown } | { connection: RedisConnectionOptions },
  logger: Logger,
): RedisConnection {
  if ('client' in source) {
    const { client } = source;
    if (isIoRedis(client)) return ioredisConnection(Promise.resolve(client), false, logger);
    if (isNodeRedis(client)) return nodeRedisConnection(client, logger);
    throw expected('client', 'an ioredis or node-redis client', client);
  }
  const made = import('ioredis').then((mod) => {
    const Redis = ((mod as { default?: unknown }).default ?? (mod as { Redis?: unknown }).Redis) as new (
      ...args: unknown[]
    ) => IoRedisLike;
    const client = new Redis(source.connection as never);
    // ioredis prints "Unhandled error event" for connections without a listener; reconnects are its own.
    client.on('error', (error: never) => logger.debug('redis connection error', { error }));
    return client;
  });
  return ioredisConnection(made, true, logger);
}

function withScript(send: RedisConnection['send']): RedisConnection['eval'] {
  return async (s, keys, args) => {
    try {
      return await send(['EVALSHA', s.sha, keys.length, ...keys, ...args]);
    } catch (error) {
      if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
      return send(['EVAL', s.source, keys.length, ...keys, ...args]);
    }
  };
}

function ioredisConnection(made: Promise<IoRedisLike>, owned: boolean, logger: Logger): RedisConnection {
  const subscribers = new Set<IoRedisLike>();
  let closed = false;
  const send: RedisConnection['send'] = async (args) => {
    const client = await made;
    const [command, ...rest] = args;
    return client.call(String(command), ...rest);
  };
  return {
    send,
    eval: withScript(send),
    async subscribe(channels, onMessage, onReady) {
      const sub = (await made).duplicate();
      subscribers.add(sub);
      let connectedOnce = false;
      sub.on('error', (error: never) => logger.debug('redis subscriber error', { error }));
      sub.on('message', ((channel: string, message: string) => onMessage(channel, message)) as never);
      // ioredis re-subscribes by itself after a reconnect, before 'ready' (autoResubscribe).
      sub.on('ready', () => {
        if (connectedOnce) onReady();
        connectedOnce = true;
      });
      await sub.subscribe(...channels);
      return {
        async close() {
          if (!subscribers.delete(sub)) return;
          await sub.quit().catch(() => sub.disconnect());
        },
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const sub of [...subscribers]) {
        subscribers.delete(sub);
        await sub.quit().catch(() => sub.disconnect());
      }
      if (owned) {
        const client = await made.catch(() => undefined);
        await client?.quit().catch(() => client.disconnect());
      }
    },
  };
}

function nodeRedisConnection(client: NodeRedisLike, logger: Logger): RedisConnection {
  const subscribers = new Set<NodeRedisLike>();
  const send: RedisConnection['send'] = (args) => client.sendCommand(args.map(String));
  const end = async (sub: NodeRedisLike) => {
    try {
      if (typeof sub.close === 'function') await sub.close();
      else if (typeof sub.quit === 'function') await sub.quit();
      else sub.destroy?.();
    } catch {
      sub.destroy?.();
    }
  };
  return {
    send,
    eval: withScript(send),
    async subscribe(channels, onMessage, onReady) {
      const sub = client.duplicate();
      subscribers.add(sub);
      let connectedOnce = false;
      sub.on('error', (error: never) => logger.debug('redis subscriber error', { error }));
      sub.on('ready', () => {
        if (connectedOnce) onReady();
        connectedOnce = true;
      });
      await sub.connect();
      // node-redis re-subscribes after a reconnect by itself.
      await sub.subscribe([...channels], (message, channel) => onMessage(channel, message));
      return {
        async close() {
          if (subscribers.delete(sub)) await end(sub);
        },
      };
    },
    async close() {
      for (const sub of [...subscribers]) {
        subscribers.delete(sub);
        await end(sub);
      }
    },
  };
}
