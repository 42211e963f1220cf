// The chaos suite's own tables, in schema `chaos` of each adapter's database:
// what the controller enqueued, every start and end of every job (written by
// the workers, each write retried through connection kills and the server
// restart), and every item an iterate() job processed.

export const CHAOS_SCHEMA_SQL = `
  CREATE SCHEMA IF NOT EXISTS chaos;
  CREATE TABLE IF NOT EXISTS chaos.jobs (
    job_id text PRIMARY KEY,
    kind text NOT NULL,
    payload jsonb NOT NULL,
    enqueued_at_ms bigint NOT NULL
  );
  CREATE TABLE IF NOT EXISTS chaos.events (
    seq bigserial PRIMARY KEY,
    job_id text NOT NULL,
    run_id text NOT NULL,
    event text NOT NULL,
    pid integer NOT NULL,
    at_ms bigint NOT NULL,
    detail jsonb NOT NULL DEFAULT '{}'
  );
  CREATE TABLE IF NOT EXISTS chaos.items (
    job_id text NOT NULL,
    item integer NOT NULL,
    run_id text NOT NULL,
    at_ms bigint NOT NULL
  );
`;

export interface EventRow {
  job_id: string;
  run_id: string;
  event: 'start' | 'body-end' | 'settled';
  pid: number;
  at_ms: number;
  detail: Record<string, unknown>;
}
