import type { Task } from 'graphile-worker';
import { expected } from '../../core/errors.js';
import { type IsolatedOptions, isolated } from '../../isolation/index.js';

/**
 * A graphile-worker task that runs a module's export isolated, with the
 * job's payload: put it in your task list like any task.
 *
 * ```ts
 * taskList: { render: isolatedTask(new URL('./render.js', import.meta.url), { runner: 'thread' }) }
 * ```
 *
 * The export gets `(payload, token)` (graphile's `helpers` stay in the
 * worker: they hold connections and cannot cross). It needs jobterm's plugin
 * (or `wrapTaskList()`), which runs every task as a job of the terminator;
 * escalation then really stops the thread or process, and a crash fails the
 * attempt with its cause (graphile's retry rules apply).
 */
export function isolatedTask(module: string | URL, options: IsolatedOptions): Task {
  if (typeof options !== 'object' || options === null) {
    throw expected('options', "an object with `runner: 'thread' | 'process'`", options);
  }
  const run = isolated(module, options);
  return async function jobtermIsolatedTask(payload) {
    await run(payload);
  };
}
