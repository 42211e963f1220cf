// Reports what a worker's terminator does, as timeline messages: how each job
// ended (after its queue write), escalations, and the shutdown's start and end.
import type { Terminator } from '../../../src/index.js';
import { report } from '../protocol.js';

export function reportTerminatorEvents(terminator: Terminator): void {
  terminator.on('terminated', ({ ref, reason, escalated }) =>
    report('terminated', { id: ref.id, kind: reason.kind, message: reason.message, escalated }),
  );
  terminator.on('interrupted', ({ ref, reason, escalated, resumable }) =>
    report('interrupted', { id: ref.id, kind: reason.kind, escalated, resumable }),
  );
  terminator.on('escalated', ({ ref, reason }) => report('escalated', { id: ref.id, kind: reason.kind }));
  terminator.on('unresponsive', ({ ref }) => report('unresponsive', { id: ref.id }));
  terminator.on('shutdown:start', ({ timeout }) =>
    report('shutdown-start', { timeout, running: terminator.running().map((job) => job.ref.id) }),
  );
  terminator.on('shutdown:end', ({ jobs, escalated, durationMs }) =>
    report('shutdown-end', {
      durationMs,
      escalated,
      jobs: jobs.map((job) => ({ id: job.ref.id, status: job.status, escalated: job.escalated })),
    }),
  );
  terminator.on('error', ({ error, during, ref }) =>
    report('log', {
      level: 'error',
      message: `${during}: ${error instanceof Error ? error.message : String(error)}`,
      ...(ref ? { id: ref.id } : {}),
    }),
  );
}
