import { currentJob } from '../core/context.js';
import { checkKnownKeys, expected, JobTerminatedError } from '../core/errors.js';
import { formatRef, type JobRef, validateJobRef } from '../core/job-ref.js';
import { milliseconds } from '../core/options.js';
import type { JsonValue, ProgressStore } from '../core/progress.js';
import { makeReason, type TerminationReason } from '../core/reason.js';
import { peekReason, type TerminationToken } from '../core/token.js';
import { interruptFromInside, markProgressSaved } from '../middleware/run-job.js';
import { checkCursor } from './json.js';

/** One item of an iteration and the cursor that points just past it. */
export interface CursorItem<T, C extends JsonValue> {
  readonly item: T;
  readonly cursor: C;
}

export interface IterateOptions<T, C extends JsonValue> {
  /**
   * The items after `cursor` (undefined: from the beginning), in order, each
   * with its cursor. Called once per run; on a resume it gets the saved cursor.
   * Keyset pagination (`WHERE id > $cursor ORDER BY id LIMIT n`) fits well.
   */
  source(cursor: C | undefined): AsyncIterable<CursorItem<T, C>> | Iterable<CursorItem<T, C>>;
  /** Processes one item. Throwing fails the job as usual; its retry resumes after the last saved cursor. */
  each(item: T, info: { readonly cursor: C; readonly index: number; readonly token: TerminationToken }): unknown;
  /** @default the running job's terminator's progress store (postgresStore() has one) */
  progress?: ProgressStore;
  /** @default the running job */
  job?: JobRef;
  /**
   * Save the cursor after this many items, or this many ms, whichever comes
   * first: a crash (SIGKILL, a lost machine) repeats at most that much work.
   * Termination always saves. @default { items: 100, ms: 5_000 }
   */
  saveEvery?: { items?: number; ms?: number };
  /**
   * Interrupt itself after this long and go back in the queue, without
   * spending an attempt, to continue later (job-iteration's
   * `max_job_runtime`): no job holds a worker forever, and deploys never wait
   * on one. @default no limit
   */
  maxRuntime?: number;
  /** Checked between items; when it returns true the job pauses: back in the queue, to run again after `delay` ms. */
  throttle?: { when: () => boolean | Promise<boolean>; delay: number };
  onStart?: () => unknown;
  onResume?: (cursor: C) => unknown;
  /** The job is stopping (shutdown, kill, maxRuntime, throttle); `cursor` was just saved. */
  onInterrupt?: (cursor: C | undefined, reason: TerminationReason) => unknown;
  onComplete?: (summary: IterateSummary<C>) => unknown;
}

export interface IterateSummary<C extends JsonValue> {
  /** Items processed in this run. */
  readonly processed: number;
  /** Where this run started (undefined: the beginning). */
  readonly resumedFrom: C | undefined;
  /** The last item's cursor. */
  readonly cursor: C | undefined;
}

const OPTION_KEYS = [
  'source',
  'each',
  'progress',
  'job',
  'saveEvery',
  'maxRuntime',
  'throttle',
  'onStart',
  'onResume',
  'onInterrupt',
  'onComplete',
];

/**
 * Runs a long job as an iteration that can stop between any two items and
 * resume after the last one it finished. Between items it checks the job's
 * token (memory only: no database round trip per item). On `shutdown`,
 * `maxRuntime` or a throttle pause it saves the cursor and throws the job's
 * `JobTerminatedError`: the job goes back in the queue without spending an
 * attempt, and the next run resumes after the cursor. On `kill` it saves the
 * cursor for the record and ends for good. On completion it clears the cursor.
 *
 * Call it inside a job run by a terminator (any adapter); return its result
 * from the job.
 */
export async function iterate<T, C extends JsonValue>(options: IterateOptions<T, C>): Promise<IterateSummary<C>> {
  const settings = resolve(options);
  const { token, ref, progress } = settings;
  const started = Date.now();
  const resumedFrom = (await progress.load(ref)) as C | undefined;
  let cursor = resumedFrom;
  let processed = 0;
  let unsaved = 0;
  let lastSave = started;

  const save = async () => {
    if (cursor === undefined || unsaved === 0) return;
    await progress.save(ref, checkCursor(cursor));
    unsaved = 0;
    lastSave = Date.now();
    markProgressSaved(token);
  };
  const stop = async (reason: TerminationReason): Promise<never> => {
    await save();
    await options.onInterrupt?.(cursor, reason);
    const stopping = peekReason(token);
    throw stopping === undefined
      ? new Error('jobterm: interrupted without a reason')
      : new JobTerminatedError(stopping);
  };

  if (resumedFrom === undefined) await options.onStart?.();
  else await options.onResume?.(resumedFrom);

  try {
    const items = settings.source(resumedFrom);
    if (typeof items !== 'object' || items === null || !(Symbol.asyncIterator in items || Symbol.iterator in items)) {
      throw expected('source', 'a function returning an iterable or async iterable of { item, cursor }', items);
    }
    // A sync source is walked without `for await`, which would add a
    // microtask per item; `each` is awaited only when it returns a promise.
    const syncItems = Symbol.asyncIterator in items ? undefined : (items as Iterable<CursorItem<T, C>>);
    // iterate() reads the token on the job's behalf (peekReason): stopping
    // because of it ends the job by throwing, which is the termination; a
    // source used up is a completion whether or not the token fired.
    const checkBetweenItems = async () => {
      const reason = peekReason(token);
      if (reason !== undefined) await stop(reason);
      if (settings.maxRuntime !== undefined && Date.now() - started >= settings.maxRuntime) {
        interruptFromInside(
          token,
          makeReason('timeout', `maxRuntime of ${settings.maxRuntime} ms reached; resuming later`),
        );
        await stop(peekReason(token)!);
      }
      if (settings.throttle !== undefined && (await settings.throttle.when())) {
        interruptFromInside(
          token,
          makeReason('timeout', `throttled; resuming in ${settings.throttle.delay} ms`),
          settings.throttle.delay,
        );
        await stop(peekReason(token)!);
      }
    };
    const needsStep = () =>
      peekReason(token) !== undefined ||
      settings.throttle !== undefined ||
      (settings.maxRuntime !== undefined && Date.now() - started >= settings.maxRuntime);
    const handle = (next: CursorItem<T, C>): unknown => {
      if (next === null || typeof next !== 'object' || !('cursor' in next)) {
        throw expected('source item', 'an object `{ item, cursor }`', next);
      }
      return settings.each(next.item, { cursor: next.cursor, index: processed, token });
    };
    /** Records a finished item; true when it is time to save. */
    const advance = (next: CursorItem<T, C>): boolean => {
      cursor = next.cursor;
      processed++;
      unsaved++;
      return unsaved >= settings.saveItems || Date.now() - lastSave >= settings.saveMs;
    };
    if (syncItems !== undefined) {
      for (const next of syncItems) {
        if (needsStep()) await checkBetweenItems();
        const result = handle(next);
        if (isThenable(result)) await result;
        if (advance(next)) await save();
      }
    } else {
      for await (const next of items as AsyncIterable<CursorItem<T, C>>) {
        if (needsStep()) await checkBetweenItems();
        await handle(next);
        if (advance(next)) await save();
      }
    }
  } catch (error) {
    // Keep what was done: a failed item's retry, or a termination that
    // surfaced as an error inside `each`, resumes after the last finished item.
    await save().catch(() => undefined);
    const reason = peekReason(token);
    if (reason !== undefined && !isStopError(error, reason)) await options.onInterrupt?.(cursor, reason);
    throw error;
  }
  // The source is used up: the iteration completed, even if the token fired
  // during its last item (a job that did all its work is not put back).
  await progress.clear(ref);
  const summary: IterateSummary<C> = { processed, resumedFrom, cursor };
  await options.onComplete?.(summary);
  return summary;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function isStopError(error: unknown, reason: TerminationReason): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { name?: unknown }).name === 'JobTerminatedError' &&
    (error as { reason?: unknown }).reason === reason
  );
}

function resolve<T, C extends JsonValue>(options: IterateOptions<T, C>) {
  if (typeof options !== 'object' || options === null) throw expected('options', 'an object', options);
  checkKnownKeys('iterate() options', options, OPTION_KEYS);
  if (typeof options.source !== 'function') throw expected('source', 'a function (cursor) => iterable', options.source);
  if (typeof options.each !== 'function') throw expected('each', 'a function (item, info) => void', options.each);
  const job = currentJob();
  if (job === undefined) {
    throw new Error(
      'jobterm: iterate() must be called inside a job run by a terminator (an adapter or terminator.run())',
    );
  }
  const ref = options.job === undefined ? job.ref : validateJobRef(options.job);
  if (
    options.progress !== undefined &&
    (typeof options.progress !== 'object' ||
      options.progress === null ||
      typeof options.progress.load !== 'function' ||
      typeof options.progress.save !== 'function')
  ) {
    throw expected('progress', 'a ProgressStore with load, save and clear', options.progress);
  }
  for (const hook of ['onStart', 'onResume', 'onInterrupt', 'onComplete'] as const) {
    if (options[hook] !== undefined && typeof options[hook] !== 'function')
      throw expected(hook, 'a function', options[hook]);
  }
  const progress = options.progress ?? job.progress;
  if (progress === undefined) {
    throw new TypeError(
      `jobterm: iterate() for ${formatRef(ref)} has nowhere to save its cursor: pass \`progress\`, or give the terminator a store with one (postgresStore())`,
    );
  }
  const saveItems = options.saveEvery?.items ?? 100;
  if (!Number.isInteger(saveItems) || saveItems < 1) {
    throw expected('saveEvery.items', 'a positive whole number', saveItems);
  }
  const saveMs = milliseconds('saveEvery.ms', options.saveEvery?.ms ?? 5_000);
  const maxRuntime = options.maxRuntime === undefined ? undefined : milliseconds('maxRuntime', options.maxRuntime);
  if (options.throttle !== undefined) {
    if (typeof options.throttle !== 'object' || options.throttle === null) {
      throw expected('throttle', 'an object `{ when, delay }`', options.throttle);
    }
    if (typeof options.throttle.when !== 'function')
      throw expected('throttle.when', 'a function', options.throttle.when);
    milliseconds('throttle.delay', options.throttle.delay);
  }
  return {
    token: job.token,
    ref,
    progress,
    source: options.source,
    each: options.each,
    saveItems,
    saveMs,
    maxRuntime,
    throttle: options.throttle,
  };
}
