// The worker side of the kill-delivery benchmark, in its own OS process.
// stdin: `run <i>` starts a long job `bench#<i>`. stdout: JSON lines
// `{ e: 'started' | 'fired' | 'settled' | 'raw', i, t }`, `t` on the clock both
// processes share (performance.timeOrigin + performance.now()).
import { createInterface } from 'node:readline';
import pg from 'pg';
import { silentLogger } from '../../src/core/logger.js';
import { postgresStore } from '../../src/stores/postgres/index.js';
import { createTerminator } from '../../src/terminator/terminator.js';

const url = process.env.DATABASE_URL!;
const now = () => performance.timeOrigin + performance.now();
const send = (message: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(message)}\n`);

const terminator = createTerminator({
  store: postgresStore({ connectionString: url, logger: silentLogger }),
  logger: silentLogger,
  workerId: 'bench-worker',
});
await terminator.whenReady();

// The reference: a bare LISTEN client, as a hand-written NOTIFY consumer would have.
const raw = new pg.Client({ connectionString: url });
await raw.connect();
raw.on('notification', (message) => send({ e: 'raw', i: message.payload, t: now() }));
await raw.query('LISTEN bench_raw');

createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, i] = line.split(' ');
  if (command === 'run' && i !== undefined) {
    void terminator
      .run({ queue: 'bench', id: i }, (token) => {
        send({ e: 'started', i });
        return new Promise<void>((_resolve, reject) => {
          token.signal.addEventListener(
            'abort',
            () => {
              send({ e: 'fired', i, t: now() });
              reject(token.signal.reason);
            },
            { once: true },
          );
        });
      })
      .then(() => send({ e: 'settled', i }));
  } else if (command === 'exit') {
    void Promise.all([terminator.close(), raw.end()]).then(() => process.exit(0));
  }
});
send({ e: 'ready' });
