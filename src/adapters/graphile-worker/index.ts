/**
 * jobterm for graphile-worker 0.18: `jobterm/graphile-worker`.
 *
 * Worker processes add the plugin (`makeJobtermPreset({ terminator })`);
 * processes that only terminate jobs pass `graphileWorkerAdapter()` to their
 * terminator. See docs/graphile-worker.md.
 */
export {
  type GraphileWorkerAdapter,
  type GraphileWorkerAdapterOptions,
  graphileWorkerAdapter,
} from './adapter.js';
export type { JobtermHelpers } from './helpers.js';
export { isolatedTask } from './isolated.js';
export type { JobtermGraphileOptions, WrapTaskListOptions } from './options.js';
export { type JobtermPluginOptions, makeJobtermPlugin, makeJobtermPreset } from './plugin.js';
export { GRAPHILE_WORKER_QUEUE, jobRef } from './ref.js';
export { originalOf, wrapTask, wrapTaskList } from './wrap.js';
