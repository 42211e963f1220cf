import { clockNow } from './clock.js';
import { type JobRef, sameRef } from './job-ref.js';

/** How long a completion is remembered: far longer than a requester takes between reading a job's state and storing its request. */
const REMEMBER_MS = 60_000;
/** This many, the oldest forgotten first, so a busy worker's memory stays flat. */
const MAX_ENTRIES = 1_024;

/**
 * The jobs this process completed lately. A kill request can be stored just
 * after its job completed here (the requester read `running`, then the job
 * returned, then the row was written): the job's own ending found no request
 * to resolve, and when the request arrives there is no job left to fire. The
 * worker that ran the job is the first to know the answer (`already_finished`),
 * so it keeps the last completions for a while.
 *
 * Order of events, in this one thread: a completion is remembered before the
 * job's ending looks for a pending request, and an arriving request is checked
 * here only after no running job took it. So either the ending sees the
 * request, or the request sees the completion.
 */
export class RecentCompletions {
  // A ring of the last MAX_ENTRIES completions. remember() runs for every
  // job and only writes two slots (no Map to grow, rehash or trim, no key to
  // build: that cost several µs per job at full speed); completed() runs only
  // when a request finds no running job here, and scans the ring.
  private readonly refs = new Array<JobRef | undefined>(MAX_ENTRIES).fill(undefined);
  private readonly times = new Float64Array(MAX_ENTRIES);
  private next = 0;

  remember(ref: JobRef): void {
    this.refs[this.next] = ref;
    // One read for every job of a batch that ends together (core/clock.ts).
    this.times[this.next] = clockNow();
    this.next = (this.next + 1) % MAX_ENTRIES;
  }

  /** Whether the job completed in this process within the last minute. */
  completed(ref: JobRef): boolean {
    const now = Date.now();
    for (let i = 0; i < MAX_ENTRIES; i++) {
      const remembered = this.refs[i];
      if (remembered !== undefined && sameRef(remembered, ref) && now - this.times[i]! <= REMEMBER_MS) return true;
    }
    return false;
  }

  /** Once its request is resolved: a later request for the same job is someone else's business. */
  forget(ref: JobRef): void {
    for (let i = 0; i < MAX_ENTRIES; i++) {
      const remembered = this.refs[i];
      if (remembered !== undefined && sameRef(remembered, ref)) this.refs[i] = undefined;
    }
  }

  clear(): void {
    this.refs.fill(undefined);
  }
}
