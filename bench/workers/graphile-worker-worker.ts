// The worker side of the graphile-worker kill latency benchmark, in its own
// OS process: a graphile-worker runner with jobterm's plugin and the
// PostgreSQL store. Each `wait` job reports its start, waits for its token,
// and throws. stdout: JSON lines `{ e: 'ready' | 'started' | 'fired' |
// 'settled', i, t }`, `t` on the clock both processes share
// (performance.timeOrigin + performance.now()).
import { Logger, run } from 'graphile-worker';
import { makeJobtermPreset } from '../../src/adapters/graphile-worker/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { postgresStore } from '../../src/stores/postgres/index.js';
import { createTerminator } from '../../src/terminator/terminator.js';

const url = process.env.DATABASE_URL!;
const now = () => performance.timeOrigin + performance.now();
const send = (message: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(message)}\n`);

const terminator = createTerminator({
  store: postgresStore({ connectionString: url, logger: silentLogger }),
  logger: silentLogger,
  workerId: 'bench-graphile-worker',
});
terminator.on('terminated', ({ ref }) => send({ e: 'settled', i: ref.id, t: now() }));

const runner = await run({
  connectionString: url,
  concurrency: 1,
  // New jobs arrive by graphile's LISTEN/NOTIFY; polling is only its fallback.
  pollInterval: 2_000,
  noHandleSignals: true,
  logger: new Logger(() => () => {}),
  taskList: {
    wait: async (_payload, helpers) => {
      send({ e: 'started', i: helpers.job.id, t: now() });
      const { signal } = helpers.jobterm;
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      send({ e: 'fired', i: helpers.job.id, t: now() });
      helpers.jobterm.token.throwIfTerminating();
    },
  },
  preset: makeJobtermPreset({ terminator }),
});
await terminator.whenReady();

process.stdin.on('data', () => {});
process.stdin.on('end', async () => {
  await runner.stop();
  await terminator.close();
  process.exit(0);
});
send({ e: 'ready' });
