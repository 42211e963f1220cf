/**
 * The kill store could not reach PostgreSQL (refused, unknown host, timed
 * out, authentication, missing database). Made where the failure is seen, with
 * pg's error as `cause`; check it by `name`.
 */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError' as const;
}

export function isStoreUnavailableError(error: unknown): error is StoreUnavailableError {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'StoreUnavailableError';
}

/**
 * Node's socket errors (ECONNREFUSED, ENOTFOUND, ETIMEDOUT, ...), and
 * PostgreSQL's connection exceptions (08), invalid authorization (28), a
 * missing database (3D000), and a server shutting down (57P01-57P03).
 */
function isConnectionFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    return /^E[A-Z]+$/.test(code) || /^(08|28)/.test(code) || code === '3D000' || /^57P0[123]$/.test(code);
  }
  const message = error instanceof Error ? error.message : '';
  // pg's own timeout and lost-connection errors carry no code.
  return /timeout exceeded when trying to connect|Connection terminated/.test(message);
}

/** Wraps a connection failure in a one-line StoreUnavailableError naming where; other errors pass through. */
export function describeFailure(error: unknown, where: string): unknown {
  if (!isConnectionFailure(error) || isStoreUnavailableError(error)) return error;
  const code = (error as { code?: unknown }).code;
  // Node's AggregateError (IPv4 and IPv6 both refused) has an empty message.
  const reason = (error instanceof Error && error.message.split('\n')[0]) || String(code ?? error);
  return new StoreUnavailableError(`jobterm: could not reach PostgreSQL at ${where}: ${reason}`, { cause: error });
}
