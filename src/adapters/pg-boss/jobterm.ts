import { sharingOneClockRead } from '../../core/clock.js';
import { checkKnownKeys, expected, JobTerminatedError } from '../../core/errors.js';
import { type JobRef, StoredRef } from '../../core/job-ref.js';
import { milliseconds } from '../../core/options.js';
import type { JobOutcome } from '../../core/outcome.js';
import type { TerminationToken } from '../../core/token.js';
import { type IsolatedOptions, isolated, moduleHref } from '../../isolation/index.js';
import { viewWithToken } from '../../middleware/job-view.js';
import { OutcomeCollector } from '../../middleware/run-job.js';
import type { Terminator } from '../../terminator/terminator.js';
import { checkBoss, PG_BOSS_QUEUE, type PgBossAdapter, pgBossAdapter, resolveSchema } from './adapter.js';
import { workerAdapter } from './fleet.js';
import { PgBossJobRun } from './job-run.js';
import { PutBackBatch } from './put-back-batch.js';
import { errorOutput, type FailureSettler, type SettleContext } from './settle.js';
import { SharedBatchCall } from './shared-batch-call.js';
import { forwardPgBossSignals } from './signal.js';
import { terminationOutput } from './sql.js';
import type { JobWithToken, PgBossJob, PgBossJobResult, PgBossLike } from './types.js';

export interface PgBossJobtermOptions {
  /** Your started `PgBoss` (pg-boss 12). jobterm only calls its public methods, plus two guarded writes (see the docs). */
  boss: PgBossLike;
  /** This process's terminator: it runs every wrapped job and owns shutdown. */
  terminator: Terminator;
  /**
   * pg-boss's schema, for jobterm's writes on its `job` table.
   * @default the schema of the boss's own pool, else `'pgboss'`
   */
  schema?: string;
  /**
   * What `terminator.shutdown()` does to the boss once every wrapped job has
   * settled and been written: `boss.stop({ graceful: true, ...these })`.
   * `false` leaves the boss running (workers stopped) for you to stop.
   * @default {} (pg-boss's own defaults: close its pool, 30 s for unwrapped handlers)
   */
  stopBoss?: false | { timeout?: number; close?: boolean };
  /**
   * Interrupt a job with kind `timeout` after this many ms. Set it below the
   * queue's `expireInSeconds`: a job that saved progress then goes back
   * without spending an attempt, where pg-boss's own expiry would fail it.
   * @default none
   */
  maxRuntime?: number;
}

export interface EachJobOptions {
  /**
   * Whether the worker was registered with `perJobResults: true`, which
   * decides what the wrapper returns to pg-boss.
   * @default read from `boss.getWipData()` for the job's queue
   */
  perJobResults?: boolean;
}

/** A handler as `boss.work()` takes it. */
export type PgBossHandler<J extends PgBossJob, R, A extends unknown[]> = (jobs: J[], ...rest: A) => Promise<R>;

export interface PgBossJobterm {
  /**
   * Wraps the handler you pass to `boss.work()`. Every job of the batch gets
   * its own token (`job.token`; `job.signal` is the token's signal). With one
   * job per batch (pg-boss's default), the handler runs inside that job's
   * context, so `currentToken()` and `isTerminating()` work anywhere in it.
   * With several, each job still ends on its own (a killed one is cancelled,
   * the rest settle by your result); use `eachJob` for a context per job.
   */
  handler<J extends PgBossJob = PgBossJob, R = unknown, A extends unknown[] = []>(
    fn: (jobs: Array<JobWithToken<J>>, ...rest: A) => R | PromiseLike<R>,
  ): PgBossHandler<J, Awaited<R> | undefined, A>;
  /**
   * A handler that runs a module's export isolated (a pooled worker thread
   * or child process, see `isolated()`), once per job of the batch, with the
   * job's `data`: `boss.work('render', jt.handler(new URL('./render.js',
   * import.meta.url), { runner: 'process' }))`. The export gets `(data,
   * token)`; each job settles on its own, as with `eachJob`.
   */
  handler<J extends PgBossJob = PgBossJob>(
    module: string | URL,
    options: IsolatedOptions,
  ): PgBossHandler<J, PgBossJobResult[], []>;
  /**
   * A handler that runs `fn` once per job of the batch, concurrently, each in
   * its own context, and settles each job on its own. Works with and without
   * `perJobResults`; the returned type is `perJobResults`'s, and without it
   * the wrapper returns what pg-boss expects there instead.
   */
  eachJob<J extends PgBossJob = PgBossJob, R = unknown, A extends unknown[] = []>(
    fn: (job: JobWithToken<J>, ...rest: A) => R | PromiseLike<R>,
    options?: EachJobOptions,
  ): PgBossHandler<J, PgBossJobResult[], A>;
  /** The queue adapter registered on the terminator (`terminate()` uses it for pg-boss jobs). */
  readonly adapter: PgBossAdapter;
  /** Removes the adapter and the shutdown participant from the terminator. Safe to call twice. */
  dispose(): void;
}

const OPTION_KEYS = ['boss', 'terminator', 'schema', 'stopBoss', 'maxRuntime'];

/**
 * Adds termination to pg-boss 12 workers:
 *
 * ```ts
 * const jt = pgBossJobterm({ boss, terminator });
 * await boss.work('email', jt.handler(async ([job]) => send(job.data, { signal: job.signal })));
 * ```
 */
export function pgBossJobterm(options: PgBossJobtermOptions): PgBossJobterm {
  if (typeof options !== 'object' || options === null) throw expected('options', 'an object', options);
  checkKnownKeys('pgBossJobterm() options', options, OPTION_KEYS);
  const boss = checkBoss(options.boss);
  const terminator = options.terminator;
  if (typeof terminator !== 'object' || terminator === null || typeof terminator.run !== 'function') {
    throw expected('terminator', 'a Terminator from createTerminator()', terminator);
  }
  const schema = resolveSchema(options.schema, boss);
  const stopBoss = options.stopBoss ?? {};
  if (stopBoss !== false && (typeof stopBoss !== 'object' || stopBoss === null)) {
    throw expected('stopBoss', 'false or an object `{ timeout?, close? }`', stopBoss);
  }
  if (stopBoss !== false && stopBoss.timeout !== undefined) milliseconds('stopBoss.timeout', stopBoss.timeout);
  const maxRuntime = options.maxRuntime === undefined ? undefined : milliseconds('maxRuntime', options.maxRuntime);

  const adapter = pgBossAdapter({ boss, schema });
  const ctx: SettleContext = {
    boss,
    schema,
    logger: terminator.options.logger,
    putBacks: new PutBackBatch(boss, schema),
  };
  const removeAdapter = terminator.addAdapter(workerAdapter(adapter, boss));
  const removeParticipant = terminator.addShutdownParticipant({
    // pg-boss's own stop() fails still-active jobs, spending an attempt. So
    // jobterm stops fetching first (offWork without waiting neither fails nor
    // waits for active jobs), lets the terminator stop and put back its jobs,
    // and only then stops the boss, when it has nothing left to fail.
    async beforeJobs() {
      const names = new Set(boss.getWipData().map((worker) => worker.name));
      await Promise.all([...names].map((name) => boss.offWork(name, { wait: false })));
    },
    async afterJobs() {
      if (stopBoss !== false) await boss.stop({ ...stopBoss, graceful: true });
    },
  });

  /**
   * Runs each job of one pg-boss batch in the terminator. `fnFor(job, i)` is
   * the job's code; `failures` says who fails a failed job (see settle.ts);
   * `shared` is set for a batch handler's jobs: they run outside any one
   * job's context, and each tells it when it ends. Resolves once every job
   * has settled and its write landed.
   */
  const runAll = <T>(
    jobs: readonly PgBossJob[],
    fnFor: (job: PgBossJob, i: number) => (token: TerminationToken) => T | PromiseLike<T>,
    failures: FailureSettler,
    shared?: SharedBatchCall<unknown>,
  ): Promise<Array<JobOutcome<T>>> => {
    const forwarding = forwardPgBossSignals(jobs, performance.now());
    // One promise for the batch, not one per job under a Promise.all.
    const outcomes = new OutcomeCollector<T>(jobs.length);
    // The jobs of a batch start together: one clock read for all of them.
    sharingOneClockRead(() => {
      for (let i = 0; i < jobs.length; i++) {
        const job = jobs[i]!;
        terminator.runInto(
          outcomes,
          i,
          refOf(job),
          fnFor(job, i),
          new PgBossJobRun<T>(ctx, job, i, failures, shared, forwarding.forJob(job), maxRuntime),
        );
      }
    });
    return outcomes.promise;
  };

  let disposed = false;
  const api: PgBossJobterm = {
    adapter,
    handler<J extends PgBossJob, R, A extends unknown[]>(
      fn: ((jobs: Array<JobWithToken<J>>, ...rest: A) => R | PromiseLike<R>) | string | URL,
      isolatedOptions?: IsolatedOptions,
    ): PgBossHandler<J, Awaited<R> | undefined, A> {
      // A module runs isolated; without isolated() options a string stays a mistake, not a module.
      if ((typeof fn === 'string' || fn instanceof URL) && isolatedOptions !== undefined) {
        const run = isolated(moduleHref(fn), isolatedOptions as IsolatedOptions);
        return api.eachJob<J, unknown, A>((job: JobWithToken<J>, ..._rest: A) =>
          run(job.data),
        ) as unknown as PgBossHandler<J, Awaited<R> | undefined, A>;
      }
      if (typeof fn !== 'function') {
        throw expected('fn', 'a function (the pg-boss handler), or a module URL followed by isolated() options', fn);
      }
      return async function jobtermHandler(jobs: J[], ...rest: A): Promise<Awaited<R> | undefined> {
        checkJobs(jobs);
        if (jobs.length === 1) {
          // pg-boss's default batch of one: one run, no array of runs.
          const job = jobs[0]!;
          const outcome = await terminator.run(
            refOf(job),
            (token) => fn([withToken(job, token)], ...rest),
            new PgBossJobRun<R>(
              ctx,
              job,
              0,
              'pg-boss',
              undefined,
              forwardPgBossSignals(jobs, performance.now()).forJob(job),
              maxRuntime,
            ),
          );
          // The run awaited the handler's promise, so the value is already an Awaited<R>.
          return answerForOne(outcome) as Awaited<R> | undefined;
        }
        return runBatch(jobs, fn, rest);
      };
    },
    eachJob<J extends PgBossJob, R, A extends unknown[]>(
      fn: (job: JobWithToken<J>, ...rest: A) => R | PromiseLike<R>,
      eachOptions: EachJobOptions = {},
    ): PgBossHandler<J, PgBossJobResult[], A> {
      if (typeof fn !== 'function') throw expected('fn', 'a function', fn);
      if (typeof eachOptions !== 'object' || eachOptions === null) throw expected('options', 'an object', eachOptions);
      const given = eachOptions.perJobResults;
      if (given !== undefined && typeof given !== 'boolean') throw expected('perJobResults', 'a boolean', given);
      return async function jobtermEachJob(jobs: J[], ...rest: A): Promise<PgBossJobResult[]> {
        checkJobs(jobs);
        const perJob = given ?? (jobs.length > 0 && detectPerJobResults(boss, jobs[0]!.name));
        const failures: FailureSettler = perJob || jobs.length === 1 ? 'pg-boss' : 'jobterm';
        const outcomes = await runAll(jobs, (job) => (token) => fn(withToken(job as J, token), ...rest), failures);
        if (perJob) return outcomes.map((outcome, i) => disposition(jobs[i]!.id, outcome));
        // pg-boss's own result shape: the value for a batch of one, nothing
        // for a larger batch (pg-boss stores no output there); each failure
        // was written by jobterm above.
        if (jobs.length === 1) return answerForOne(outcomes[0]!) as unknown as PgBossJobResult[];
        return undefined as unknown as PgBossJobResult[];
      };
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      removeAdapter();
      removeParticipant();
    },
  };
  return api;

  /**
   * A batch handler over several jobs: each job runs as its own job in the
   * terminator, and all of them wait for the one handler call
   * (SharedBatchCall). A job stopped before it started (a pending kill, a
   * shutdown) is settled and left out of the batch the handler sees. The
   * handler's result goes to pg-boss as it is (so `perJobResults` works);
   * pg-boss's settle skips the jobs jobterm already ended (cancelled, put
   * back), and a job whose own token timed out is failed here.
   */
  async function runBatch<J extends PgBossJob, R, A extends unknown[]>(
    jobs: J[],
    fn: (jobs: Array<JobWithToken<J>>, ...rest: A) => R | PromiseLike<R>,
    rest: A,
  ): Promise<Awaited<R> | undefined> {
    // Outside any one job's context: in a batch, `currentToken()` would be ambiguous.
    // SharedBatchCall awaits what the handler returns, so its value is an Awaited<R>.
    const call = new SharedBatchCall<Awaited<R>>(
      jobs.length,
      (slots) => fn(enteredViews(jobs, slots), ...rest) as PromiseLike<Awaited<R>>,
    );
    try {
      await runAll(jobs, (_job, i) => (token) => call.enter(i, token), 'timeouts', call as SharedBatchCall<unknown>);
    } catch (error) {
      call.abandon();
      throw error;
    }
    // Every job has settled. If the handler has not (each job was escalated),
    // jobterm wrote every ending itself and pg-boss's settle has nothing to do.
    if (!call.settled) return undefined;
    return call.result;
  }
}

/** The handler's jobs: each job that entered the batch, in batch order, seen with its token. */
function enteredViews<J extends PgBossJob>(
  jobs: readonly J[],
  slots: ReadonlyArray<TerminationToken | null | undefined>,
): Array<JobWithToken<J>> {
  // Sized first, filled by index: push() grew the array step by step, through
  // V8's push builtin, 130 instructions per job at batchSize 100 (bench instructions).
  let entered = 0;
  for (let i = 0; i < slots.length; i++) if (slots[i]) entered++;
  const views = new Array<JobWithToken<J>>(entered);
  let at = 0;
  for (let i = 0; i < slots.length; i++) {
    const token = slots[i];
    if (token) views[at++] = withToken(jobs[i]!, token);
  }
  return views;
}

function checkJobs(jobs: unknown): asserts jobs is PgBossJob[] {
  if (!Array.isArray(jobs)) throw expected('jobs', 'the array of jobs pg-boss passes to a handler', jobs);
  // By index: for-of's iterator was a builtin call per job (bench instructions).
  for (let i = 0; i < jobs.length; i++) checkJobFields(jobs[i]);
}

/**
 * The fields of a pg-boss job that the adapter relies on, with what each one
 * is for. Without `retryCount` (pg-boss builds before 12.38, which the peer
 * range excludes but npm may still install with a warning) the put-back's
 * `retry_count = $3` fence matches nothing and pg-boss then records an
 * interrupted job `completed`: refused here, before the job runs, rather than
 * lost silently.
 */
const JOB_FIELDS: ReadonlyArray<readonly [keyof PgBossJob, 'string' | 'number', string]> = [
  ['id', 'string', 'the job id'],
  ['name', 'string', 'the queue name'],
  ['retryCount', 'number', 'the attempt fence of every jobterm write'],
  ['expireInSeconds', 'number', 'telling an expiry from stop()'],
];

function checkJobFields(job: unknown): void {
  if (typeof job !== 'object' || job === null) throw expected('each job', 'a pg-boss job object', job);
  // The good case reads each field by name: pg-boss's jobs share one shape,
  // so these loads stay monomorphic, where a loop over JOB_FIELDS loaded by
  // computed key (V8's megamorphic keyed load, about 950 instructions per
  // job: bench instructions). JOB_FIELDS names them for the error.
  const fields = job as PgBossJob;
  if (
    typeof fields.id === 'string' &&
    typeof fields.name === 'string' &&
    typeof fields.retryCount === 'number' &&
    typeof fields.expireInSeconds === 'number'
  ) {
    return;
  }
  throw missingFields(job as Record<string, unknown>);
}

function missingFields(fields: Record<string, unknown>): TypeError {
  const missing = JOB_FIELDS.filter(([field, type]) => typeof fields[field] !== type).map(
    ([field, type, why]) => `\`${field}\` (a ${type}: ${why})`,
  );
  const which = typeof fields.id === 'string' ? `pg-boss job ${fields.id}` : 'each pg-boss job';
  return new TypeError(
    `Expected ${which} to have ${missing.join(', ')}, got a job without ${missing.length === 1 ? 'it' : 'them'}: jobterm needs pg-boss 12.38 or later (its peer range is >=12.38.0 <13.0.0)`,
  );
}

/** pg-boss hands out rows of its `job` table: the name and id are text read from PostgreSQL (checkJobFields checked their types). */
function refOf(job: PgBossJob): JobRef {
  return new StoredRef(PG_BOSS_QUEUE, job.id, job.name);
}

/**
 * The job as the handler sees it: pg-boss's own job, plus `job.token`, and
 * `job.signal` is the token's signal (middleware/job-view.ts). pg-boss's
 * object gains no property.
 */
function withToken<J extends PgBossJob>(job: J, token: TerminationToken): JobWithToken<J> {
  return viewWithToken(job, token, true) as JobWithToken<J>;
}

/**
 * What the wrapper hands pg-boss for a batch of one. pg-boss settles from it:
 * it completes with the value or fails with the error (its retry rules
 * apply). A job jobterm cancelled or put back is no longer `active` under
 * this attempt, so pg-boss's settle skips it; a timeout that did not save
 * progress is thrown so pg-boss fails it.
 */
function answerForOne<T>(outcome: JobOutcome<T>): T | undefined {
  switch (outcome.status) {
    case 'completed':
      return outcome.value;
    case 'failed':
      throw outcome.error;
    case 'terminated':
      return undefined;
    case 'interrupted':
      if (outcome.resumable) return undefined;
      throw new JobTerminatedError(outcome.reason);
  }
}

/** A `perJobResults` disposition; for a job jobterm already ended it is a no-op for pg-boss (not `active`). */
function disposition(id: string, outcome: JobOutcome): PgBossJobResult {
  switch (outcome.status) {
    case 'completed':
      return { id, status: 'completed', output: outcome.value };
    case 'failed':
      return { id, status: 'failed', output: errorOutput(outcome.error) };
    case 'terminated':
    case 'interrupted':
      return { id, status: 'failed', output: terminationOutput(outcome.reason) };
  }
}

/** Whether the workers on this queue were registered with `perJobResults` (pg-boss's public `getWipData()`). */
function detectPerJobResults(boss: PgBossLike, name: string): boolean {
  let found: boolean | undefined;
  for (const worker of boss.getWipData()) {
    if (worker.name !== name) continue;
    const value = worker.options?.perJobResults === true;
    if (found !== undefined && found !== value) {
      throw new TypeError(
        `jobterm: the workers on pg-boss queue "${name}" disagree on perJobResults; pass eachJob(fn, { perJobResults })`,
      );
    }
    found = value;
  }
  return found ?? false;
}
