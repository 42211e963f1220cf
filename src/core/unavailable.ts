/**
 * The errors jobterm raises when it cannot use a database: one class for
 * "unreachable" wherever jobterm talks to one (the kill store, the adapters'
 * pools, the Redis store), one for "reachable, but the queue's tables cannot
 * be read". Made where the failure is seen, with the driver's error as
 * `cause`; check them by `name`.
 */

/** The database could not be reached: refused, unknown host, timed out, authentication, missing database, shutting down. */
export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError' as const;
}

/**
 * True for a {@link DatabaseUnavailableError}, by name, so two copies of
 * jobterm agree. Also true for `StoreUnavailableError`, the name jobterm 0.1
 * gave it when only the kill store raised it.
 */
export function isDatabaseUnavailableError(error: unknown): error is DatabaseUnavailableError {
  const name = typeof error === 'object' && error !== null ? (error as { name?: unknown }).name : undefined;
  return name === 'DatabaseUnavailableError' || name === 'StoreUnavailableError';
}

/**
 * The queue's database answered, but its tables could not be read (missing
 * schema or table, no permission): `terminate()` stores nothing, since it
 * cannot tell whether the job exists. The message names the queue, the schema
 * it looked in and what to check.
 */
export class QueueUnreadableError extends Error {
  override readonly name = 'QueueUnreadableError' as const;
}

export function isQueueUnreadableError(error: unknown): error is QueueUnreadableError {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'QueueUnreadableError';
}

/**
 * Node's socket errors (ECONNREFUSED, ENOTFOUND, ETIMEDOUT, ...), and
 * PostgreSQL's connection exceptions (08), invalid authorization (28), a
 * missing database (3D000), and a server shutting down (57P01-57P03: what a
 * pooled connection reports when the server restarts or an admin ends it).
 */
export function isPostgresConnectionFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    return /^E[A-Z]+$/.test(code) || /^(08|28)/.test(code) || code === '3D000' || /^57P0[123]$/.test(code);
  }
  const message = error instanceof Error ? error.message : '';
  // pg's own timeout and lost-connection errors carry no code.
  return /timeout exceeded when trying to connect|Connection terminated/.test(message);
}

/** PostgreSQL's "this table or schema is not there" (42P01, 3F000) and "not allowed" (42501). */
export function isPostgresUnreadable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '42P01' || code === '3F000' || code === '42501';
}

/** Wraps a PostgreSQL connection failure in a one-line DatabaseUnavailableError naming where; other errors pass through. */
export function describePostgresFailure(error: unknown, where: string): unknown {
  if (!isPostgresConnectionFailure(error) || isDatabaseUnavailableError(error)) return error;
  const code = (error as { code?: unknown }).code;
  // Node's AggregateError (IPv4 and IPv6 both refused) has an empty message.
  const reason = (error instanceof Error && error.message.split('\n')[0]) || String(code ?? error);
  return new DatabaseUnavailableError(`jobterm: could not reach PostgreSQL at ${where}: ${reason}`, { cause: error });
}

/** What a pg pool or client config points at, as host:port/database, for error messages; never the password. */
export function describePostgresTarget(config: {
  connectionString?: string | undefined;
  host?: string | undefined;
  port?: number | string | undefined;
  database?: string | undefined;
}): string {
  if (config.connectionString !== undefined) {
    try {
      const url = new URL(config.connectionString);
      return `${url.hostname || 'localhost'}:${url.port || '5432'}${url.pathname}`;
    } catch {
      return 'the configured server';
    }
  }
  const host = config.host ?? process.env.PGHOST ?? 'localhost';
  const port = config.port ?? process.env.PGPORT ?? 5432;
  const database = config.database ?? process.env.PGDATABASE ?? '';
  return `${host}:${port}/${database}`;
}
