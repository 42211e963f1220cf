/**
 * `jobterm/pg-boss`: job termination for pg-boss 12 workers. Loads no
 * pg-boss code of its own (it works on the `PgBoss` you pass), so it runs
 * from jobterm's CommonJS build as well as from ESM.
 */
export { PG_BOSS_QUEUE, type PgBossAdapter, type PgBossAdapterOptions, pgBossAdapter } from './adapter.js';
export {
  type EachJobOptions,
  type PgBossHandler,
  type PgBossJobterm,
  type PgBossJobtermOptions,
  pgBossJobterm,
} from './jobterm.js';
export { FENCED_OFF } from './settle.js';
export type { JobWithToken, PgBossDb, PgBossJob, PgBossJobResult, PgBossLike } from './types.js';
