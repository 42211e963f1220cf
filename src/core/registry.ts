import { type JobRef, refKey } from './job-ref.js';
import type { RunningJobInfo } from './outcome.js';
import type { TerminationReason } from './reason.js';

/** What the registry needs of a running job. */
export interface RegisteredJob {
  readonly ref: JobRef;
  readonly key: string;
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
  // One job per key is the rule; a Set only for the rare duplicate. This runs
  // twice for every job, so the common case allocates nothing but the entry.
  private readonly byKey = new Map<string, RegisteredJob | Set<RegisteredJob>>();
  private count = 0;

  add(job: RegisteredJob): void {
    const entry = this.byKey.get(job.key);
    if (entry === undefined) this.byKey.set(job.key, job);
    else if (entry instanceof Set) entry.add(job);
    else this.byKey.set(job.key, new Set([entry, job]));
    this.count++;
  }

  delete(job: RegisteredJob): void {
    const entry = this.byKey.get(job.key);
    if (entry === job) {
      this.byKey.delete(job.key);
      this.count--;
    } else if (entry instanceof Set && entry.delete(job)) {
      this.count--;
      if (entry.size === 1) this.byKey.set(job.key, entry.values().next().value as RegisteredJob);
    }
  }

  find(ref: JobRef): RegisteredJob[] {
    const entry = this.byKey.get(refKey(ref));
    return entry === undefined ? [] : entry instanceof Set ? [...entry] : [entry];
  }

  all(): RegisteredJob[] {
    const jobs: RegisteredJob[] = [];
    for (const entry of this.byKey.values()) {
      if (entry instanceof Set) jobs.push(...entry);
      else jobs.push(entry);
    }
    return jobs;
  }

  get size(): number {
    return this.count;
  }
}
