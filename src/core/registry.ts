import { type JobRef, sameRef } from './job-ref.js';
import type { RunningJobInfo } from './outcome.js';
import type { TerminationReason } from './reason.js';

/** What the registry needs of a running job. */
export interface RegisteredJob {
  readonly ref: JobRef;
  readonly info: RunningJobInfo;
  /**
   * Fires the token (or upgrades it to a kill); `graceMs` is how long until
   * escalation. True when it changed the job's reason.
   */
  terminate(reason: TerminationReason, graceMs: number | undefined): boolean;
  /** Stops waiting: settles the job now from its reason. */
  escalate(): void;
  /** Resolves once the job has settled and its queue write is done. Never rejects. */
  readonly done: Promise<unknown>;
}

/**
 * The jobs running in this process, by reference. A reference can map to more
 * than one entry for a moment: an escalated job whose code still runs is
 * already gone from here, but a retry of the same job can start while a
 * duplicate delivery is still settling.
 */
export class Registry {
  // Keyed by the job's id alone, the queue's own string: a key built from
  // queue, name and id was a new string to build and hash for every job. The
  // same id in two queues (graphile's "7" and BullMQ's "7") shares an entry,
  // and find() tells them apart. One job per id is the rule; a Set only for
  // the rare duplicate, so the common case allocates nothing but the entry.
  private readonly byId = new Map<string, RegisteredJob | Set<RegisteredJob>>();
  private count = 0;

  add(job: RegisteredJob): void {
    const id = job.ref.id;
    const entry = this.byId.get(id);
    if (entry === undefined) this.byId.set(id, job);
    else if (entry instanceof Set) entry.add(job);
    else this.byId.set(id, new Set([entry, job]));
    this.count++;
  }

  delete(job: RegisteredJob): void {
    const id = job.ref.id;
    const entry = this.byId.get(id);
    if (entry === job) {
      this.byId.delete(id);
      this.count--;
    } else if (entry instanceof Set && entry.delete(job)) {
      this.count--;
      if (entry.size === 1) this.byId.set(id, entry.values().next().value as RegisteredJob);
    }
  }

  find(ref: JobRef): RegisteredJob[] {
    const entry = this.byId.get(ref.id);
    if (entry === undefined) return [];
    if (!(entry instanceof Set)) return sameRef(entry.ref, ref) ? [entry] : [];
    return [...entry].filter((job) => sameRef(job.ref, ref));
  }

  all(): RegisteredJob[] {
    const jobs: RegisteredJob[] = [];
    for (const entry of this.byId.values()) {
      if (entry instanceof Set) jobs.push(...entry);
      else jobs.push(entry);
    }
    return jobs;
  }

  get size(): number {
    return this.count;
  }
}
