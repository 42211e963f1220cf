// The workers of the fleet benchmark: STORES kill stores in one OS process,
// each opened as a worker opens it (full load, LISTEN, polling every second),
// sharing one pg pool so 50 simulated workers fit PostgreSQL's connection
// limit. env: DATABASE_URL, STORES, INCREMENTAL (1|0), MAX_OPEN (a number or
// Infinity). stdout: `{ e: 'ready' }`, then `{ e: 'got', i, t }` when the first
// store learns a request for queue `trace` (t on the clock both processes share).
import pg from 'pg';
import { silentLogger } from '../../src/core/logger.js';
import { type PostgresStore, postgresStore } from '../../src/stores/postgres/index.js';

const env = process.env;
const now = () => performance.timeOrigin + performance.now();
const send = (message: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(message)}\n`);

const pool = new pg.Pool({ connectionString: env.DATABASE_URL!, max: 8 });
pool.on('error', () => {});
const count = Number(env.STORES ?? 1);
const stores: PostgresStore[] = [];
for (let i = 0; i < count; i++) {
  const store = postgresStore({
    pool,
    logger: silentLogger,
    migrate: false,
    incrementalPoll: env.INCREMENTAL === '1',
    maxOpenInMemory: Number(env.MAX_OPEN ?? 10_000),
  });
  await store.open({
    onRequest:
      i === 0
        ? (request) => {
            if (request.ref.queue === 'trace') send({ e: 'got', i: request.ref.id, t: now() });
          }
        : () => {},
  });
  stores.push(store);
}
send({ e: 'ready' });
process.stdin.resume();
process.stdin.on('end', async () => {
  for (const store of stores) await store.close();
  await pool.end();
  process.exit(0);
});
