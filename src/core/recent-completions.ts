import { type JobRef, refKey } from './job-ref.js';

/** How long a completion is remembered: far longer than a requester takes between reading a job's state and storing its request. */
const REMEMBER_MS = 60_000;
/** At most this many, oldest forgotten first, so a busy worker's memory stays flat. */
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
  private readonly completedAt = new Map<string, number>();

  remember(ref: JobRef): void {
    const key = refKey(ref);
    // Re-inserted, so the Map's order stays oldest first.
    this.completedAt.delete(key);
    this.completedAt.set(key, Date.now());
    if (this.completedAt.size > MAX_ENTRIES) {
      const oldest = this.completedAt.keys().next().value;
      if (oldest !== undefined) this.completedAt.delete(oldest);
    }
  }

  /** Whether the job completed in this process within the last minute. */
  completed(ref: JobRef): boolean {
    const at = this.completedAt.get(refKey(ref));
    return at !== undefined && Date.now() - at <= REMEMBER_MS;
  }

  /** Once its request is resolved: a later request for the same job is someone else's business. */
  forget(ref: JobRef): void {
    this.completedAt.delete(refKey(ref));
  }

  clear(): void {
    this.completedAt.clear();
  }
}
