import { setTimeout as sleep } from 'node:timers/promises';
import type { FleetJob, FleetSnapshot } from '../../core/fleet.js';
import { formatRef } from '../../core/job-ref.js';
import { type Command, DATABASE_HELP, DATABASE_OPTIONS, EXIT, guarded, type Io, parse, UsageError } from '../common.js';
import { age } from '../fleet-format.js';
import { cliReadStore, REDIS_HELP, REDIS_OPTIONS } from '../redis.js';
import { table } from '../table.js';

const OPTIONS = {
  ...DATABASE_OPTIONS,
  ...REDIS_OPTIONS,
  queue: { type: 'string' },
  worker: { type: 'string' },
  watch: { type: 'boolean' },
} as const;

/** How often `--watch` redraws. */
const WATCH_INTERVAL = 1_000;
/** ANSI: cursor home, clear screen. */
const CLEAR = '\u001b[H\u001b[2J';

export const jobsCommand: Command = {
  name: 'jobs',
  summary: 'list the jobs running across the fleet',
  help: `Usage: jobterm jobs [options]

Lists the jobs every live worker runs, as its last heartbeat reported them
(fresh within one heartbeat, 5 s by default); kill states (requested,
signalled, escalated) are current. The JOB column is what 'jobterm terminate'
takes: jobterm terminate 'pg-boss/email#<id>'. BullMQ workers on the Redis
store: --redis-url (or REDIS_URL).

Options:
  --queue <queue>       only jobs of this queue system (graphile-worker, pg-boss, bullmq, ...)
  --worker <id>         only jobs of this worker (its id, as 'jobterm workers' shows it)
  --watch               redraw every second until Ctrl-C
${DATABASE_HELP}
${REDIS_HELP}`,
  run: (args, io) =>
    guarded('jobs', io, async () => {
      const { values, positionals } = parse(args, OPTIONS);
      if (values.help) {
        io.stdout(jobsCommand.help);
        return EXIT.ok;
      }
      if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
      if (values.watch && values.json) throw new UsageError('--watch and --json do not go together');
      const filters = {
        ...(values.queue === undefined ? {} : { queue: values.queue }),
        ...(values.worker === undefined ? {} : { worker: values.worker }),
      };
      // The Redis store for BullMQ workers on jobterm/redis (--redis-url, or REDIS_URL without DATABASE_URL).
      const store = cliReadStore(values, io);
      try {
        if (!values.watch) {
          const snapshot = await store.fleet(filters);
          io.stdout(values.json ? JSON.stringify(jobsJson(snapshot)) : render(snapshot));
          return EXIT.ok;
        }
        await watch(store, filters, io);
        return EXIT.ok;
      } finally {
        await store.close();
      }
    }),
};

/** Redraws until SIGINT or SIGTERM, then returns so the store is closed and the process ends by itself. */
async function watch(
  store: { fleet(filters: { queue?: string; worker?: string }): Promise<FleetSnapshot> },
  filters: { queue?: string; worker?: string },
  io: Io,
): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    while (!stop.signal.aborted) {
      const snapshot = await store.fleet(filters);
      io.stdout(`${CLEAR}${render(snapshot)}\n\nevery ${WATCH_INTERVAL / 1000}s, Ctrl-C to stop`);
      await sleep(WATCH_INTERVAL, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function render(snapshot: FleetSnapshot): string {
  const jobs = snapshot.workers.flatMap((worker) => worker.jobs);
  if (jobs.length === 0) return `no running jobs (${snapshot.workers.length} live workers)`;
  return table(
    ['JOB', 'TASK', 'WORKER', 'RUNNING', 'ATTEMPT', 'TERMINATION', 'REASON'],
    jobs.map((job) => [
      formatRef(job.ref),
      job.task ?? '-',
      job.workerId,
      age(job.startedAt, snapshot.at),
      job.attempt === undefined ? '-' : String(job.attempt),
      describeTermination(job),
      job.termination.message ?? '',
    ]),
    // The JOB column is what `jobterm terminate` takes: never cut.
    new Set([0]),
  );
}

function describeTermination(job: FleetJob): string {
  const { state, kind } = job.termination;
  if (state === 'none') return job.isolated === undefined ? '-' : `- (${job.isolated})`;
  return kind === undefined || kind === 'kill' ? state : `${state} (${kind})`;
}

function jobsJson(snapshot: FleetSnapshot) {
  return {
    at: snapshot.at,
    heartbeatInterval: snapshot.heartbeatInterval,
    jobs: snapshot.workers.flatMap((worker) =>
      worker.jobs.map((job) => ({ ...job, job: formatRef(job.ref), host: worker.host, pid: worker.pid })),
    ),
  };
}
