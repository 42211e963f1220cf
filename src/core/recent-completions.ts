import { type JobRef, refKey } from './job-ref.js';

/** How long a completion is remembered: far longer than a requester takes between reading a job's state and storing its request. */
const REMEMBER_MS = 60_000;
/** About this many, the oldest forgotten first, so a busy worker's memory stays flat. */
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
  // Two generations instead of one Map trimmed from its oldest end: deleting
  // a Map's first entries leaves holes that `keys().next()` walks on every
  // call until V8 compacts it, which cost several µs per job at full speed.
  // At most MAX_ENTRIES are kept; each lookup is two gets.
  private current = new Map<string, number>();
  private previous = new Map<string, number>();

  remember(ref: JobRef): void {
    this.current.set(refKey(ref), Date.now());
    if (this.current.size >= MAX_ENTRIES / 2) {
      this.previous = this.current;
      this.current = new Map();
    }
  }

  /** Whether the job completed in this process within the last minute. */
  completed(ref: JobRef): boolean {
    const key = refKey(ref);
    const at = this.current.get(key) ?? this.previous.get(key);
    return at !== undefined && Date.now() - at <= REMEMBER_MS;
  }

  /** Once its request is resolved: a later request for the same job is someone else's business. */
  forget(ref: JobRef): void {
    const key = refKey(ref);
    this.current.delete(key);
    this.previous.delete(key);
  }

  clear(): void {
    this.current.clear();
    this.previous.clear();
  }
}
