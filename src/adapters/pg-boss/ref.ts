import { expected } from '../../core/errors.js';
import type { JobRef } from '../../core/job-ref.js';

/** The `queue` of every pg-boss job reference: `{ queue: 'pg-boss', name: <queue name>, id }`. */
export const PG_BOSS_QUEUE = 'pg-boss';

/** 32 hex digits, hyphens where a UUID has them or none, optionally in braces: the spellings PostgreSQL's uuid input takes. */
const WRITTEN_UUID = /^\{?([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})\}?$/i;

/** pg-boss 12's own rule for queue names (`assertObjectName` in its attorney.js). */
const QUEUE_NAME = /^[\w.\-/]+$/;

/**
 * A pg-boss id as pg-boss hands it to handlers (PostgreSQL's uuid output:
 * lower case, hyphenated), from any spelling PostgreSQL would accept; undefined
 * when it cannot be a uuid.
 */
export function canonicalUuid(id: string): string | undefined {
  const match = WRITTEN_UUID.exec(id);
  if (match === null) return undefined;
  // Braces only in pairs, as PostgreSQL requires.
  if (id.startsWith('{') !== id.endsWith('}')) return undefined;
  return match.slice(1, 6).join('-').toLowerCase();
}

/** pg-boss ids are uuids; anything else cannot name a pg-boss job. */
export function isUuid(id: string): boolean {
  return canonicalUuid(id) !== undefined;
}

/** pg-boss job references name their queue: ids are only unique within one (the primary key is `(name, id)`). */
export function queueName(ref: JobRef): string {
  if (ref.name === undefined) {
    throw expected('job.name', "the pg-boss queue name (`{ queue: 'pg-boss', name, id }`)", ref.name);
  }
  return ref.name;
}

/**
 * The reference as pg-boss's own jobs carry it, so that a stored kill matches
 * the running job's token: the id in canonical uuid form, the queue name
 * checked by pg-boss's rule. Throws a TypeError naming the field otherwise.
 */
export function canonicalPgBossRef(ref: JobRef): JobRef {
  if (ref.queue !== PG_BOSS_QUEUE) throw expected('job.queue', `'${PG_BOSS_QUEUE}'`, ref.queue);
  const name = queueName(ref);
  if (!QUEUE_NAME.test(name)) {
    throw expected('job.name', 'a pg-boss queue name (letters, digits, _ . - /)', name);
  }
  const id = canonicalUuid(ref.id);
  if (id === undefined) throw expected('job.id', 'a pg-boss job id (a UUID)', ref.id);
  return { queue: PG_BOSS_QUEUE, name, id };
}
