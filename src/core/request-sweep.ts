import type { QueueAdapter } from './adapter.js';
import type { KillRequest } from './store.js';

export interface RequestSweepOptions {
  /** Between the end of one sweep and the start of the next, in ms (jittered ±20%). */
  readonly interval: number;
  /** The open requests to look at (from the store's memory). */
  readonly openRequests: () => KillRequest[];
  /** The adapter that can read a queue's job states, if this process has one. */
  readonly adapterFor: (queue: string) => QueueAdapter | undefined;
  /** Whether the job runs in this process (its own ending resolves the request). */
  readonly runsHere: (request: KillRequest) => boolean;
  /** Resolves the request if its job ended; see `Terminator.resolveIfEnded`. */
  readonly resolveIfEnded: (request: KillRequest, adapter: QueueAdapter) => Promise<unknown>;
  readonly onError: (error: unknown) => void;
}

/** At most this many queue reads per sweep: a backlog of open requests is worked through over several sweeps. */
const MAX_PER_SWEEP = 200;

/**
 * The last of the three ways a request ends when its job finished without
 * any process noticing (the requester died after storing, the worker that
 * completed the job had restarted): every `interval` it asks the queues about
 * the open requests' jobs and resolves those that ended or are gone. Runs
 * never stack, the timer never keeps a process alive, `stop()` is safe twice
 * and waits for a sweep in progress.
 */
export class RequestSweep {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private cursor = 0;
  private failing = false;

  constructor(private readonly options: RequestSweepOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One sweep now (tests, and `schedule`). */
  async sweep(): Promise<void> {
    const { options } = this;
    const candidates = options
      .openRequests()
      .filter((request) => options.adapterFor(request.ref.queue)?.jobState !== undefined && !options.runsHere(request));
    if (candidates.length === 0) return;
    // A rotating window, so that a long backlog is covered in turn, not always its first part.
    const start = this.cursor % candidates.length;
    const batch = [...candidates.slice(start), ...candidates.slice(0, start)].slice(0, MAX_PER_SWEEP);
    this.cursor = start + batch.length;
    for (const request of batch) {
      if (this.stopped) return;
      const adapter = options.adapterFor(request.ref.queue);
      if (adapter === undefined) continue;
      try {
        await options.resolveIfEnded(request, adapter);
        this.failing = false;
      } catch (error) {
        // One report per outage; the next sweep tries again.
        if (!this.failing) options.onError(error);
        this.failing = true;
      }
    }
  }

  private schedule(): void {
    if (this.stopped || this.timer !== undefined) return;
    const delay = Math.round(this.options.interval * (0.8 + Math.random() * 0.4));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.sweep()
        .catch((error: unknown) => this.options.onError(error))
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, delay);
    this.timer.unref();
  }
}
