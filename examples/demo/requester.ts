// The "API server" of the demo: a process that runs no jobs and only
// terminates them through jobterm's API, the way a web app's "cancel" button
// would. It reads one request a line on stdin, `{ ref, reason, wait }`, and
// reports when it called `terminate()` and what came back.
//
// env: DATABASE_URL.
import { createInterface } from 'node:readline';
import { graphileWorkerAdapter } from '../../src/adapters/graphile-worker/index.js';
import { pgBossAdapter } from '../../src/adapters/pg-boss/index.js';
import { createTerminator, type JobRef } from '../../src/index.js';
import { postgresStore } from '../../src/stores/postgres/index.js';
import { report, reportingLogger } from './protocol.js';

const connectionString = process.env.DATABASE_URL;
if (!connectionString) throw new Error('set DATABASE_URL');

const graphile = graphileWorkerAdapter({ connectionString });
const boss = pgBossAdapter({ connectionString });
const terminator = createTerminator({
  // Requests only: no LISTEN connection until it waits for a confirmation.
  store: postgresStore({ connectionString, migrate: false, receiveRequests: false, logger: reportingLogger }),
  // They answer already_finished / not_found and cancel jobs that have not started.
  adapters: [graphile, boss],
  logger: reportingLogger,
});
await terminator.whenReady();
report('ready', { pid: process.pid });

for await (const line of createInterface({ input: process.stdin })) {
  const { ref, reason, wait } = JSON.parse(line) as { ref: JobRef; reason: string; wait: boolean };
  report('request', { ref, wait });
  try {
    const result = await terminator.terminate(ref, { reason, requestedBy: 'api', wait, timeout: 20_000 });
    report('result', { ref, status: result.status, requestId: result.requestId ?? null });
  } catch (error) {
    report('result', { ref, status: 'error', message: (error as Error).message });
  }
}
await terminator.close();
await graphile.close();
await boss.close();
