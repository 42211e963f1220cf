/**
 * `jobterm/bullmq`: job termination for BullMQ 6 workers. Loads no BullMQ
 * code when required (its errors are recognised by name, and `Queue` is
 * imported on first use), so it works from jobterm's CommonJS build too.
 */
export { type BullmqAdapter, type BullmqAdapterOptions, bullmqAdapter } from './adapter.js';
export { type BullmqJobterm, type BullmqJobtermOptions, bullmqJobterm, type SandboxOptions } from './jobterm.js';
export { BULLMQ_QUEUE, bullmqRef } from './ref.js';
export type { JobtermProcessor, JobWithToken, SandboxedJob } from './types.js';
