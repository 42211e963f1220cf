import type { JobRef } from './job-ref.js';
import type { TerminationReason } from './reason.js';
import type { ShutdownReport } from './shutdown-report.js';

/** Every event a terminator emits, each with one payload. */
export interface TerminatorEvents {
  /** A job's token fired, or its reason was upgraded to `kill`. */
  terminating: { ref: JobRef; reason: TerminationReason };
  /** A job ended as terminated (kill), after its queue write. */
  terminated: { ref: JobRef; reason: TerminationReason; escalated: boolean };
  /** A job ended as interrupted (shutdown or timeout), after its queue write. */
  interrupted: { ref: JobRef; reason: TerminationReason; escalated: boolean; resumable: boolean };
  /** jobterm stopped waiting for a job and settled it; `hardStopped` when its thread or process was killed. */
  escalated: { ref: JobRef; reason: TerminationReason; hardStopped: boolean };
  /** An escalated job's code is still running (an in-process job cannot be killed); its result will be ignored. */
  unresponsive: { ref: JobRef; reason: TerminationReason };
  /** `shutdown()` started. */
  'shutdown:start': { timeout: number };
  /** `shutdown()` finished, every queue write awaited. */
  'shutdown:end': ShutdownReport;
  /**
   * This worker found another worker dead (no heartbeat within its dead
   * threshold) and handed its jobs back: `requeued` to run again (attempt
   * spent, as for any crash), `terminated` ended for good (open kill request).
   */
  'worker:rescued': {
    workerId: string;
    instanceId: string;
    host: string;
    pid: number;
    lastSeenAt: Date;
    requeued: JobRef[];
    terminated: JobRef[];
  };
  /** Something failed that jobterm caught and kept going past: an `onTerminate` callback, a queue write, the store. */
  error: { error: unknown; during: 'onTerminate' | 'settle' | 'store' | 'hardStop' | 'shutdown'; ref?: JobRef };
}

export type TerminatorEventName = keyof TerminatorEvents;
