import { expected } from '../core/errors.js';
import type { JsonValue } from '../core/progress.js';

/**
 * Refuses a cursor JSON cannot hold as it is (undefined, functions, bigints,
 * NaN, Infinity, Dates, Maps, cycles), so a bad cursor fails where it is
 * saved instead of coming back changed after a restart.
 */
export function checkCursor(value: unknown, path = 'cursor', seen = new Set<object>()): JsonValue {
  if (typeof value === 'string') return storableString(path, value);
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw expected(path, 'a JSON value (a finite number)', value);
    return value;
  }
  if (Array.isArray(value)) {
    if (seen.has(value)) throw expected(path, 'a JSON value without cycles', 'a cycle');
    seen.add(value);
    for (const [index, item] of value.entries()) checkCursor(item, `${path}[${index}]`, seen);
    seen.delete(value);
    return value as JsonValue;
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw expected(path, 'a JSON value (plain objects, arrays, strings, finite numbers, booleans, null)', value);
    }
    if (seen.has(value)) throw expected(path, 'a JSON value without cycles', 'a cycle');
    seen.add(value);
    for (const [key, item] of Object.entries(value)) {
      storableString(`${path} key`, key);
      checkCursor(item, `${path}.${key}`, seen);
    }
    seen.delete(value);
    return value as JsonValue;
  }
  throw expected(path, 'a JSON value (plain objects, arrays, strings, finite numbers, booleans, null)', value);
}

/**
 * PostgreSQL's jsonb (where postgresStore() keeps cursors) refuses `\u0000`
 * and unpaired surrogates with a raw "invalid input syntax for type json":
 * refuse them here, named, before anything is written.
 */
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function storableString(path: string, value: string): string {
  if (value.includes('\0') || UNPAIRED_SURROGATE.test(value)) {
    throw expected(path, 'a JSON value whose strings hold no NUL and no unpaired surrogate', value);
  }
  return value;
}
