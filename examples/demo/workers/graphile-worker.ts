// A graphile-worker 0.18 process with jobterm, as the demo runs it (gw-1,
// gw-2). Every task gets a termination token through the plugin; SIGTERM is
// jobterm's: stop fetching, fire the tokens, wait `shutdownTimeout`, put the
// jobs that are still running back in the queue, exit.
//
// env: DATABASE_URL, DEMO_NAME (e.g. gw-1), DEMO_STANDBY=1 (load, then wait
// for a line on stdin before starting to fetch jobs: the demo's rolling
// deploy starts this worker at a moment of its choosing without paying for
// the process start then).
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { type JobHelpers, Logger, run, type Task } from 'graphile-worker';
import { makeJobtermPreset } from '../../../src/adapters/graphile-worker/index.js';
import { createTerminator } from '../../../src/index.js';
import { postgresStore } from '../../../src/stores/postgres/index.js';
import { report, reportingLogger } from '../protocol.js';
import { type BackfillPayload, backfill } from './backfill.js';
import { reportTerminatorEvents } from './terminator-events.js';

const connectionString = process.env.DATABASE_URL;
if (!connectionString) throw new Error('set DATABASE_URL');
const name = process.env.DEMO_NAME ?? `gw-${process.pid}`;
const concurrency = 3;
const shutdownTimeout = 2_000;

const terminator = createTerminator({
  // The demo ran the migration; workers only use the schema.
  store: postgresStore({ connectionString, migrate: false, logger: reportingLogger }),
  // jobterm owns SIGTERM/SIGINT (the plugin turns graphile's own handlers off).
  handleSignals: true,
  shutdownTimeout,
  killTimeout: 2_000,
  workerId: name,
  logger: reportingLogger,
});
reportTerminatorEvents(terminator);

/** Reports the moment the job's token fires, as the job itself sees it. */
function watchToken(helpers: JobHelpers, event = 'signal'): () => void {
  return helpers.jobterm.token.onTerminate((reason) =>
    report(event, { id: helpers.job.id, kind: reason.kind, message: reason.message }),
  );
}

function reportStart(helpers: JobHelpers): void {
  const { job } = helpers;
  report('job-start', {
    id: job.id,
    task: job.task_identifier,
    attempt: job.attempts,
    maxAttempts: job.max_attempts,
    lastError: job.last_error,
  });
}

/** A long export that stops as soon as its token fires: the signal goes to everything it awaits. */
const exportTask: Task = async (payload, helpers) => {
  reportStart(helpers);
  const stopWatching = watchToken(helpers);
  try {
    const { seconds } = payload as { seconds: number };
    for (let step = 0; step < seconds * 4; step++) {
      // Rejects with an AbortError the moment the token fires; jobterm counts it as the termination.
      await sleep(250, undefined, { signal: helpers.jobterm.signal });
    }
  } finally {
    stopWatching();
  }
};

const backfillTask: Task = async (payload, helpers) => {
  reportStart(helpers);
  await backfill(payload as BackfillPayload, helpers);
};

/** A job that never looks at its token (a legacy call that cannot be interrupted). */
const stubbornTask: Task = async (payload, helpers) => {
  reportStart(helpers);
  const stopWatching = watchToken(helpers, 'ignoring');
  try {
    const { seconds } = payload as { seconds: number };
    await new Promise((resolve) => setTimeout(resolve, seconds * 1_000));
  } finally {
    stopWatching();
  }
};

// graphile's own log lines would interleave with the timeline: keep warnings and errors only. (The
// jobs jobterm ends are logged at info under the plugin, and the timeline shows them anyway.)
const logger = new Logger(() => (level, message) => {
  if (level !== 'error' && level !== 'warning') return;
  report('log', { level, message: `graphile-worker: ${message}` });
});

if (process.env.DEMO_STANDBY === '1') {
  report('standby', { pid: process.pid });
  process.stdin.resume();
  await once(process.stdin, 'data');
  process.stdin.pause();
}

const runner = await run({
  connectionString,
  concurrency,
  // Jobs put back after a shutdown are UPDATEs, which graphile does not announce: poll often.
  pollInterval: 500,
  logger,
  taskList: { export: exportTask, backfill: backfillTask, stubborn: stubbornTask },
  // The one line jobterm adds.
  preset: makeJobtermPreset({ terminator }),
});
runner.events.on('job:success', ({ job }) => report('completed', { id: job.id }));
report('ready', { pid: process.pid, queue: 'graphile-worker', concurrency, shutdownTimeout });
