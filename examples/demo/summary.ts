// The closing table: every job's final state, read from the queues' own
// tables (graphile_worker.jobs, pgboss.job), checked against what the demo
// set out to show. graphile-worker deletes a job's row when it completes, so
// for graphile "no row" is what completed looks like.
import type pg from 'pg';
import { type DemoJob, shortId } from './jobs.js';

export interface SummaryRow {
  readonly job: DemoJob;
  readonly state: string;
  readonly attempts: string;
  readonly detail: string;
  readonly ok: boolean;
}

interface GraphileRow {
  id: string;
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  locked_at: Date | null;
}

interface BossRow {
  id: string;
  state: string;
  retry_count: number;
  started_on: Date | null;
  output: unknown;
}

export async function readSummary(pool: pg.Pool, jobs: readonly DemoJob[]): Promise<SummaryRow[]> {
  const graphileIds = jobs.filter((job) => job.ref.queue === 'graphile-worker').map((job) => job.ref.id);
  const bossIds = jobs.filter((job) => job.ref.queue === 'pg-boss').map((job) => job.ref.id);
  const graphile = await pool.query<GraphileRow>(
    `select id::text, attempts, max_attempts, last_error, locked_at
       from graphile_worker.jobs where id = any($1::bigint[])`,
    [graphileIds],
  );
  const boss = await pool.query<BossRow>(
    'select id::text, state, retry_count, started_on, output from pgboss.job where id = any($1::uuid[])',
    [bossIds],
  );
  return jobs.map((job) => {
    if (job.ref.queue === 'graphile-worker')
      return graphileRow(
        job,
        graphile.rows.find((r) => r.id === job.ref.id),
      );
    return bossRow(
      job,
      boss.rows.find((r) => r.id === job.ref.id),
    );
  });
}

function graphileRow(job: DemoJob, row: GraphileRow | undefined): SummaryRow {
  if (row === undefined) {
    return {
      job,
      state: 'completed (row deleted)',
      attempts: '-',
      detail: '-',
      ok: job.expect === 'completed',
    };
  }
  const forGood = row.attempts >= row.max_attempts;
  const state = row.locked_at ? 'locked (running)' : forGood ? 'failed for good' : 'queued';
  const terminated = forGood && !row.locked_at && (row.last_error ?? '').startsWith('Terminated:');
  return {
    job,
    state,
    attempts: `${row.attempts}/${row.max_attempts}`,
    detail: row.last_error ?? '-',
    ok: (job.expect === 'terminated' || job.expect === 'never-ran') && terminated,
  };
}

function bossRow(job: DemoJob, row: BossRow | undefined): SummaryRow {
  if (row === undefined) return { job, state: 'no row', attempts: '-', detail: '-', ok: false };
  const output = row.output as { message?: string } | null;
  const detail = typeof output?.message === 'string' ? output.message : JSON.stringify(row.output);
  const started = row.started_on !== null;
  const ok =
    job.expect === 'completed'
      ? row.state === 'completed'
      : row.state === 'cancelled' && detail.startsWith('Terminated:') && started === (job.expect === 'terminated');
  return {
    job,
    state: `${row.state}${started ? '' : ', never started'}`,
    attempts: `${row.retry_count} retries`,
    detail,
    ok,
  };
}

/** The table as text lines; `mark` paints ✓ / ✗. */
export function formatSummary(rows: readonly SummaryRow[], mark: (ok: boolean) => string): string[] {
  const header = ['QUEUE', 'JOB', 'WHAT THE DEMO DID', 'FINAL STATE', 'ATTEMPTS', 'LAST_ERROR / OUTPUT', ''];
  const body = rows.map((row) => [
    row.job.ref.queue + (row.job.ref.name ? `/${row.job.ref.name}` : ''),
    `${shortId(row.job.ref.id)} ${row.job.label}`,
    row.job.plan,
    row.state,
    row.attempts,
    cut(row.detail, 50),
    mark(row.ok),
  ]);
  const widths = header.map((_, column) => Math.max(...[header, ...body].map((cells) => visible(cells[column]!))));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell + ' '.repeat(widths[column]! - visible(cell)))
      .join('  ')
      .trimEnd();
  return [line(header), ...body.map(line)];
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Length without colour codes. */
function visible(text: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes
  return text.replace(/\x1b\[\d+m/g, '').length;
}
