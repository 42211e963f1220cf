// What the demo process itself connects with, and the schemas it prepares
// before any worker starts: graphile-worker's, pg-boss's (and its queue),
// jobterm's (kill requests, iteration cursors), and the table the backfill
// walks.
import { Logger, makeWorkerUtils, type WorkerUtils } from 'graphile-worker';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { postgresStore } from '../../src/stores/postgres/index.js';

export interface Connections {
  /** For the demo's own reads: the summary, the backfill's table. */
  readonly pool: pg.Pool;
  /** graphile-worker's utilities: the demo adds jobs with them. */
  readonly utils: WorkerUtils;
  /** A pg-boss that only sends jobs (no workers, no supervisor). */
  readonly boss: PgBoss;
  close(): Promise<void>;
}

export async function prepare(
  connectionString: string,
  options: { queue: string; rows: number },
): Promise<Connections> {
  const pool = new pg.Pool({ connectionString, max: 3 });
  // The demo drops the database at the end; a connection cut then is expected.
  pool.on('error', () => {});
  const boss = new PgBoss({ connectionString, supervise: false, schedule: false });
  boss.on('error', () => {});
  const store = postgresStore({ connectionString, receiveRequests: false });
  // graphile's default logger would print the connection errors of the database drop at the end.
  const utils = await makeWorkerUtils({ connectionString, logger: new Logger(() => () => {}) });
  const close = async () => {
    await Promise.allSettled([utils.release(), boss.stop({ graceful: false }), store.close(), pool.end()]);
  };
  try {
    await Promise.all([
      utils.migrate(),
      boss.start().then(() => boss.createQueue(options.queue)),
      store.migrate(),
      pool.query(
        `create table demo_rows (id int primary key, visits int not null default 0);
         insert into demo_rows (id) select generate_series(1, ${Number(options.rows)});`,
      ),
    ]);
    await store.close();
  } catch (error) {
    await close();
    throw error;
  }
  return { pool, utils, boss, close };
}
