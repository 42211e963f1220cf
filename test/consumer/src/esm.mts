// What an ESM user writes: every subpath, the types a user names, and the
// `helpers.jobterm` that jobterm adds to graphile-worker's `JobHelpers`.
// The CommonJS files (cjs.cts, require.cts) do the same from require().
import type { Task } from 'graphile-worker';
import {
  createTerminator,
  currentToken,
  isJobTerminatedError,
  isTerminating,
  iterate,
  type JobRef,
  type TerminateResult,
  type TerminationReason,
  type TerminationToken,
} from 'jobterm';
import { makeJobtermPreset, wrapTaskList } from 'jobterm/graphile-worker';
import { type PgBossJob, type PgBossLike, pgBossJobterm } from 'jobterm/pg-boss';
import { postgresStore } from 'jobterm/postgres';

const connectionString = 'postgres://localhost/app';
const terminator = createTerminator({ store: postgresStore({ connectionString }), handleSignals: true });
// The README's "Seeing what it does" lines, as written there.
terminator.on('terminated', ({ ref, reason, escalated }) =>
  console.log('terminated', ref, reason.message, reason.requestedBy, { escalated }),
);
terminator.on('interrupted', ({ ref, reason, resumable }) =>
  console.log('interrupted', ref, reason.kind, { resumable }),
);
terminator.on('unresponsive', ({ ref }) =>
  console.warn('ignored its termination; its late result will be ignored', ref),
);
terminator.on('error', ({ error, during, ref }) => console.error(`jobterm ${during} error`, ref, error));
terminator.on('shutdown:end', ({ jobs, escalated, durationMs }) =>
  console.log(`shutdown: ${jobs.length} jobs, ${escalated} escalated, ${durationMs} ms`),
);
// docs/core.md's pino-style adapter (argument order swapped), with console standing in for pino.
const log = { debug: console.debug, info: console.info, warn: console.warn, error: console.error };
export const withLogger = createTerminator({
  logger: {
    debug: (msg, meta) => log.debug(meta ?? {}, msg),
    info: (msg, meta) => log.info(meta ?? {}, msg),
    warn: (msg, meta) => log.warn(meta ?? {}, msg),
    error: (msg, meta) => log.error(meta ?? {}, msg),
  },
});

const report: Task = async (_payload, helpers) => {
  const token: TerminationToken = helpers.jobterm.token;
  const signal: AbortSignal = helpers.jobterm.signal;
  if (isTerminating() || signal.aborted) token.throwIfTerminating();
};
export const preset = makeJobtermPreset({ terminator });
export const tasks = wrapTaskList({ report }, { terminator });

// pg-boss's own types are left out: pg-boss 12.38's declarations do not
// compile with skipLibCheck off (its manager.d.ts names a missing export).
type ReportJob = PgBossJob & { data: { rows: number } };
export function handler(boss: PgBossLike) {
  const jt = pgBossJobterm({ boss, terminator });
  return jt.handler<ReportJob>(async ([job]) => job?.token.reason?.kind ?? job?.data.rows);
}

export async function stop(ref: JobRef): Promise<TerminateResult> {
  const reason: TerminationReason | undefined = currentToken()?.reason;
  await iterate({ source: (after?: number) => [{ item: 1, cursor: (after ?? 0) + 1 }], each: () => {} });
  try {
    return await terminator.terminate(ref, { reason: reason?.message ?? 'test', wait: true });
  } catch (error) {
    if (isJobTerminatedError(error)) throw error;
    throw error;
  }
}
