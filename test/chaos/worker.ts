// One chaos worker process: a queue's worker with jobterm (the PostgreSQL
// store, jobterm's own SIGTERM handling), running the jobs of jobs.ts and
// logging every start and end to `chaos.events`. What it reports on stdout
// (JSON lines, test/support/processes.ts) is about the process itself: ready
// with its lock ids, anything that would crash it, and the state it leaves
// at the end of a graceful shutdown.
//
// env: DATABASE_URL, CHAOS_QUEUE, CHAOS_CONCURRENCY, CHAOS_SHUTDOWN_TIMEOUT, CHAOS_KILL_TIMEOUT.
import { setTimeout as sleep } from 'node:timers/promises';
import { postgresStore } from '../../src/stores/postgres/index.js';
import { createTerminator } from '../../src/terminator/terminator.js';
import { report } from '../support/processes.js';
import { QUEUES } from './adapters/index.js';
import { EventLog } from './event-log.js';
import { runChaosJob } from './jobs.js';

const env = process.env;
// Every connection of this process is named after it, so the controller's connection kills say whose they were.
const url = withApplicationName(env.DATABASE_URL!, `chaos-worker ${process.pid}`);
const queue = QUEUES[env.CHAOS_QUEUE ?? ''];
if (queue === undefined) throw new Error(`unknown CHAOS_QUEUE ${env.CHAOS_QUEUE}`);

// (f): whatever would crash a worker, or a listener leak warning, is reported, never swallowed.
process.on('unhandledRejection', (error) => {
  report('crash', { what: 'unhandledRejection', error: String((error as Error)?.stack ?? error) });
});
process.on('uncaughtException', (error) => {
  report('crash', { what: 'uncaughtException', error: String(error?.stack ?? error) });
  process.exit(70);
});
process.on('warning', (warning) => {
  report('warning', { name: warning.name, message: warning.message });
});

const log = new EventLog(url);
const logger = {
  debug() {},
  info() {},
  warn: (message: string, meta?: unknown) => process.stderr.write(`[jobterm warn] ${message} ${safe(meta)}\n`),
  error: (message: string, meta?: unknown) => process.stderr.write(`[jobterm error] ${message} ${safe(meta)}\n`),
};
const terminator = createTerminator({
  store: postgresStore({ connectionString: url, pollInterval: 500, logger }),
  handleSignals: true,
  shutdownTimeout: Number(env.CHAOS_SHUTDOWN_TIMEOUT ?? 3_000),
  killTimeout: Number(env.CHAOS_KILL_TIMEOUT ?? 1_000),
  workerId: `chaos-${env.CHAOS_QUEUE}-${process.pid}`,
  logger,
});
// The middleware's outcome of a run that did not complete, after its queue write.
for (const event of ['terminated', 'interrupted'] as const) {
  terminator.on(event, ({ ref, reason, escalated }) => {
    void log.event(ref.id, '', 'settled', { status: event, kind: reason.kind, escalated });
  });
}
terminator.on('unresponsive', ({ ref, reason }) => {
  void log.event(ref.id, '', 'unresponsive', { kind: reason.kind });
});
terminator.on('error', ({ error, during, ref }) =>
  report('jobterm-error', { during, ref: ref?.id ?? null, error: String(error) }),
);
terminator.on('shutdown:end', (summary) => {
  // Written synchronously: jobterm exits the process right after this event's shutdown() resolves.
  report('shutdown-end', {
    jobs: summary.jobs.length,
    running: terminator.running().length,
    sigtermListeners: process.listenerCount('SIGTERM'),
    lostEvents: log.lost,
  });
});
// jobterm's signal handler exits once shutdown() resolves; the log's retries must land first.
// The `terminated`/`interrupted` events of the last jobs may come a tick after the jobs' ends that
// shutdown() awaited: let them be emitted, then wait for their writes.
terminator.addShutdownParticipant({
  afterJobs: async () => {
    await sleep(100);
    await log.flush();
  },
});

/** Exit code of a worker that could not start (its database unreachable, e.g. during the restart). */
const START_FAILED = 75;
try {
  await terminator.whenReady();
  const lockIds = await queue.worker({
    url,
    terminator,
    concurrency: Number(env.CHAOS_CONCURRENCY ?? 4),
    runJob: (payload, jobId) => runChaosJob(payload, jobId, log),
    report,
  });
  report('ready', { pid: process.pid, lockIds });
} catch (error) {
  // Like a process under a supervisor: a worker that cannot reach its database at start exits, to be restarted.
  report('start-failed', { error: String(error) });
  process.exit(START_FAILED);
}

function safe(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v) => (v instanceof Error ? String(v) : v));
  } catch {
    return String(value);
  }
}

function withApplicationName(base: string, name: string): string {
  const parsed = new URL(base);
  parsed.searchParams.set('application_name', name);
  return parsed.toString();
}
