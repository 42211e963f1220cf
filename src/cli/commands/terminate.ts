import { hostname, userInfo } from 'node:os';
import pg from 'pg';
import { formatRef, type JobRef, validateJobRef } from '../../core/job-ref.js';
import { DEFAULTS, MAX_REASON_LENGTH, reasonMessage } from '../../core/options.js';
import { APPLICATION_NAME } from '../../stores/postgres/store.js';
import { createTerminator, type TerminateResult } from '../../terminator/terminator.js';
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
import { bullmqCliAdapter, cliRedisStore, REDIS_HELP, REDIS_OPTIONS, redisTarget } from '../redis.js';
import { parseRefString } from '../ref-string.js';

const OPTIONS = {
  ...DATABASE_OPTIONS,
  ...REDIS_OPTIONS,
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

  <queue>               the queue system: graphile-worker, pg-boss, bullmq, or your own
  <job-id>              the job's id in that queue (graphile-worker: an integer;
                        pg-boss: a UUID, in any case, with or without hyphens;
                        bullmq: the job id, --name its queue)
  <job>                 a job as 'jobterm jobs' prints it: queue#id or queue/name#id

For graphile-worker, pg-boss and bullmq the job is looked up in the queue's own
tables, in the same database ($GRAPHILE_WORKER_SCHEMA or graphile_worker;
$PGBOSS_SCHEMA or pgboss; BullMQ in Redis, --redis-url): a request is stored only for a job the queue holds
(queued, waiting for a retry, or running), and a queued job is cancelled at
once. Jobs of other queue systems get the request stored as given.

Options:
  --name <queue name>   the queue within the system, where ids are per queue (pg-boss, bullmq)
  --reason <text>       why, recorded on the request and in the queue (at most ${MAX_REASON_LENGTH} characters)
  --wait                wait until a worker confirms the job ended
  --timeout <ms>        how long --wait waits (default ${DEFAULTS.waitTimeout})
  --force               hard stop now: escalate at once instead of after killTimeout
                        (for a job already terminating that does not stop)
${DATABASE_HELP}
${REDIS_HELP}

Exit status: 0 terminated or requested; 1 not found, already finished or
timed out; 2 usage error; 3 failure (e.g. database unreachable).`,
  run: (args, io) =>
    guarded('terminate', io, async () => {
      const { values, positionals } = parse(args, OPTIONS);
      if (values.help) {
        io.stdout(terminateCommand.help);
        return EXIT.ok;
      }
      const oneJob = positionals.length === 1 && positionals[0]!.includes('#');
      if (positionals.length !== 2 && !oneJob) {
        throw new UsageError(
          `expected <queue> <job-id>, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'} (or one job as 'jobterm jobs' prints it: queue#id)`,
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
      const logger = cliLogger(io.env);
      const requestedBy = cliUser();
      const redisUrl = redisTarget(values, io.env, ref.queue);
      if (redisUrl !== undefined) {
        // BullMQ users without PostgreSQL: the Redis store, and BullMQ's adapter on the same Redis.
        const store = cliRedisStore(redisUrl, values, io.env, logger);
        const adapter = ref.queue === 'bullmq' ? await bullmqCliAdapter(redisUrl, values, io.env) : undefined;
        const terminator = createTerminator({
          store,
          logger,
          workerId: requestedBy,
          ...(adapter === undefined ? {} : { adapters: [adapter] }),
        });
        try {
          const result = await terminator.terminate(ref, { reason, requestedBy, wait, timeout });
          return report(result, { timeout, json: values.json ?? false }, io);
        } finally {
          await terminator.close();
          await adapter?.close();
        }
      }
      const connectionString = databaseUrl(values, io.env);

      const pool = new pg.Pool({
        connectionString,
        max: 2,
        connectionTimeoutMillis: 10_000,
        application_name: `${APPLICATION_NAME}:cli`,
      });
      pool.on('error', (error) => logger.debug('idle connection lost', { error }));
      try {
        const store = cliStore(values, io, { pool });
        const adapter = await adapterFor(ref.queue, pool, io.env);
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
