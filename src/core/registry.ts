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
  /** Written and read by the Registry the job is in, and by nothing else: its place in the registry's list. */
  inRegistry?: Registry | undefined;
  prevInRegistry?: RegisteredJob | undefined;
  nextInRegistry?: RegisteredJob | undefined;
}

/**
 * The jobs running in this process, by reference. A reference can map to more
 * than one entry for a moment: an escalated job whose code still runs is
 * already gone from here, but a retry of the same job can start while a
 * duplicate delivery is still settling.
 *
 * Every job is in a doubly linked list (its own fields hold the links): add
 * and delete, which run for every job, neither hash nor allocate. The index
 * by id that find() needs is built on the first find() and kept up to date
 * from then on, until the registry empties: a worker that is never asked
 * about a job (no kill request for it) never pays for one. A Map keyed by
 * every job's id grew and shrank its table with every batch, and those
 * tables were most of jobterm's garbage-collection work: in a pg-boss batch
 * of 20 jobterm added 38,900 instructions per job with it, 11,900 without
 * (bench instructions), 5.5 µs of CPU against 1.3.
 */
export class Registry {
  private head: RegisteredJob | undefined;
  private tail: RegisteredJob | undefined;
  private count = 0;
  // Keyed by the job's id alone, the queue's own string: the same id in two
  // queues (graphile's "7" and BullMQ's "7") shares an entry, and find()
  // tells them apart. One job per id is the rule; a Set only for the rare
  // duplicate.
  private byId: Map<string, RegisteredJob | Set<RegisteredJob>> | undefined;

  add(job: RegisteredJob): void {
    job.inRegistry = this;
    job.prevInRegistry = this.tail;
    job.nextInRegistry = undefined;
    if (this.tail === undefined) this.head = job;
    else this.tail.nextInRegistry = job;
    this.tail = job;
    this.count++;
    if (this.byId !== undefined) indexJob(this.byId, job);
  }

  delete(job: RegisteredJob): void {
    if (job.inRegistry !== this) return;
    const { prevInRegistry: prev, nextInRegistry: next } = job;
    if (prev === undefined) this.head = next;
    else prev.nextInRegistry = next;
    if (next === undefined) this.tail = prev;
    else next.prevInRegistry = prev;
    job.inRegistry = undefined;
    job.prevInRegistry = undefined;
    job.nextInRegistry = undefined;
    this.count--;
    if (this.byId === undefined) return;
    if (this.count === 0) this.byId = undefined;
    else unindexJob(this.byId, job);
  }

  find(ref: JobRef): RegisteredJob[] {
    if (this.count === 0) return [];
    if (this.byId === undefined) {
      this.byId = new Map();
      for (let job = this.head; job !== undefined; job = job.nextInRegistry) indexJob(this.byId, job);
    }
    const entry = this.byId.get(ref.id);
    if (entry === undefined) return [];
    if (!(entry instanceof Set)) return sameRef(entry.ref, ref) ? [entry] : [];
    return [...entry].filter((job) => sameRef(job.ref, ref));
  }

  /** In the order they started. */
  all(): RegisteredJob[] {
    const jobs: RegisteredJob[] = [];
    for (let job = this.head; job !== undefined; job = job.nextInRegistry) jobs.push(job);
    return jobs;
  }

  get size(): number {
    return this.count;
  }
}

function indexJob(byId: Map<string, RegisteredJob | Set<RegisteredJob>>, job: RegisteredJob): void {
  const id = job.ref.id;
  const entry = byId.get(id);
  if (entry === undefined) byId.set(id, job);
  else if (entry instanceof Set) entry.add(job);
  else byId.set(id, new Set([entry, job]));
}

function unindexJob(byId: Map<string, RegisteredJob | Set<RegisteredJob>>, job: RegisteredJob): void {
  const id = job.ref.id;
  const entry = byId.get(id);
  if (entry === job) byId.delete(id);
  else if (entry instanceof Set && entry.delete(job) && entry.size === 1) {
    byId.set(id, entry.values().next().value as RegisteredJob);
  }
}
