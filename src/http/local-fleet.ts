import { hostname } from 'node:os';
import type { FleetJob, FleetOptions, FleetSnapshot, FleetWorker } from '../core/fleet.js';
import type { RunningJobInfo } from '../core/outcome.js';
import type { FleetSource } from './options.js';

/** What `localFleet()` reads: a `Terminator` has it. */
export interface LocalTerminator {
  running(): RunningJobInfo[];
  readonly options: { readonly workerId: string };
}

/**
 * The fleet as one process sees it without a presence store: this process as
 * the only worker, and the jobs its terminator runs. For an app that runs its
 * workers and its dashboard in one process; a fleet of worker processes needs
 * `terminator.fleet()`, which reads every worker's heartbeats.
 */
export function localFleet(terminator: LocalTerminator, options: { queues?: readonly string[] } = {}): FleetSource {
  const startedAt = new Date();
  const workerId = terminator.options.workerId;
  return {
    async fleet(filter: FleetOptions = {}): Promise<FleetSnapshot> {
      const at = new Date();
      if (filter.worker !== undefined && filter.worker !== workerId) return { at, heartbeatInterval: 0, workers: [] };
      const jobs = terminator
        .running()
        .filter((info) => filter.queue === undefined || info.ref.queue === filter.queue)
        .map((info): FleetJob => toFleetJob(info, workerId));
      const queues = options.queues ?? [...new Set(jobs.map((job) => job.ref.queue))];
      const worker: FleetWorker = {
        workerId,
        host: hostname(),
        pid: process.pid,
        queues: queues.map((queue) => ({ queue })),
        versions: { jobterm: 'local', node: process.versions.node },
        startedAt,
        lastSeenAt: at,
        alive: true,
        jobs,
      };
      return { at, heartbeatInterval: 0, workers: [worker] };
    },
  };
}

function toFleetJob(info: RunningJobInfo, workerId: string): FleetJob {
  const reason = info.reason;
  const deadline = info.deadline?.getTime();
  return {
    ref: info.ref,
    workerId,
    ...(info.ref.name === undefined ? {} : { task: info.ref.name }),
    startedAt: info.startedAt,
    termination:
      reason === undefined
        ? { state: 'none' }
        : {
            // An escalated job leaves the registry at once, so a listed one past its deadline is about to.
            state: deadline !== undefined && deadline <= Date.now() ? 'escalated' : 'signalled',
            kind: reason.kind,
            message: reason.message,
            ...(reason.requestId === undefined ? {} : { requestId: reason.requestId }),
            ...(reason.requestedBy === undefined ? {} : { requestedBy: reason.requestedBy }),
            requestedAt: reason.requestedAt,
          },
  };
}
