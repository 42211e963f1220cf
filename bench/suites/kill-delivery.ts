/**
 * Kill delivery latency: from the `terminate()` call in one process to the
 * job's token firing in another, beside the raw one-way latency of an
 * INSERT+NOTIFY to a bare LISTEN client in that same other process, measured
 * alternately in the same run. Both ends read the same clock
 * (performance.timeOrigin + performance.now()), so one-way times need no echo.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { silentLogger } from '../../src/core/logger.js';
import { postgresStore } from '../../src/stores/postgres/index.js';
import { createTerminator } from '../../src/terminator/terminator.js';
import type { BenchSuite, Figure } from '../lib/types.js';
import { connectWorker } from '../lib/worker-messages.js';

const workerScript = fileURLToPath(new URL('../workers/kill-delivery-worker.ts', import.meta.url));
const now = () => performance.timeOrigin + performance.now();

export const killDelivery: BenchSuite = {
  name: 'kill-delivery',
  async run(ctx) {
    const n = ctx.quick ? 50 : 1_000;
    const warmup = ctx.quick ? 5 : 50;
    const { url } = await ctx.createDatabase('jobterm_bench_kill');
    const store = postgresStore({ connectionString: url, receiveRequests: false, logger: silentLogger });
    await store.migrate();
    const requester = createTerminator({ store, logger: silentLogger, workerId: 'bench-requester' });
    const raw = new pg.Client({ connectionString: url });
    await raw.connect();
    await raw.query('CREATE TABLE bench_raw (id bigserial PRIMARY KEY, payload text NOT NULL)');

    const child = spawn(process.execPath, ['--import', 'tsx', workerScript], {
      env: { ...process.env, DATABASE_URL: url },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const next = connectWorker(child, 'kill-delivery worker');
    const delivery: number[] = [];
    const reference: number[] = [];
    try {
      await next('ready', '', 30_000);
      for (let round = 0; round < warmup + n; round++) {
        const measured = round >= warmup;
        // Reference: one statement inserting a row and notifying, as the store does.
        const r = `r${round}`;
        const rawStart = now();
        await raw.query(
          `WITH row AS (INSERT INTO bench_raw (payload) VALUES ($1) RETURNING payload)
           SELECT pg_notify('bench_raw', payload) FROM row`,
          [r],
        );
        const rawSeen = await next('raw', r);
        if (measured) reference.push(rawSeen.t! - rawStart);

        const i = String(round);
        child.stdin!.write(`run ${i}\n`);
        await next('started', i);
        const start = now();
        await requester.terminate({ queue: 'bench', id: i });
        const fired = await next('fired', i);
        if (measured) delivery.push(fired.t! - start);
        // Let the worker finish its writes (delivered, resolved) before the next round.
        await next('settled', i);
        if (measured && (round - warmup + 1) % 250 === 0) ctx.log(`${round - warmup + 1}/${n}`);
      }
    } finally {
      child.stdin!.write('exit\n');
      await new Promise((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => resolve(clearTimeout(timer)));
      });
      await raw.end();
      await requester.close();
    }
    const figure: Figure = {
      name: 'kill delivery: terminate() -> token fired in another process',
      unit: 'ms',
      samples: delivery,
      reference: { name: 'raw INSERT+NOTIFY -> bare LISTEN client in another process', samples: reference },
      lowerIsBetter: true,
      goal: 'p50 within 2x of raw; p99 < 5 ms',
      notes:
        'Sequential: one job running, one request at a time, rounds alternating with the reference. ' +
        'Delivery adds the worker reading the row the NOTIFY names (the payload is trusted for nothing).',
    };
    return [figure];
  },
};
