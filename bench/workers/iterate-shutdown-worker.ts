// The worker side of the iterate-shutdown benchmark, in its own OS process:
// graphile-worker 0.18 (jobterm's plugin) or pg-boss 12 (pgBossJobterm), per
// JT_QUEUE, with the PostgreSQL store and jobterm's own SIGTERM handling.
// A job `{ iterate: true }` runs iterate() over an endless source, one
// database round trip per item (as a backfill does), saving its cursor every
// 250 ms and when it stops; a job `{ iterate: false }` waits for its token and throws.
// Queue `bench_iterate` on both. stdout: JSON lines (test/support/processes.ts):
// `ready`, then `running` `{ i: job id }` once the job is under way.
import { Logger, run } from 'graphile-worker';
import pg from 'pg';
import { type Job, PgBoss } from 'pg-boss';
import { makeJobtermPreset } from '../../src/adapters/graphile-worker/index.js';
import { pgBossJobterm } from '../../src/adapters/pg-boss/index.js';
import { silentLogger } from '../../src/core/logger.js';
import type { TerminationToken } from '../../src/core/token.js';
import { iterate } from '../../src/iteration/index.js';
import { postgresStore } from '../../src/stores/postgres/index.js';
import { createTerminator } from '../../src/terminator/terminator.js';
import { report } from '../../test/support/processes.js';

const url = process.env.DATABASE_URL!;
const queue = process.env.JT_QUEUE;

const db = new pg.Pool({ connectionString: url, max: 2 });
const terminator = createTerminator({
  store: postgresStore({ connectionString: url, migrate: false, logger: silentLogger }),
  handleSignals: true,
  shutdownTimeout: 10_000,
  logger: silentLogger,
});

async function job(id: string, iterating: boolean, token: TerminationToken): Promise<void> {
  if (!iterating) {
    report('running', { i: id });
    await new Promise((resolve) => token.signal.addEventListener('abort', resolve, { once: true }));
    token.throwIfTerminating();
  }
  let done = 0;
  await iterate<number, number>({
    async *source(cursor) {
      for (let i = (cursor ?? 0) + 1; ; i++) yield { item: i, cursor: i };
    },
    async each(i) {
      await db.query('SELECT $1::int', [i]);
      // Running for a while, with its loop warm, before the bench sends SIGTERM.
      if (++done === 500) report('running', { i: id });
    },
    // Saves by time only, every 250 ms (its connection stays warm, as with
    // the default every 100 items); the bench sends SIGTERM right after one,
    // so the next save it sees is the stop's.
    saveEvery: { items: 1_000_000_000, ms: 250 },
  });
}

terminator.on('error', ({ error, during }) =>
  process.stderr.write(`jobterm error during ${during}: ${String(error)}\n`),
);
await terminator.whenReady();
if (queue === 'graphile-worker') {
  await run({
    connectionString: url,
    concurrency: 1,
    pollInterval: 100,
    logger: new Logger(() => () => {}),
    taskList: {
      bench_iterate: (payload, helpers) =>
        job(String(helpers.job.id), (payload as { iterate: boolean }).iterate, helpers.jobterm.token),
    },
    preset: makeJobtermPreset({ terminator }),
  });
} else if (queue === 'pg-boss') {
  const boss = new PgBoss({ connectionString: url, schedule: false, supervise: false, useListenNotify: true });
  boss.on('error', () => {});
  const jt = pgBossJobterm({ boss, terminator });
  await boss.start();
  await boss.work<{ iterate: boolean }>(
    'bench_iterate',
    { pollingIntervalSeconds: 0.5 },
    jt.handler<Job<{ iterate: boolean }>>(async ([j]) => job(j!.id, j!.data.iterate, j!.token)),
  );
} else {
  throw new Error(`JT_QUEUE must be graphile-worker or pg-boss, got ${queue}`);
}
report('ready');
