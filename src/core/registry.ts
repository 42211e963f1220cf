import { type JobRef, refKey } from './job-ref.js';
import type { RunningJobInfo } from './outcome.js';
import type { TerminationReason } from './reason.js';

/** What the registry needs of a running job. */
export interface RegisteredJob {
  readonly ref: JobRef;
  readonly key: string;
  readonly info: RunningJobInfo;
  /** Fires the token (or upgrades it to a kill); `graceMs` is how long until escalation. */
  terminate(reason: TerminationReason, graceMs: number | undefined): void;
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
  private readonly byKey = new Map<string, Set<RegisteredJob>>();
  private count = 0;

  add(job: RegisteredJob): void {
    let entries = this.byKey.get(job.key);
    if (entries === undefined) {
      entries = new Set();
      this.byKey.set(job.key, entries);
    }
    entries.add(job);
    this.count++;
  }

  delete(job: RegisteredJob): void {
    const entries = this.byKey.get(job.key);
    if (entries?.delete(job)) {
      this.count--;
      if (entries.size === 0) this.byKey.delete(job.key);
    }
  }

  find(ref: JobRef): RegisteredJob[] {
    const entries = this.byKey.get(refKey(ref));
    return entries === undefined ? [] : [...entries];
  }

  all(): RegisteredJob[] {
    const jobs: RegisteredJob[] = [];
    for (const entries of this.byKey.values()) jobs.push(...entries);
    return jobs;
  }

  get size(): number {
    return this.count;
  }
}
