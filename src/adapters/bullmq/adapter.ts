import type { Queue } from 'bullmq';
import type { QueueAdapter, QueueJobState } from '../../core/adapter.js';
import { checkKnownKeys, expected } from '../../core/errors.js';
import { type JobRef, validateJobRef } from '../../core/job-ref.js';
import { BULLMQ_QUEUE, checkBullmqRef } from './ref.js';

export interface BullmqAdapterOptions {
  /**
   * Where BullMQ's queues live, as `new Queue(name, { connection })` takes
   * it: ioredis options, or an ioredis instance (shared, never closed here).
   */
  connection: unknown;
  /** BullMQ's key prefix, as given to your queues and workers. @default 'bull' */
  prefix?: string;
}

/** The BullMQ queue adapter: job states, cancel before start, canonical ids. `close()` closes the queues it opened. */
export interface BullmqAdapter extends QueueAdapter {
  readonly queue: typeof BULLMQ_QUEUE;
  readonly prefix: string;
  /**
   * Completes a reference to the job BullMQ holds now: `{ id: '42' }` becomes
   * `{ id: '42@<timestamp>' }` (see `bullmqRef`). A reference whose job is
   * gone is returned unchanged.
   */
  canonicalRef(ref: JobRef): Promise<JobRef>;
  close(): Promise<void>;
}

const OPTION_KEYS = ['connection', 'prefix'];

/**
 * For processes that terminate BullMQ jobs without running them (an API
 * server, the CLI): `createTerminator({ store, adapters: [bullmqAdapter({ connection })] })`.
 * Uses only BullMQ's public `Queue` and `Job` methods; loads BullMQ on first use.
 */
export function bullmqAdapter(options: BullmqAdapterOptions): BullmqAdapter {
  if (typeof options !== 'object' || options === null) throw expected('options', 'an object `{ connection }`', options);
  checkKnownKeys('bullmqAdapter() options', options, OPTION_KEYS);
  const { connection } = options;
  if (typeof connection !== 'object' || connection === null) {
    throw expected('connection', 'ioredis options or an ioredis instance, as BullMQ takes them', typeof connection);
  }
  const prefix = options.prefix ?? 'bull';
  if (typeof prefix !== 'string' || prefix.length === 0) throw expected('prefix', 'a non-empty string', prefix);

  const queues = new Map<string, Promise<Queue>>();
  let closed = false;
  const queueFor = (name: string): Promise<Queue> => {
    if (closed) throw new Error('jobterm: this BullMQ adapter is closed');
    let queue = queues.get(name);
    if (queue === undefined) {
      queue = import('bullmq').then(({ Queue }) => {
        const made = new Queue(name, { connection: connection as never, prefix });
        made.on('error', () => {});
        return made;
      });
      queues.set(name, queue);
    }
    return queue;
  };

  /** The job the reference names, if BullMQ holds it (same id, and same timestamp when the reference has one). */
  const find = async (ref: JobRef) => {
    const { name, jobId, timestamp } = checkBullmqRef(validateJobRef(ref));
    const queue = await queueFor(name);
    const job = await queue.getJob(jobId);
    if (job === undefined || job === null) return { job: undefined, stale: false };
    if (timestamp !== undefined && job.timestamp !== timestamp) return { job: undefined, stale: true };
    return { job, stale: false };
  };

  return {
    queue: BULLMQ_QUEUE,
    prefix,
    async canonicalRef(ref) {
      const checked = validateJobRef(ref);
      const { name } = checkBullmqRef(checked);
      // The id as given first: a custom id may itself contain `@digits`.
      const queue = await queueFor(name);
      const job = await queue.getJob(checked.id);
      if (job) return { queue: BULLMQ_QUEUE, name, id: `${job.id}@${job.timestamp}` };
      return checked;
    },
    async jobState(ref): Promise<QueueJobState> {
      const { job, stale } = await find(ref);
      // A reused id: the job the reference named is gone, so it finished (completed, failed or removed).
      if (stale) return 'finished';
      if (job === undefined) return 'not_found';
      const state = await job.getState();
      switch (state) {
        case 'active':
          return 'running';
        case 'completed':
        case 'failed':
          return 'finished';
        case 'unknown':
          return 'not_found';
        default:
          // waiting, delayed, prioritized, waiting-children (and waiting in a paused queue)
          return 'queued';
      }
    },
    async cancelQueued(ref) {
      const { job } = await find(ref);
      if (job === undefined) return false;
      // BullMQ's own remove: refused for a job a worker holds the lock of
      // (removeJob-2.lua), so a job claimed a moment ago is not removed here
      // and the stored kill stops it at its start instead.
      const queue = await queueFor(job.queueName);
      const removed = await queue.remove(job.id as string);
      return removed === 1;
    },
    async close() {
      if (closed) return;
      closed = true;
      const all = [...queues.values()];
      queues.clear();
      await Promise.all(all.map((q) => q.then((queue) => queue.close()).catch(() => undefined)));
    },
  };
}
