import type pg from 'pg';
import type { Logger } from '../../core/logger.js';
import { quoteIdentifier } from './schema.js';

export interface ListenerOptions {
  /** A new, unconnected client on each (re)connect. */
  readonly makeClient: () => pg.Client;
  readonly channels: readonly string[];
  readonly onNotification: (channel: string, payload: string) => void;
  /**
   * Runs after each (re)connect, once LISTEN is in place: the resync.
   * Notifications sent while the connection was down are lost for good, so
   * this is what makes delivery at-least-once across a reconnect.
   */
  readonly onConnected: () => Promise<void>;
  /** The first failure of an outage (later retries of the same outage log at debug). */
  readonly onError: (error: unknown) => void;
  readonly logger: Logger;
  readonly reconnectDelay: number;
  readonly maxReconnectDelay: number;
}

interface AttemptWaiter {
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * A dedicated connection that LISTENs, reconnecting with exponential backoff
 * (with jitter, so a restarted database is not hit by every worker at once)
 * until closed. Not a pool client: a LISTEN belongs to one session, and
 * holding a pool's client for ever would shrink the user's pool.
 */
export class Listener {
  private client: pg.Client | undefined;
  private attempt: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private started = false;
  private closed = false;
  private readonly waiters = new Set<AttemptWaiter>();

  constructor(private readonly options: ListenerOptions) {}

  /** The listening connection, when up; lookups triggered by a NOTIFY can run on it. */
  get connection(): pg.Client | undefined {
    return this.client;
  }

  /**
   * Starts the connect loop if needed. Resolves once listening (and the
   * resync after connecting has run); rejects if the next attempt fails, while
   * the loop keeps retrying in the background.
   */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('jobterm: the kill store is closed'));
    if (this.client !== undefined && this.attempt === undefined) return Promise.resolve();
    const wait = new Promise<void>((resolve, reject) => this.waiters.add({ resolve, reject }));
    if (!this.started) {
      this.started = true;
      this.connect();
    }
    return wait;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.settleWaiters(new Error('jobterm: the kill store was closed'));
    await this.attempt;
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) await endOnce(client);
  }

  private connect(): void {
    this.attempt = this.tryConnect().finally(() => {
      this.attempt = undefined;
    });
  }

  private async tryConnect(): Promise<void> {
    const { options } = this;
    const client = options.makeClient();
    let dropped = false;
    let listening = false;
    const drop = (error: unknown) => {
      if (dropped) return;
      dropped = true;
      client.off('notification', onNotification);
      if (this.client === client) this.client = undefined;
      void endOnce(client);
      if (this.closed) return;
      if (listening) {
        options.onError(
          new Error('jobterm: lost the LISTEN connection; reconnecting (polling meanwhile)', { cause: error }),
        );
      }
      this.scheduleRetry();
    };
    const onNotification = (message: pg.Notification) => options.onNotification(message.channel, message.payload ?? '');
    // An 'error' listener must exist for the client's whole life: pg emits one when the server ends the session.
    client.on('error', drop);
    client.on('end', () => drop(new Error('connection ended')));
    client.on('notification', onNotification);
    try {
      await client.connect();
      await client.query(options.channels.map((channel) => `LISTEN ${quoteIdentifier(channel)}`).join('; '));
    } catch (error) {
      const first = this.failures++ === 0;
      drop(error);
      // Whoever waits on start() gets the error; otherwise report the first failure of an outage only.
      if (!this.settleWaiters(error) && first) options.onError(error);
      else options.logger.debug('LISTEN connection attempt failed', { error, attempt: this.failures });
      return;
    }
    if (this.closed || dropped) {
      if (!dropped) await endOnce(client);
      return;
    }
    listening = true;
    this.failures = 0;
    this.client = client;
    options.logger.debug('listening for kill requests', { channels: options.channels });
    try {
      await options.onConnected();
    } catch (error) {
      // The connection stays: polling retries the resync.
      if (!this.settleWaiters(error)) options.onError(error);
      return;
    }
    this.settleWaiters();
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    const { reconnectDelay, maxReconnectDelay } = this.options;
    const base = Math.min(maxReconnectDelay, reconnectDelay * 2 ** Math.min(this.failures, 20));
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.closed) this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  /** Returns whether anyone was waiting. */
  private settleWaiters(error?: unknown): boolean {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const waiter of waiters) {
      if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
    return waiters.length > 0;
  }
}

const ending = new WeakMap<pg.Client, Promise<void>>();

/** pg writes a second Terminate message if end() is called twice; both callers get the first one's promise. */
function endOnce(client: pg.Client): Promise<void> {
  let promise = ending.get(client);
  if (promise === undefined) {
    promise = client.end().catch(() => undefined);
    ending.set(client, promise);
  }
  return promise;
}
