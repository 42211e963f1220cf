// The bare BullMQ Worker of the instructions suite (bench/suites/
// instructions-bullmq.ts), run under `valgrind --tool=callgrind
// --instr-atstart=no`: the whole worker process's instructions per job, the
// figure jobterm's own per-job count is set beside. A real Worker on a real
// Redis with a no-op processor that declares no signal (as the throughput
// bench's), removeOnComplete; the suite adds the jobs from its own process,
// so adding them is not counted here.
//
// argv: <REDIS_URL> <queue name> <key prefix> <concurrency> <warm-up jobs>
// Prints {"e":"ready"} once the warm-up jobs have completed (the suite then
// switches instrumentation on and adds the counted jobs), and {"e":"counted",
// "i":"<n>"} each time the completed count reaches a multiple of the counted
// batch the suite announces on stdin ("count <n>").
import { createInterface } from 'node:readline';
import { Worker } from 'bullmq';

const [url, name, prefix, concurrencyArg, warmArg] = process.argv.slice(2);
const concurrency = Number(concurrencyArg);
const warm = Number(warmArg);
const print = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);

const { hostname, port } = new URL(url);
const worker = new Worker(name, async () => 'ok', {
  connection: { host: hostname, port: Number(port), maxRetriesPerRequest: null },
  prefix,
  concurrency,
});
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
    process.exit(0);
  }
});
