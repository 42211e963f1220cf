// The worker side of the BullMQ suite's kill latency, in its own OS process,
// on the Redis store. stdin: `run <i>` starts a long job `bench#<i>`.
// stdout: JSON lines `{ e: 'started' | 'fired' | 'settled' | 'raw', i, t }`,
// `t` on the clock both processes share (performance.timeOrigin + performance.now()).
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { silentLogger } from '../../src/core/logger.js';
import { redisStore } from '../../src/stores/redis/index.js';
import { createTerminator } from '../../src/terminator/terminator.js';

const url = process.env.REDIS_URL!;
const now = () => performance.timeOrigin + performance.now();
const send = (message: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(message)}\n`);

const terminator = createTerminator({
  store: redisStore({ connection: url, prefix: process.env.STORE_PREFIX!, logger: silentLogger }),
  logger: silentLogger,
  workerId: 'bench-worker',
});
await terminator.whenReady();

// The reference: a bare SUBSCRIBE client, as a hand-written pub/sub consumer would have.
const raw = new Redis(url);
raw.on('message', (_channel, message) => send({ e: 'raw', i: message, t: now() }));
await raw.subscribe(`${process.env.STORE_PREFIX}:bench_raw`);

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
    void Promise.all([terminator.close(), raw.quit()]).then(() => process.exit(0));
  }
});
send({ e: 'ready' });
