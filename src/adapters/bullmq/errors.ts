import { describeReason, type TerminationReason } from '../../core/reason.js';

// BullMQ 6.7 recognises its control errors by `name` as well as by class
// (`err.name == 'UnrecoverableError'` in Job.shouldRetryJob,
// `err.name == 'WaitingError'` / `'DelayedError'` in Worker.handleFailed),
// so jobterm makes its own: this subpath loads no BullMQ code.

/** Fails the job for good: BullMQ does not retry an `UnrecoverableError`. Its message becomes `failedReason`. */
export function unrecoverable(reason: TerminationReason): Error {
  const error = new Error(describeReason(reason));
  error.name = 'UnrecoverableError';
  return error;
}

/**
 * Tells BullMQ's worker that the job was already moved (back to wait, to
 * delayed, or to failed by jobterm): it then writes nothing and fetches the
 * next job.
 */
export function alreadyMoved(): Error {
  const error = new Error('jobterm moved this job');
  error.name = 'WaitingError';
  return error;
}
