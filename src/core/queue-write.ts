/**
 * Retries of the writes that end a job in its queue's own storage (the
 * adapters' `settle`). A write that fails because the database is briefly
 * unreachable (a restart, a failover, an ended connection) is tried again
 * with backoff: given up at once, the job would stay locked by this worker
 * (graphile-worker 0.18: for 4 hours) or `active` (pg-boss 12: until its
 * expiry, which then retries it), though jobterm had ended it.
 */

/** How a queue write is retried; one DEFAULTS, documented in docs/queue-writes.md. */
export interface QueueWriteRetry {
  /** Give up once this many ms have passed since the first failure. */
  readonly limitMs: number;
  /** The first pause; each next one doubles, up to `maxDelayMs`, with jitter. */
  readonly firstDelayMs: number;
  readonly maxDelayMs: number;
}

export const QUEUE_WRITE_RETRY: QueueWriteRetry = Object.freeze({
  limitMs: 30_000,
  firstDelayMs: 100,
  maxDelayMs: 2_000,
});

/**
 * A failure to reach the database, as opposed to a statement it refused:
 * Node's socket errors, PostgreSQL's connection exceptions (class 08), a
 * server shutting down, crashing or starting (57P01-57P03: what a pooled
 * connection reports when the server restarts or an admin ends it), pg's
 * code-less "Connection terminated" and connect timeout, and jobterm's own
 * `DatabaseUnavailableError` (by name). Authentication and a missing
 * database are not transient and are not retried.
 */
export function isTransientConnectionFailure(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, name, message, errors } = error as {
    code?: unknown;
    name?: unknown;
    message?: unknown;
    errors?: unknown;
  };
  if (name === 'DatabaseUnavailableError') return true;
  if (typeof code === 'string') {
    if (
      /^(ECONNREFUSED|ECONNRESET|ECONNABORTED|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENETDOWN|EAI_AGAIN)$/.test(code)
    ) {
      return true;
    }
    if (/^08/.test(code) || /^57P0[123]$/.test(code)) return true;
  }
  // Node's AggregateError when every address of the host refused (IPv4 and IPv6).
  if (Array.isArray(errors) && errors.length > 0 && errors.every(isTransientConnectionFailure)) return true;
  return (
    typeof message === 'string' &&
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(
      message,
    )
  );
}

/**
 * Runs `write`, and again after a pause while it fails with a transient
 * connection failure, until `policy.limitMs` has passed since the first
 * failure; then rejects with the last error. Any other error rejects at once.
 * `write` must be safe to run twice: a retry may follow a statement that
 * committed but whose answer was lost with the connection.
 */
export async function retryWhileUnreachable<T>(
  write: () => Promise<T>,
  policy: QueueWriteRetry = QUEUE_WRITE_RETRY,
): Promise<T> {
  let firstFailure: number | undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (!isTransientConnectionFailure(error)) throw error;
      const now = Date.now();
      firstFailure ??= now;
      const pause = Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** attempt) * (0.5 + Math.random() / 2);
      if (now + pause - firstFailure > policy.limitMs) throw error;
      // A referenced timer: a write still to land must keep the process alive.
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}
