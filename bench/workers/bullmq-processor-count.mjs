// jobterm's own instructions per job on BullMQ's path: calls a BullMQ
// processor directly, bare or wrapped by jt.processor() (a terminator
// without a store), with BullMQ-shaped jobs, for N jobs after a warm-up. No
// Redis, no queue: what is left is jobterm's work around a job. The
// instructions suite runs it (bench/suites/instructions-bullmq.ts: `npm run
// bench -- instructions`, `BENCH_SHAPES=bullmq` for these rows alone); by
// hand, count it for two job counts per side and take the difference, which
// cancels Node's start-up and the warm-up (npm run build first):
//
//   for side in bare jt; do for n in 4000 16000; do
//     valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.$side.$n node \
//       --single-threaded --predictable-gc-schedule --no-incremental-marking \
//       --no-memory-reducer bench/workers/bullmq-processor-count.mjs $side $n
//   done; done
//   # per job = (totals of 16000 - totals of 4000) / 12000, for each side
//
// SHOW=1 prints CPU per job; SIGNAL=1 makes the processor declare BullMQ's signal.

import { bullmqJobterm } from '../../dist/bullmq.js';
import { createTerminator } from '../../dist/index.js';

const [side, jobsArg] = process.argv.slice(2);
const jobs = Number(jobsArg);
const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };
const terminator = createTerminator({ logger: silentLogger });
const jt = bullmqJobterm({ terminator });
// BullMQ 6.7 makes an AbortController per job, and hands its signal over,
// only for a processor that declares three parameters: as the throughput
// bench's `async () => 'ok'`, this one declares none (SIGNAL=1: three).
const noop = process.env.SIGNAL ? async (_job, _lockToken, _signal) => undefined : async () => undefined;
const processor = side === 'jt' ? jt.processor(noop) : noop;
const signalFor = processor.length >= 3 ? () => new AbortController().signal : () => undefined;
let seq = 0;
const makeJob = () => ({
  id: String(++seq),
  queueName: 'hot',
  name: 'hot',
  timestamp: 1_764_600_000_000 + seq,
  attemptsMade: 0,
  data: {},
  opts: {},
});
// Untimed jobs first (WARMUP, default 20,000): V8 compiles the path before
// the counted jobs, so the difference of two counts leaves out compilation.
const warmup = Number(process.env.WARMUP ?? 20_000);
for (let i = 0; i < warmup; i++) await processor(makeJob(), `worker-1:${seq}`, signalFor());
const start = process.cpuUsage();
for (let i = 0; i < jobs; i++) await processor(makeJob(), `worker-1:${seq}`, signalFor());
const used = process.cpuUsage(start);
if (process.env.SHOW) console.log(`${side}: ${((used.user + used.system) / jobs).toFixed(3)} µs CPU per job`);
await jt.dispose();
await terminator.close();
