// The worker side of the pg-boss cancel-to-signal benchmark, in its own OS
// process. Two queues: `bare` runs a plain pg-boss handler with heartbeats at
// pg-boss's fastest documented setting, `wrapped` runs jobterm's handler.
// Each job waits for its job.signal. stdout: JSON lines
// `{ e: 'ready' | 'started' | 'fired' | 'settled', i, t }`, `t` on the clock
// both processes share (performance.timeOrigin + performance.now()).
import { PgBoss } from 'pg-boss';
import { pgBossJobterm } from '../../src/adapters/pg-boss/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { postgresStore } from '../../src/stores/postgres/index.js';
import { createTerminator } from '../../src/terminator/terminator.js';

const url = process.env.DATABASE_URL!;
const now = () => performance.timeOrigin + performance.now();
const send = (message: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(message)}\n`);

const boss = new PgBoss({ connectionString: url, schedule: false, supervise: false, useListenNotify: true });
boss.on('error', () => {});
const terminator = createTerminator({
  store: postgresStore({ connectionString: url, logger: silentLogger }),
  logger: silentLogger,
  workerId: 'bench-pg-boss-worker',
});
const jt = pgBossJobterm({ boss, terminator });
await boss.start();
await terminator.whenReady();

const waitForSignal = (signal: AbortSignal) =>
  new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
const poll = { pollingIntervalSeconds: 0.5, notifyPollingIntervalSeconds: 0.5 };
await boss.work('bare', poll, async ([job]) => {
  send({ e: 'started', i: job!.id, t: now() });
  await waitForSignal(job!.signal);
  send({ e: 'fired', i: job!.id, t: now() });
});
await boss.work(
  'wrapped',
  poll,
  jt.handler(async ([job]) => {
    send({ e: 'started', i: job!.id, t: now() });
    await waitForSignal(job!.signal);
    send({ e: 'fired', i: job!.id, t: now() });
    job!.token.throwIfTerminating();
  }),
);
terminator.on('terminated', ({ ref }) => send({ e: 'settled', i: ref.id, t: now() }));
process.stdin.on('data', () => {});
process.stdin.on('end', async () => {
  await terminator.shutdown({ timeout: 1_000 });
  await terminator.close();
  process.exit(0);
});
send({ e: 'ready' });
