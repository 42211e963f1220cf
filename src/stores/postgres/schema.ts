import { createHash } from 'node:crypto';
import { expected } from '../../core/errors.js';

/** What a schema name must look like: a plain lower-case SQL identifier, never quoted by the user. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Names every SQL statement of one store uses, validated and quoted once. */
export interface SchemaNames {
  /** The schema name as given, e.g. `jobterm`. */
  readonly schema: string;
  /** Quoted, for SQL text: `"jobterm"`. */
  readonly quotedSchema: string;
  /** `"jobterm"."kill_requests"` */
  readonly requests: string;
  /** `"jobterm"."progress"`: iterate()'s cursors */
  readonly progress: string;
  /** `"jobterm"."migrations"` */
  readonly migrations: string;
  /** `"jobterm"."mark_delivered"`: how workers record a delivery (migration 3). */
  readonly markDelivered: string;
  /** `"jobterm"."resolve_request"`: how workers record an outcome (migration 3). */
  readonly resolveRequest: string;
  /** Short and unique per schema, for names PostgreSQL limits to 63 bytes (prepared statements). */
  readonly hash: string;
  /** NOTIFY channel announcing a new (or repeated) request; the payload is its id. */
  readonly requestChannel: string;
  /** NOTIFY channel announcing a resolved request; the payload is its id. */
  readonly resolvedChannel: string;
  /** NOTIFY channel asking for a hard stop now (`terminate({ force })`) under an open request; the payload is its id. */
  readonly forceChannel: string;
}

export function validateSchemaName(value: unknown, what = 'schema'): string {
  if (typeof value !== 'string' || !SCHEMA_NAME.test(value)) {
    throw expected(what, 'a lower-case SQL identifier matching /^[a-z_][a-z0-9_]{0,62}$/', value);
  }
  return value;
}

export function schemaNames(schema: string): SchemaNames {
  validateSchemaName(schema);
  // Validated above, and quoted anyway: a reserved word such as `user` is a valid schema name only when quoted.
  const quotedSchema = quoteIdentifier(schema);
  return {
    schema,
    quotedSchema,
    requests: `${quotedSchema}.${quoteIdentifier('kill_requests')}`,
    progress: `${quotedSchema}.${quoteIdentifier('progress')}`,
    migrations: `${quotedSchema}.${quoteIdentifier('migrations')}`,
    markDelivered: `${quotedSchema}.${quoteIdentifier('mark_delivered')}`,
    resolveRequest: `${quotedSchema}.${quoteIdentifier('resolve_request')}`,
    hash: shortHash(schema),
    requestChannel: channelName(schema, 'kill_request'),
    resolvedChannel: channelName(schema, 'kill_resolved'),
    forceChannel: channelName(schema, 'kill_force'),
  };
}

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * One channel per schema, so two stores in one database never wake each
 * other. PostgreSQL refuses channel names of 64 bytes or more in
 * `pg_notify()` (and truncates them in `LISTEN`), so a long schema name is
 * shortened and made unique with a hash.
 */
export function channelName(schema: string, suffix: string): string {
  const full = `${schema}:${suffix}`;
  if (full.length <= 63) return full;
  const hash = shortHash(schema);
  return `${schema.slice(0, 63 - suffix.length - hash.length - 2)}~${hash}:${suffix}`;
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}
