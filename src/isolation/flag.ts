import type { TerminationReason } from '../core/reason.js';

/**
 * The termination flag a worker thread shares with its parent: a
 * SharedArrayBuffer per isolated call. The parent writes the reason (JSON)
 * and then the state; the thread reads the state with `Atomics.load`, so a
 * synchronous loop sees a termination without waiting for its event loop.
 * The reason is guarded by a seqlock (odd version while writing): a kill that
 * follows a shutdown rewrites it while the thread may be reading.
 *
 * The layout is shared with isolate-runtime.cjs (`FLAG`); a unit test checks
 * that both agree.
 */
export const FLAG = Object.freeze({
  STATE: 0,
  VERSION: 1,
  LENGTH: 2,
  THREAD_ID: 3,
  HEADER_BYTES: 16,
  RUNNING: 0,
  TERMINATING: 1,
  FINISHED: 2,
});

/** Room for the longest reason jobterm accepts (1,000 characters, 200 for `requestedBy`), UTF-8 worst case. */
const BYTES = 8_192;

export class TerminationFlag {
  readonly buffer = new SharedArrayBuffer(BYTES);
  private readonly words = new Int32Array(this.buffer, 0, FLAG.HEADER_BYTES / 4);
  private readonly bytes = new Uint8Array(this.buffer, FLAG.HEADER_BYTES);

  /** The worker thread running the call, once it started it (0 before). */
  get threadId(): number {
    return Atomics.load(this.words, FLAG.THREAD_ID);
  }

  get finished(): boolean {
    return Atomics.load(this.words, FLAG.STATE) === FLAG.FINISHED;
  }

  /** Writes the reason, then turns the flag and wakes the thread's event loop. */
  write(reason: TerminationReason, deadline: Date | undefined): void {
    const encoded = Buffer.from(JSON.stringify(wireReason(reason, deadline)), 'utf8');
    if (encoded.length > this.bytes.length) throw new Error('jobterm: a termination reason too long for the flag');
    Atomics.add(this.words, FLAG.VERSION, 1);
    this.bytes.set(encoded);
    Atomics.store(this.words, FLAG.LENGTH, encoded.length);
    Atomics.add(this.words, FLAG.VERSION, 1);
    // The thread may have finished: its answer is on the way, and the flag no longer matters.
    Atomics.compareExchange(this.words, FLAG.STATE, FLAG.RUNNING, FLAG.TERMINATING);
    Atomics.notify(this.words, FLAG.STATE);
  }
}

/** A reason as it crosses into an isolate (JSON: dates as ISO strings). */
export interface WireReason {
  readonly reason: {
    kind: TerminationReason['kind'];
    message: string;
    requestedAt: string;
    requestId?: string;
    requestedBy?: string;
  };
  readonly deadline?: string;
}

export function wireReason(reason: TerminationReason, deadline: Date | undefined): WireReason {
  return {
    reason: {
      kind: reason.kind,
      message: reason.message,
      requestedAt: reason.requestedAt.toISOString(),
      ...(reason.requestId === undefined ? {} : { requestId: reason.requestId }),
      ...(reason.requestedBy === undefined ? {} : { requestedBy: reason.requestedBy }),
    },
    ...(deadline === undefined ? {} : { deadline: deadline.toISOString() }),
  };
}
