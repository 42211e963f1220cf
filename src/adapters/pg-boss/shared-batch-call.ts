import { sharingOneClockRead } from '../../core/clock.js';
import type { TerminationToken } from '../../core/token.js';
import { ENDS_WITH_SHARED_CALL, endSharedJob, type SharedEnding } from '../../middleware/run-job.js';

/**
 * The one handler call that the jobs of a pg-boss batch share. Each job runs
 * as its own job in the terminator (its own token, kill, settle), but the
 * handler is called once: after every job has either entered (its run
 * started and handed over its token) or ended without entering (a pending
 * kill or a shutdown stopped it before it started), with the jobs that
 * entered, in batch order. Every entered job's run then waits on the one
 * result.
 *
 * Per job this keeps one slot of an array; per batch, one promise. (It
 * replaced a deferred per job and a `finally` on every run.) The entered
 * jobs' runs attach nothing to that promise: when the call ends, each is told
 * here (endSharedJob), in batch order, as their reactions to it would have
 * been run.
 *
 * Invariant: the handler is called at most once, and only after every slot
 * is filled; a batch where no job entered never calls it, and its result
 * never settles (no run waits on it).
 */
export class SharedBatchCall<R> {
  /** undefined: not yet; a token: entered; null: ended without entering. */
  private readonly slots: Array<TerminationToken | null | undefined>;
  private waiting: number;
  /** What every entered job's run returns: the handler's result. */
  readonly result: Promise<R>;
  private resolveResult!: (value: R) => void;
  private rejectResult!: (error: unknown) => void;
  private isSettled = false;

  constructor(
    size: number,
    /**
     * The handler's call, given every slot: a token where the job entered
     * (in batch order), null where it ended without entering. The slots
     * themselves, not a list of `{ index, token }` made from them: an object
     * per job, for a call that reads each once.
     */
    private readonly call: (slots: ReadonlyArray<TerminationToken | null | undefined>) => R | PromiseLike<R>,
  ) {
    this.slots = new Array<TerminationToken | null | undefined>(size).fill(undefined);
    this.waiting = size;
    this.result = new Promise<R>((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    // The batch's wrapper returns it to pg-boss once every job has settled,
    // unless each was escalated first: then nobody reads a rejection.
    this.result.catch(() => {});
  }

  /** True once the handler's call returned or threw. */
  get settled(): boolean {
    return this.isSettled;
  }

  /**
   * Job `index`'s function: its token enters the batch, and the job ends
   * with the handler's result, told by this call (see ENDS_WITH_SHARED_CALL).
   */
  enter(index: number, token: TerminationToken): PromiseLike<never> {
    if (this.slots[index] === undefined) {
      this.slots[index] = token;
      this.arrive();
    }
    return ENDS_WITH_SHARED_CALL;
  }

  /** Job `index` ended; a no-op when it had entered. */
  left(index: number): void {
    if (this.slots[index] !== undefined) return;
    this.slots[index] = null;
    this.arrive();
  }

  /** Some run failed before it could enter (a closed terminator): call the handler with those that did. */
  abandon(): void {
    for (let i = 0; i < this.slots.length; i++) this.left(i);
  }

  private arrive(): void {
    if (--this.waiting > 0) return;
    const slots = this.slots;
    let entered = false;
    for (let i = 0; i < slots.length && !entered; i++) entered = slots[i] != null;
    if (!entered) return;
    // A turn later, so the last job's run finishes entering before the
    // handler's code runs (as it would have, called from pg-boss).
    Promise.resolve()
      .then(() => this.call(slots))
      .then(
        (value) => {
          this.isSettled = true;
          this.resolveResult(value);
          endEntered(slots, { status: 'completed', value });
        },
        (error: unknown) => {
          this.isSettled = true;
          this.rejectResult(error);
          endEntered(slots, { status: 'failed', error });
        },
      );
  }
}

/** Ends every job that entered, in batch order, with the handler's result or error; one clock read for all. */
function endEntered(slots: ReadonlyArray<TerminationToken | null | undefined>, ending: SharedEnding): void {
  sharingOneClockRead(() => {
    for (let i = 0; i < slots.length; i++) {
      const token = slots[i];
      if (token) endSharedJob(token, ending);
    }
  });
}
