import { expected } from '../core/errors.js';
import type { FleetJob, FleetSnapshot, FleetTerminationState, FleetWorker } from '../core/fleet.js';
import { MAX_REF_PART_LENGTH } from '../core/job-ref.js';

/** Which running jobs a list or a bulk terminate is about. Every field narrows; none means all. */
export interface JobFilter {
  /** The queue system: `graphile-worker`, `pg-boss`, `bullmq`, or your own. */
  readonly queue?: string;
  /** The queue within it (pg-boss, BullMQ). */
  readonly name?: string;
  /** The task identifier (graphile-worker) or queue name, as the worker reports it. */
  readonly task?: string;
  /** The worker that runs it. */
  readonly worker?: string;
  readonly state?: FleetTerminationState;
  /** Only jobs that have run at least this many ms. */
  readonly runningLongerThan?: number;
}

export const FILTER_KEYS = ['queue', 'name', 'task', 'worker', 'state', 'runningLongerThan'] as const;
export const STATES: readonly FleetTerminationState[] = ['none', 'requested', 'signalled', 'escalated'];

/** Longest time filter, about 10 years: enough for any job, small enough to stay exact. */
const MAX_DURATION = 315_360_000_000;

/** Checks a filter given as strings (a query string) or as JSON values (a body). */
export function parseFilter(input: Record<string, unknown>, what: string): JobFilter {
  const filter: { -readonly [K in keyof JobFilter]: JobFilter[K] } = {};
  for (const [key, raw] of Object.entries(input)) {
    switch (key) {
      case 'queue':
      case 'name':
      case 'task':
      case 'worker':
        if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_REF_PART_LENGTH) {
          throw expected(`${what}${key}`, `a non-empty string of at most ${MAX_REF_PART_LENGTH} characters`, raw);
        }
        filter[key] = raw;
        break;
      case 'state':
        if (!STATES.includes(raw as FleetTerminationState))
          throw expected(`${what}state`, `one of ${STATES.join(', ')}`, raw);
        filter.state = raw as FleetTerminationState;
        break;
      case 'runningLongerThan': {
        const value = typeof raw === 'string' && /^\d{1,15}$/.test(raw) ? Number(raw) : raw;
        if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_DURATION) {
          throw expected(`${what}runningLongerThan`, 'a whole number of milliseconds', raw);
        }
        filter.runningLongerThan = value;
        break;
      }
      default:
        throw new TypeError(`Unknown filter \`${what}${key}\`: expected one of ${FILTER_KEYS.join(', ')}`);
    }
  }
  return filter;
}

export function matches(job: FleetJob, filter: JobFilter, now: number): boolean {
  if (filter.queue !== undefined && job.ref.queue !== filter.queue) return false;
  if (filter.name !== undefined && job.ref.name !== filter.name) return false;
  if (filter.task !== undefined && job.task !== filter.task) return false;
  if (filter.worker !== undefined && job.workerId !== filter.worker) return false;
  if (filter.state !== undefined && job.termination.state !== filter.state) return false;
  if (filter.runningLongerThan !== undefined && now - job.startedAt.getTime() < filter.runningLongerThan) return false;
  return true;
}

/** The running jobs of a snapshot that match, oldest first (the ones an operator looks for). */
export function selectJobs(snapshot: FleetSnapshot, filter: JobFilter): FleetJob[] {
  const now = snapshot.at.getTime();
  const jobs: FleetJob[] = [];
  for (const worker of snapshot.workers) {
    for (const job of worker.jobs) if (matches(job, filter, now)) jobs.push(job);
  }
  return jobs.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
}

/** A running job as the API answers it: the contract's fields plus how long it has run. */
export function jobJson(job: FleetJob, now: number) {
  return { ...job, ref: refJson(job.ref), runningMs: Math.max(0, now - job.startedAt.getTime()) };
}

export function workerJson(worker: FleetWorker, withJobs: boolean, now: number) {
  const { jobs, ...rest } = worker;
  return withJobs
    ? { ...rest, jobCount: jobs.length, jobs: jobs.map((job) => jobJson(job, now)) }
    : { ...rest, jobCount: jobs.length };
}

export function refJson(ref: { queue: string; id: string; name?: string }) {
  return ref.name === undefined ? { queue: ref.queue, id: ref.id } : { queue: ref.queue, name: ref.name, id: ref.id };
}
