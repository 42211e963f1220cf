// The BullMQ Worker process of the instructions suite (bench/suites/
// instructions-bullmq.ts), run under `valgrind --tool=callgrind
// --instr-atstart=no`: the whole worker process's instructions per job. A
// real Worker on a real Redis with a no-op processor that declares no signal
// (as the throughput bench's), removeOnComplete; bare, or (side `jt`)
// wrapped by jt.processor() and attached, on a terminator with the Redis
// store, as users run it. The suite adds the jobs from its own process, so
// adding them is not counted here.
//
// argv: <REDIS_URL> <queue name> <key prefix> <concurrency> <warm-up jobs> <bare|jt>
// Prints {"e":"ready"} once the warm-up jobs have completed (the suite then
// switches instrumentation on and adds the counted jobs), and {"e":"counted",
// "i":"<n>"} each time the completed count reaches a multiple of the counted
// batch the suite announces on stdin ("count <n>").
import { createInterface } from 'node:readline';
import { Worker } from 'bullmq';
import { bullmqJobterm } from '../../dist/bullmq.js';
import { createTerminator } from '../../dist/index.js';
import { redisStore } from '../../dist/redis.js';

const [url, name, prefix, concurrencyArg, warmArg, side] = process.argv.slice(2);
const concurrency = Number(concurrencyArg);
const warm = Number(warmArg);
const print = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);

const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };
const terminator =
  side === 'jt'
    ? createTerminator({
        store: redisStore({ connection: url, prefix: `${prefix}-jt`, logger: silentLogger }),
        logger: silentLogger,
      })
    : undefined;
await terminator?.whenReady();
const jt = terminator === undefined ? undefined : bullmqJobterm({ terminator });
const noop = async () => 'ok';
const { hostname, port } = new URL(url);
const worker = new Worker(name, jt === undefined ? noop : jt.processor(noop), {
  connection: { host: hostname, port: Number(port), maxRetriesPerRequest: null },
  prefix,
  concurrency,
});
jt?.attach(worker);
worker.on('error', () => {});
let completed = 0;
let target = warm;
worker.on('completed', () => {
  if (++completed === target)
    print(completed === warm ? { e: 'ready' } : { e: 'counted', i: String(completed - warm) });
});

createInterface({ input: process.stdin }).on('line', async (line) => {
  const [command, n] = line.split(' ');
  if (command === 'count') target = warm + Number(n);
  if (command === 'exit') {
    await worker.close();
    await jt?.dispose();
    await terminator?.close();
    process.exit(0);
  }
});
