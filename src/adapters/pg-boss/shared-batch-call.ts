import type { TerminationToken } from '../../core/token.js';

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
 * replaced a deferred per job and a `finally` on every run.)
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
    // Each entered run handles the rejection (runJob attaches both handlers);
    // a batch whose jobs were all escalated first has nobody left to.
    this.result.catch(() => {});
  }

  /** True once the handler's call returned or threw. */
  get settled(): boolean {
    return this.isSettled;
  }

  /** Job `index`'s function: its token enters the batch; resolves with the handler's result. */
  enter(index: number, token: TerminationToken): Promise<R> {
    if (this.slots[index] === undefined) {
      this.slots[index] = token;
      this.arrive();
    }
    return this.result;
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
        },
        (error: unknown) => {
          this.isSettled = true;
          this.rejectResult(error);
        },
      );
  }
}
