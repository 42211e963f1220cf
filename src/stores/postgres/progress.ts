import type pg from 'pg';
import { validateJobRef } from '../../core/job-ref.js';
import type { JsonValue, ProgressStore } from '../../core/progress.js';
import type { SchemaNames } from './schema.js';

/**
 * iterate()'s cursors in `<schema>.progress`, one row per job that stopped
 * before finishing. Reached through `postgresStore().progress`, which the
 * terminator uses by default. `ready` runs the store's migration first;
 * `db` turns connection failures into the store's one-line errors.
 */
export function makeProgressStore(
  pool: pg.Pool,
  names: SchemaNames,
  ready: () => Promise<void>,
  db: <T>(fn: () => Promise<T>) => Promise<T>,
): ProgressStore {
  const key = (ref: Parameters<ProgressStore['load']>[0]) => {
    const checked = validateJobRef(ref);
    return [checked.queue, checked.name ?? '', checked.id];
  };
  return {
    async load(ref) {
      const params = key(ref);
      await ready();
      const { rows } = await db(() =>
        pool.query<{ cursor: JsonValue }>(
          `SELECT cursor FROM ${names.progress} WHERE queue = $1 AND queue_name = $2 AND job_id = $3`,
          params,
        ),
      );
      return rows[0]?.cursor;
    },
    async save(ref, cursor) {
      const params = [...key(ref), JSON.stringify(cursor)];
      await ready();
      await db(() =>
        pool.query(
          `INSERT INTO ${names.progress} AS p (queue, queue_name, job_id, cursor) VALUES ($1, $2, $3, $4::jsonb)
           ON CONFLICT (queue, queue_name, job_id)
           DO UPDATE SET cursor = EXCLUDED.cursor, saves = p.saves + 1, updated_at = now()`,
          params,
        ),
      );
    },
    async clear(ref) {
      const params = key(ref);
      await ready();
      await db(() =>
        pool.query(`DELETE FROM ${names.progress} WHERE queue = $1 AND queue_name = $2 AND job_id = $3`, params),
      );
    },
  };
}
