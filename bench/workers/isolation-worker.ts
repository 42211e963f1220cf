// The worker side of the isolation benchmark's end-to-end figure, in its own
// OS process: a terminator with the PostgreSQL store and killTimeout 0.
// stdin `run <i>` starts job `bench#<i>`, a CPU-bound isolated loop deaf to
// its token (runner from RUNNER). stdout: JSON lines `{ e: 'started' | 'fired'
// | 'gone' | 'settled', i, t }` on the clock both processes share.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { silentLogger } from '../../src/core/logger.js';
import { isolated } from '../../src/isolation/index.js';
import type { IsolatePool } from '../../src/isolation/pool.js';
import { resourcesOf } from '../../src/middleware/run-job.js';
import { postgresStore } from '../../src/stores/postgres/index.js';
import { createTerminator } from '../../src/terminator/terminator.js';

const url = process.env.DATABASE_URL!;
const runner = process.env.RUNNER === 'process' ? 'process' : 'thread';
const now = () => performance.timeOrigin + performance.now();
const send = (message: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(message)}\n`);
const dir = mkdtempSync(join(tmpdir(), 'jobterm-bench-'));

const terminator = createTerminator({
  store: postgresStore({ connectionString: url, logger: silentLogger }),
  logger: silentLogger,
  workerId: 'bench-isolation-worker',
  killTimeout: 0,
});
await terminator.whenReady();
const spin = isolated(new URL('../fixtures/isolated-bench.mjs', import.meta.url), {
  runner,
  exportName: 'spin',
  size: 1,
  execArgv: [],
});
let current: string | undefined;
let watching = false;

createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, i] = line.split(' ');
  if (command === 'run' && i !== undefined) {
    current = i;
    void terminator
      .run({ queue: 'bench', id: i }, async (token) => {
        token.signal.addEventListener('abort', () => send({ e: 'fired', i, t: now() }), { once: true });
        const laps = new SharedArrayBuffer(4);
        const marker = join(dir, i);
        const call = spin(runner === 'thread' ? { laps } : { marker });
        // The pool exists once the first call made it.
        if (!watching) {
          watching = true;
          for (const pool of resourcesOf(token)?.all() ?? []) {
            (pool as IsolatePool).onGone(() => send({ e: 'gone', i: current, t: now() }));
          }
        }
        const view = new Int32Array(laps);
        while (runner === 'thread' ? Atomics.load(view, 0) === 0 : !existsSync(marker)) {
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        send({ e: 'started', i });
        return call;
      })
      .then(() => send({ e: 'settled', i }));
  } else if (command === 'exit') {
    void terminator.shutdown().then(async () => {
      await terminator.close();
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  }
});
send({ e: 'ready' });
