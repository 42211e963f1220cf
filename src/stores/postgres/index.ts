export { isStoreUnavailableError, StoreUnavailableError } from './errors.js';
export type { MigrationResult } from './migrate.js';
export { LATEST_VERSION } from './migrations.js';
export { POSTGRES_STORE_DEFAULTS, type PostgresStoreOptions } from './options.js';
export type { StoredKillRequest } from './requests.js';
export { type ListRequestsOptions, PostgresStore, postgresStore } from './store.js';
