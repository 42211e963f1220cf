// The jobs the demo enqueued, by id: their names in the timeline, and what
// the demo does to each (the summary's "what happened" column).
import type { JobRef } from '../../src/index.js';

/** How a job should end, checked in the summary against the queue's table. */
export type Expectation = 'terminated' | 'never-ran' | 'completed';

export interface DemoJob {
  readonly ref: JobRef;
  /** A short name: `export`, `backfill`, `video`, ... */
  readonly label: string;
  /** What the demo does to it, for the summary. */
  readonly plan: string;
  readonly expect: Expectation;
}

export class JobBook {
  private readonly byId = new Map<string, DemoJob>();

  add(ref: JobRef, label: string, plan: string, expect: Expectation): DemoJob {
    const job = { ref, label, plan, expect };
    this.byId.set(ref.id, job);
    return job;
  }

  get(id: string): DemoJob | undefined {
    return this.byId.get(id);
  }

  all(): DemoJob[] {
    return [...this.byId.values()];
  }

  /** `job 3 backfill`, `job 1a2b3c4d video`: how the timeline names a job. */
  name(id: unknown): string {
    const text = String(id);
    const job = this.byId.get(text);
    return `job ${shortId(text)}${job ? ` ${job.label}` : ''}`;
  }
}

/** pg-boss ids are uuids: their first 8 characters are enough to tell the demo's jobs apart. */
export function shortId(id: string): string {
  return /^[0-9a-f]{8}-/.test(id) ? id.slice(0, 8) : id;
}
