import type { JobRef } from '../core/job-ref.js';
import { UsageError } from './common.js';

/**
 * Reads a job as `jobterm jobs` prints it (`formatRef()`): `queue#id` or
 * `queue/name#id`. A queue system's name never holds `/` or `#`; a queue name
 * may hold `/` (pg-boss allows it) but no `#`; the id is everything after the
 * first `#`, so ids may hold either.
 */
export function parseRefString(text: string): JobRef {
  const hash = text.indexOf('#');
  if (hash <= 0 || hash === text.length - 1) {
    throw new UsageError(`expected a job as 'jobterm jobs' prints it (queue#id or queue/name#id), got '${text}'`);
  }
  const head = text.slice(0, hash);
  const id = text.slice(hash + 1);
  const slash = head.indexOf('/');
  if (slash === -1) return { queue: head, id };
  if (slash === 0 || slash === head.length - 1) {
    throw new UsageError(`expected a job as 'jobterm jobs' prints it (queue#id or queue/name#id), got '${text}'`);
  }
  return { queue: head.slice(0, slash), name: head.slice(slash + 1), id };
}
