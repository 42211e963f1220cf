import type { Job } from 'bullmq';
import type { JobDetails, JobOutcome } from '../../core/outcome.js';
import type { ForwardedSignal, RunOptions } from '../../middleware/run-job.js';
import { jobDetails } from './fleet.js';

/** Writes jobterm's ending into BullMQ; true when it moved the job (BullMQ then writes nothing). */
export type BullmqSettle = (job: Job, lockToken: string | undefined, outcome: JobOutcome) => Promise<boolean>;

/**
 * The run options of one BullMQ job (`terminator.run()`'s third argument):
 * one object per job. The literal it replaced made a `settle` closure and
 * built `details` for every job (three object spreads and a slice of the
 * lock token); `details` is a getter now, read only at heartbeats.
 */
export class BullmqJobRun<R> implements RunOptions<R> {
  /** Whether jobterm's own write moved the job (BullMQ must then write nothing). */
  written = false;

  constructor(
    private readonly job: Job,
    private readonly lockToken: string | undefined,
    private readonly isolated: 'thread' | 'process' | undefined,
    readonly forward: ReadonlyArray<ForwardedSignal>,
    readonly maxRuntime: number | undefined,
    private readonly write: BullmqSettle,
  ) {}

  get details(): JobDetails {
    return jobDetails(this.job, this.lockToken, this.isolated);
  }

  /** Called by the terminator as a method; no promise for an ending BullMQ writes itself (completed, failed). */
  settle(outcome: JobOutcome<R>): Promise<void> | undefined {
    if (!jobtermWrites(outcome)) return undefined;
    return this.write(this.job, this.lockToken, outcome).then((moved) => {
      this.written = moved;
    });
  }
}

/** The endings jobterm writes into BullMQ: a kill, and an interruption that goes back. */
function jobtermWrites(outcome: JobOutcome): boolean {
  return outcome.status === 'terminated' || (outcome.status === 'interrupted' && outcome.resumable);
}
