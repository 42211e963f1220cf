import type { JobDetails, JobOutcome } from '../../core/outcome.js';
import type { ForwardedSignal, RunOptions } from '../../middleware/run-job.js';
import { jobDetails } from './fleet.js';
import { type FailureSettler, type SettleContext, settleJob } from './settle.js';
import type { SharedBatchCall } from './shared-batch-call.js';
import type { PgBossJob } from './types.js';

/**
 * The run options of one job of a pg-boss batch (`terminator.run()`'s
 * third argument): one object per job. The literal it replaced, with a
 * `settle` closure and a `details` object, made three, and a batch of 100
 * made them 100 times (bench instructions). `details` is a getter: the
 * fleet view reads it only at heartbeats.
 */
export class PgBossJobRun<T> implements RunOptions<T> {
  /** A batch handler's jobs run outside any one job's context (see `context` in RunOptions). */
  readonly context: boolean;

  constructor(
    private readonly ctx: SettleContext,
    private readonly job: PgBossJob,
    /** The job's place in its batch, for the shared handler call. */
    private readonly index: number,
    private readonly failures: FailureSettler,
    private readonly shared: SharedBatchCall<unknown> | undefined,
    readonly forward: ReadonlyArray<ForwardedSignal>,
    readonly maxRuntime: number | undefined,
  ) {
    this.context = shared === undefined;
  }

  get details(): JobDetails {
    return jobDetails(this.job);
  }

  /** Called by the terminator as a method, once the job's outcome is decided. */
  settle(outcome: JobOutcome<T>): Promise<void> | undefined {
    this.shared?.left(this.index);
    return settleJob(this.ctx, this.job, outcome, this.failures);
  }
}
