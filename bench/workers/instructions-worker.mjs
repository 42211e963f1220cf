// The measured process of the instruction-count benchmark
// (bench/suites/instructions.ts), run under `valgrind --tool=callgrind
// --instr-atstart=no`. Plain JavaScript on the built package (dist/), as
// users run it: no TypeScript loader whose work would be counted too.
//
// argv: <queue: pg-boss | graphile-worker> <mode: bare | jobterm> <width: batchSize | concurrency>
//       <warm-up queue/task name> <warm-up jobs> <measured queue/task name> <measured jobs>
// The suite adds the warm-up jobs before it starts this process and the
// measured ones after the warm-up. Two phases, so that the count is taken
// on JIT-warm code: the warm-up jobs run uncounted; then the process prints
// `{"e":"warm"}` and waits for a line on stdin (the suite switches
// callgrind's instrumentation on meanwhile); then it runs the measured jobs,
// waits until the queue has recorded every completion, prints `{"e":"done"}`
// and waits for stdin to end.
import { createInterface } from 'node:readline';
import { createTerminator } from '../../dist/index.js';
import { postgresStore } from '../../dist/postgres.js';

const [queue, mode, widthArg, warmName, warmJobs, measuredName, measuredJobs] = process.argv.slice(2);
const url = process.env.DATABASE_URL;
const width = Number(widthArg);
const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };
const send = (e) => process.stdout.write(`${JSON.stringify({ e })}\n`);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

const terminator =
  mode === 'jobterm'
    ? createTerminator({
        store: postgresStore({
          connectionString: url,
          migrate: false,
          logger: silentLogger,
          ...(process.env.BENCH_POLL_INTERVAL ? { pollInterval: Number(process.env.BENCH_POLL_INTERVAL) } : {}),
        }),
        logger: silentLogger,
        workerId: `bench-instructions-${process.pid}`,
      })
    : undefined;
await terminator?.whenReady();

const runPhase = queue === 'pg-boss' ? await pgBossRunner() : await graphileRunner();
await runPhase(warmName, Number(warmJobs));
// Both sides start the counted phase from a collected heap (the suite passes
// --expose-gc): otherwise a full collection owed to the warm-up, of every
// pg-boss job's composite signal among the rest, lands inside one side's
// count or the other's by where its heap happens to stand.
globalThis.gc?.();
globalThis.gc?.();
send('warm');
await lines.next();
await runPhase(measuredName, Number(measuredJobs));
send('done');
await lines.next();
process.exit(0);

/** A function that runs every job of one pg-boss queue, one worker, and resolves once pg-boss recorded them all. */
async function pgBossRunner() {
  const { PgBoss } = await import('pg-boss');
  const { pgBossJobterm } = await import('../../dist/pg-boss.js');
  const boss = new PgBoss({ connectionString: url, schedule: false, supervise: false, max: 4 });
  boss.on('error', () => {});
  await boss.start();
  const jt = terminator && pgBossJobterm({ boss, terminator, stopBoss: false });
  return async (name, jobs) => {
    let handled = 0;
    let workerId;
    const { promise: done, resolve } = Promise.withResolvers();
    // pg-boss's loop sleeps out its poll after each fetch; a worker notified
    // during the handler fetches again at once (its public notifyWorker()).
    const noop = async (batch) => {
      handled += batch.length;
      if (handled >= jobs) resolve();
      else if (workerId !== undefined) boss.notifyWorker(workerId);
    };
    workerId = await boss.work(name, { batchSize: width, pollingIntervalSeconds: 0.5 }, jt ? jt.handler(noop) : noop);
    boss.notifyWorker(workerId);
    await done;
    // Waits for the last batch's completion write.
    await boss.offWork(name, { wait: true });
  };
}

/** A function that runs every job of one task identifier through a graphile runner and resolves once graphile deleted them all. */
async function graphileRunner() {
  const { Logger, run } = await import('graphile-worker');
  const { makeJobtermPreset } = await import('../../dist/graphile-worker.js');
  const pg = (await import('pg')).default;
  const pgPool = new pg.Pool({ connectionString: url, max: width + 2 });
  pgPool.on('error', () => {});
  let handled = 0;
  let target = 0;
  let resolveRound;
  const noop = async () => {
    if (++handled === target) resolveRound();
  };
  const taskList = { [warmName]: noop, [measuredName]: noop };
  let runnerStarted = false;
  return async (name, jobs) => {
    handled = 0;
    target = jobs;
    const { promise: done, resolve } = Promise.withResolvers();
    resolveRound = resolve;
    // One runner for both phases: the suite adds the measured jobs only
    // after the warm-up (addJobs' NOTIFY wakes the runner).
    if (!runnerStarted) {
      runnerStarted = true;
      await run({
        pgPool,
        concurrency: width,
        pollInterval: 1_000,
        noHandleSignals: true,
        logger: new Logger(() => () => {}),
        taskList,
        ...(terminator ? { preset: makeJobtermPreset({ terminator }) } : {}),
      });
    }
    await done;
    // graphile fires its last complete writes without awaiting them.
    for (;;) {
      const { rows } = await pgPool.query(
        'select exists(select 1 from graphile_worker.jobs where task_identifier = $1) as left',
        [name],
      );
      if (!rows[0].left) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  };
}
