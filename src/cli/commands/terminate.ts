import { hostname, userInfo } from 'node:os';
import pg from 'pg';
import { formatRef, type JobRef, validateJobRef } from '../../core/job-ref.js';
import { DEFAULTS, MAX_REASON_LENGTH, reasonMessage } from '../../core/options.js';
import { createTerminator, type TerminateResult } from '../../core/terminator.js';
import { APPLICATION_NAME } from '../../stores/postgres/store.js';
import {
  type Command,
  cliLogger,
  cliStore,
  DATABASE_HELP,
  DATABASE_OPTIONS,
  databaseUrl,
  EXIT,
  guarded,
  type Io,
  parse,
  UsageError,
} from '../common.js';
import { adapterFor } from '../queues.js';
import { parseRefString } from '../ref-string.js';

const OPTIONS = {
  ...DATABASE_OPTIONS,
  name: { type: 'string' },
  reason: { type: 'string' },
  wait: { type: 'boolean' },
  timeout: { type: 'string' },
  force: { type: 'boolean' },
} as const;

export const terminateCommand: Command = {
  name: 'terminate',
  summary: 'terminate one job, wherever it runs or before it starts',
  help: `Usage: jobterm terminate <queue> <job-id> [options]
       jobterm terminate <job> [options]

Stores a kill request for the job and announces it to every worker. The
worker running the job fires its termination token; if none runs it yet, it
is stopped when a worker starts it. The request lasts 7 days.

  <queue>               the queue system: graphile-worker, pg-boss, or your own
  <job-id>              the job's id in that queue
  <job>                 a job as 'jobterm jobs' prints it: queue#id or queue/name#id

Options:
  --name <queue name>   the queue within the system, where ids are per queue (pg-boss)
  --reason <text>       why, recorded on the request and in the queue (at most ${MAX_REASON_LENGTH} characters)
  --wait                wait until a worker confirms the job ended
  --timeout <ms>        how long --wait waits (default ${DEFAULTS.waitTimeout})
  --force               hard stop now: escalate at once instead of after killTimeout
                        (for a job already terminating that does not stop)
${DATABASE_HELP}

Exit status: 0 terminated or requested; 1 not found, already finished or
timed out; 2 usage error; 3 failure (e.g. database unreachable).`,
  run: (args, io) =>
    guarded('terminate', io, async () => {
      const { values, positionals } = parse(args, OPTIONS);
      if (values.help) {
        io.stdout(terminateCommand.help);
        return EXIT.ok;
      }
      if (positionals.length !== 2 && positionals.length !== 1) {
        throw new UsageError(
          `expected <queue> <job-id> or a <job> as 'jobterm jobs' prints it, got ${positionals.length} arguments`,
        );
      }
      // One argument: the JOB column of `jobterm jobs` (queue#id, queue/name#id).
      if (positionals.length === 1 && values.name !== undefined) {
        throw new UsageError("--name goes with <queue> <job-id>; a job from 'jobterm jobs' already names its queue");
      }
      const [queue, id] = positionals as [string, string];
      // Everything is checked before a connection is opened, so bad input writes nothing.
      const ref = validateJobRef(
        positionals.length === 1
          ? parseRefString(queue)
          : values.name === undefined
            ? { queue, id }
            : { queue, id, name: values.name },
        'job',
      );
      const reason = reasonMessage('reason', values.reason, 'terminated from the jobterm CLI');
      const wait = values.wait ?? false;
      if (values.timeout !== undefined && !wait) throw new UsageError('--timeout applies only with --wait');
      const timeout = values.timeout === undefined ? DEFAULTS.waitTimeout : parseTimeout(values.timeout);
      const connectionString = databaseUrl(values, io.env);
      const logger = cliLogger(io.env);
      const requestedBy = cliUser();

      const pool = new pg.Pool({
        connectionString,
        max: 2,
        connectionTimeoutMillis: 10_000,
        application_name: `${APPLICATION_NAME}:cli`,
      });
      pool.on('error', (error) => logger.debug('idle connection lost', { error }));
      try {
        const store = cliStore(values, io, { pool });
        const adapter = await adapterFor(ref.queue, pool);
        const terminator = createTerminator({
          store,
          logger,
          workerId: requestedBy,
          ...(adapter === undefined ? {} : { adapters: [adapter] }),
        });
        try {
          const result = await terminator.terminate(ref, {
            reason,
            requestedBy,
            wait,
            timeout,
            ...(values.force ? { force: true } : {}),
          });
          return report(result, { timeout, json: values.json ?? false }, io);
        } finally {
          await terminator.close();
        }
      } finally {
        await pool.end().catch(() => undefined);
      }
    }),
};

function parseTimeout(text: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) > 2_147_483_647) {
    throw new UsageError(`--timeout must be a whole number of milliseconds, got '${text}'`);
  }
  return Number(text);
}

function report(result: TerminateResult, options: { timeout: number; json: boolean }, io: Io): number {
  const code = result.status === 'terminated' || result.status === 'requested' ? EXIT.ok : EXIT.notDone;
  if (options.json) {
    io.stdout(JSON.stringify({ status: result.status, job: jobJson(result.ref), requestId: result.requestId ?? null }));
    return code;
  }
  const job = formatRef(result.ref);
  const request = result.requestId === undefined ? '' : ` (request ${result.requestId})`;
  switch (result.status) {
    case 'terminated':
      io.stdout(`terminated ${job}${request}`);
      break;
    case 'requested':
      io.stdout(`requested termination of ${job}: its worker stops it, or it stops when it starts${request}`);
      break;
    case 'already_finished':
      io.stdout(`already finished: ${job}`);
      break;
    case 'not_found':
      io.stdout(`not found: ${job}`);
      break;
    case 'timed_out':
      io.stdout(`timed out after ${options.timeout} ms waiting for ${job}; the request stays in force${request}`);
      break;
  }
  return code;
}

function jobJson(ref: JobRef) {
  return { queue: ref.queue, name: ref.name ?? null, id: ref.id };
}

/** `cli:user@host`, as recorded in `requested_by`. */
function cliUser(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry for the uid (common in containers).
    user = process.env.USER ?? process.env.LOGNAME ?? `uid${process.getuid?.() ?? ''}`;
  }
  return `cli:${user}@${hostname()}`.slice(0, 200);
}
