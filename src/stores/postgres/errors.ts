import {
  DatabaseUnavailableError,
  describePostgresFailure,
  isDatabaseUnavailableError,
} from '../../core/unavailable.js';

/**
 * The kill store could not reach PostgreSQL. The same class as core's
 * `DatabaseUnavailableError` (which the adapters raise too), kept under the
 * name `jobterm/postgres` exported first.
 */
export const StoreUnavailableError = DatabaseUnavailableError;
export type StoreUnavailableError = DatabaseUnavailableError;

/** Whether `error` is a `DatabaseUnavailableError` (by name). */
export const isStoreUnavailableError = isDatabaseUnavailableError;

/** Wraps a connection failure in a one-line DatabaseUnavailableError naming where; other errors pass through. */
export const describeFailure = describePostgresFailure;
