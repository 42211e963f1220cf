import type { JobRef } from './job-ref.js';

/** What a cursor may be: anything JSON can hold, so it survives a restart as it was saved. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * Where `iterate()` keeps a job's cursor between runs. `postgresStore()`
 * provides one in jobterm's schema (its `progress` property).
 */
export interface ProgressStore {
  /** The cursor saved for this job, or undefined when none is. */
  load(ref: JobRef): Promise<JsonValue | undefined>;
  save(ref: JobRef, cursor: JsonValue): Promise<void>;
  /** Forgets the job's cursor (the iteration completed). */
  clear(ref: JobRef): Promise<void>;
}

/**
 * Keeps cursors in this process's memory: for tests and for jobs that need
 * resuming only within one process lifetime. Not durable.
 */
export function memoryProgressStore(): ProgressStore & { readonly size: number } {
  const cursors = new Map<string, string>();
  const key = (ref: JobRef) => JSON.stringify([ref.queue, ref.name ?? null, ref.id]);
  return {
    async load(ref) {
      const saved = cursors.get(key(ref));
      return saved === undefined ? undefined : (JSON.parse(saved) as JsonValue);
    },
    async save(ref, cursor) {
      cursors.set(key(ref), JSON.stringify(cursor));
    },
    async clear(ref) {
      cursors.delete(key(ref));
    },
    get size() {
      return cursors.size;
    },
  };
}
