export type { QueueAdapter, QueueJobState, RescueInput } from './core/adapter.js';
export { currentToken, isTerminating, throwIfTerminating } from './core/context.js';
export { isJobTerminatedError, JobTerminatedError } from './core/errors.js';
export type { TerminatorEventName, TerminatorEvents } from './core/events.js';
export type {
  FleetJob,
  FleetOptions,
  FleetQueue,
  FleetSnapshot,
  FleetTerminationState,
  FleetWorker,
} from './core/fleet.js';
export type { PresenceOptions } from './core/heartbeat.js';
export { formatRef, type JobRef } from './core/job-ref.js';
export type { Logger } from './core/logger.js';
export { DEFAULTS, type TerminatorOptions } from './core/options.js';
export type { JobDetails, JobOutcome, JobStatus, RunningJobInfo } from './core/outcome.js';
export {
  type DeadWorker,
  type HeartbeatResult,
  type OpenKill,
  PRESENCE_DEFAULTS,
  type PresenceJob,
  type PresenceRecord,
  type PresenceStore,
  type RescueResult,
} from './core/presence.js';
export type { JsonValue, ProgressStore } from './core/progress.js';
export { memoryProgressStore } from './core/progress.js';
export type { TerminationKind, TerminationReason } from './core/reason.js';
export type { ShutdownReport } from './core/shutdown-report.js';
export type {
  KillRequest,
  KillStore,
  KillStoreListener,
  NewKillRequest,
  RequestOutcome,
  RequestStatus,
  WithdrawStatus,
} from './core/store.js';
export type { TerminationToken } from './core/token.js';
export {
  DatabaseUnavailableError,
  isDatabaseUnavailableError,
  isQueueUnreadableError,
  QueueUnreadableError,
} from './core/unavailable.js';
export { JOBTERM_VERSION } from './core/version.js';
export {
  IsolateCloneError,
  IsolateCrashError,
  type IsolateCrashKind,
  type IsolatedOptions,
  type IsolatePoolStats,
  type IsolateRunner,
  isIsolateCloneError,
  isIsolateCrashError,
  isolated,
  isolationStats,
  runInWorkerThread,
  type ThreadToken,
  type WorkerThreadOptions,
} from './isolation/index.js';
export { type CursorItem, type IterateOptions, type IterateSummary, iterate } from './iteration/index.js';
export type { RunOptions } from './middleware/run-job.js';
export {
  createTerminator,
  type ShutdownOptions,
  type ShutdownParticipant,
  type TerminateOptions,
  type TerminateResult,
  type TerminateStatus,
  Terminator,
} from './terminator/terminator.js';
