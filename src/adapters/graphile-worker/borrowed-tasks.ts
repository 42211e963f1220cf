import type { Task, TaskList } from 'graphile-worker';
import type { Logger } from '../../core/logger.js';
import { originalOf, wrapTaskForPools } from './wrap.js';

/**
 * Task lists the plugin could not replace with a copy, lent to it by the pools
 * that run them. graphile-worker 0.18's workers call
 * `tasks[job.task_identifier]` on the very object given to `runTaskList()`,
 * `runTaskListOnce()` or `run(options, tasks)` (main.js `_runTaskList` hands it
 * to every worker and the local queue), and `startWorker`'s `event.tasks` is
 * that object: assigning another one changes nothing. So for those calls the
 * plugin swaps the functions in that object for its own, and puts the
 * caller's back when the last pool that borrowed the object ends. Each
 * swapped-in function finds the terminator of the pool that claimed the job
 * at call time (`wrapTaskForPools()`), so two runners sharing one object, one
 * after the other or at once, each run their jobs under their own terminator.
 * (A `taskList` passed in the options never gets here: the plugin's `init`
 * gives graphile a wrapped copy instead.)
 */
interface Loan {
  /** The pools (by id) that borrowed the object and have not ended. */
  readonly pools: Set<string>;
  /** What was swapped: the caller's function and the one put in its place, by task identifier. */
  readonly swapped: Map<string, { readonly original: Task; readonly wrapper: Task }>;
}

const loans = new WeakMap<object, Loan>();

/**
 * Lends `tasks` to pool `poolId` (again, for each of its workers: tasks added
 * since are wrapped too). Returns the pool's give-back, safe to call twice;
 * the caller's functions are restored when the last borrower gives it back.
 */
export function borrowTaskList(tasks: TaskList, poolId: string, logger: Logger): () => void {
  const list = tasks as Record<string, Task | undefined>;
  let loan = loans.get(list);
  if (loan === undefined) {
    loan = { pools: new Set(), swapped: new Map() };
    loans.set(list, loan);
  }
  loan.pools.add(poolId);
  for (const identifier of Object.keys(list)) {
    const task = list[identifier];
    if (typeof task !== 'function' || originalOf(task) !== undefined) continue;
    if (Object.isFrozen(list)) {
      logger.error(
        'the task list is frozen, so its tasks run without jobterm; pass it as the `taskList` option, or wrap it with wrapTaskList() first',
        { task: identifier },
      );
      break;
    }
    const wrapper = wrapTaskForPools(identifier, task);
    list[identifier] = wrapper;
    loan.swapped.set(identifier, { original: task, wrapper });
  }
  const current = loan;
  return () => {
    if (!current.pools.delete(poolId) || current.pools.size > 0) return;
    for (const [identifier, { original, wrapper }] of current.swapped) {
      // Left alone if the caller put a function of their own there meanwhile.
      if (list[identifier] === wrapper) list[identifier] = original;
    }
    if (loans.get(list) === current) loans.delete(list);
  };
}
