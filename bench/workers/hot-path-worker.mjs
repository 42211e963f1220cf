// The measured process of the hot-path benchmark (bench/suites/hot-path.ts):
// plain JavaScript on the built package (dist/), as users run it. It calls a
// pg-boss handler directly with pg-boss-shaped jobs, bare and wrapped by
// jt.handler() with a terminator on the PostgreSQL store, in alternating
// rounds, and prints each round's CPU time per job as one JSON line:
// jobterm's own cost per job, with no queue, database or network in the
// timed loop to blur it.
//
// argv: <DATABASE_URL> <batchSize> <jobs per round> <rounds> [count <counted rounds>]
//
// With `count` it is the instruction-count process of bench/suites/
// instructions.ts instead, run under `valgrind --tool=callgrind
// --instr-atstart=no`: after the uncounted warm-up rounds it prints
// {"e":"ready","i":"all"} and waits for a line on stdin (the suite switches
// instrumentation on), then runs the counted rounds, alternating which side
// goes first, and after each one prints {"e":"counted","i":"<round>:<side>"}
// and waits (the suite dumps the count, which starts the next one from
// zero). No forced gc() between them: a forced full collection made V8
// recompile jobterm's code inside the next counted round.
// No timer runs in the counted rounds: the store's poll and the fleet heartbeat
// are per second, not per job (they are counted in the queue workers'
// figure), and are set out of the way here, so the count is the same from
// run to run.
import { PgBoss } from 'pg-boss';
import { createTerminator } from '../../dist/index.js';
import { pgBossJobterm } from '../../dist/pg-boss.js';
import { postgresStore } from '../../dist/postgres.js';

const [url, batchArg, jobsArg, roundsArg] = process.argv.slice(2);
const batchSize = Number(batchArg);
const jobs = Number(jobsArg);
const rounds = Number(roundsArg);
const counting = process.argv[6] === 'count';
const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };

// Never started: the handler is called here, not by pg-boss's loop.
const boss = new PgBoss({ connectionString: url, schedule: false, supervise: false });
const terminator = createTerminator({
  store: postgresStore({
    connectionString: url,
    migrate: false,
    logger: silentLogger,
    ...(counting ? { pollInterval: 3_600_000 } : {}),
  }),
  logger: silentLogger,
  ...(counting ? { presence: false } : {}),
});
await terminator.whenReady();
const jt = pgBossJobterm({ boss, terminator, stopBoss: false });
const noop = async (_jobs) => undefined;
const handlers = { bare: noop, jobterm: jt.handler(noop) };

let seq = 0;
// The fields pg-boss 12 hands a handler (its `job` table row, mapped), each
// job with a signal of its own. pg-boss 12.38 makes each job's signal a
// composite, AbortSignal.any() of the batch's controller and the job's own
// claim controller (manager.js); BENCH_PG_BOSS_SIGNALS=composite does the
// same here. It is not the default: a composite signal's weak references
// make V8's collector run by timing, so the instruction count stops
// repeating (rounds of one side then differ by 3x), and Node's cost of
// making one (about 7 µs here) lands on both sides. With it, jobterm's
// listener on each job's composite signal costs more than on a plain one
// (README, Performance).
const compositeSignals = process.env.BENCH_PG_BOSS_SIGNALS === 'composite';
const jobSignal = (batch) =>
  compositeSignals ? AbortSignal.any([batch.signal, new AbortController().signal]) : new AbortController().signal;
const makeBatch = () => {
  const batch = compositeSignals ? new AbortController() : undefined;
  return Array.from({ length: batchSize }, () => ({
    id: `00000000-0000-4000-8000-${String(seq++).padStart(12, '0')}`,
    name: 'hot',
    data: {},
    priority: 0,
    state: 'active',
    retryLimit: 2,
    retryCount: 0,
    retryDelay: 0,
    retryBackoff: false,
    startAfter: new Date(),
    startedOn: new Date(),
    singletonKey: null,
    expireInSeconds: 900,
    heartbeatSeconds: null,
    createdOn: new Date(),
    keepUntil: new Date(),
    policy: 'standard',
    signal: jobSignal(batch),
  }));
};

async function round(side, count) {
  const handler = handlers[side];
  const start = process.cpuUsage();
  for (let done = 0; done < count; done += batchSize) await handler(makeBatch());
  const used = process.cpuUsage(start);
  return (used.user + used.system) / count;
}

if (counting) {
  const { createInterface } = await import('node:readline');
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const phase = async (e, i) => {
    process.stdout.write(`${JSON.stringify({ e, i })}\n`);
    await lines.next();
  };
  const counted = Number(process.argv[7] ?? 6);
  for (let r = 0; r < rounds; r++) {
    await round('bare', jobs);
    await round('jobterm', jobs);
  }
  await phase('ready', 'all');
  for (let r = 0; r < counted; r++) {
    const order = r % 2 === 0 ? ['bare', 'jobterm'] : ['jobterm', 'bare'];
    for (const side of order) {
      await round(side, jobs);
      await phase('counted', `${r}:${side}`);
    }
  }
  jt.dispose();
  await terminator.close();
  process.exit(0);
}

await round('bare', jobs);
await round('jobterm', jobs);
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? ['bare', 'jobterm'] : ['jobterm', 'bare'];
  const result = {};
  for (const side of order) result[side] = await round(side, jobs);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
jt.dispose();
await terminator.close();
process.exit(0);
