// A graphile-worker 0.18 runner with jobterm: every task gets a termination
// token, a kill from any process reaches it, and SIGTERM puts running jobs
// back in the queue at once without spending an attempt. Run by main.ts;
// `DATABASE_URL` names the database. (In your app, import from 'jobterm',
// 'jobterm/postgres' and 'jobterm/graphile-worker'.)
import { setTimeout as sleep } from 'node:timers/promises';
import { run } from 'graphile-worker';
import { makeJobtermPreset } from '../../src/adapters/graphile-worker/index.js';
import { createTerminator, isTerminating } from '../../src/index.js';
import { postgresStore } from '../../src/stores/postgres/index.js';

const connectionString = process.env.DATABASE_URL;
if (!connectionString) throw new Error('set DATABASE_URL');

const terminator = createTerminator({
  store: postgresStore({ connectionString }),
  // jobterm owns SIGTERM/SIGINT (the plugin turns graphile's handlers off).
  handleSignals: true,
  shutdownTimeout: 5_000,
});

await run({
  connectionString,
  concurrency: 2,
  pollInterval: 500,
  taskList: {
    report: async (payload, helpers) => {
      const { rows } = payload as { rows: number };
      const { job } = helpers;
      console.log(`[worker] job ${job.id} started (attempt ${job.attempts} of ${job.max_attempts})`);
      for (let row = 0; row < rows; row++) {
        // Stop between rows; helpers.jobterm.signal can also go to fetch() or a stream.
        if (isTerminating()) {
          console.log(`[worker] job ${job.id} stopping at row ${row}: ${helpers.jobterm.token.reason?.kind}`);
          helpers.jobterm.token.throwIfTerminating();
        }
        await sleep(100);
      }
      console.log(`[worker] job ${job.id} done`);
    },
  },
  // The one line that changes.
  preset: makeJobtermPreset({ terminator }),
});
console.log('[worker] ready');
