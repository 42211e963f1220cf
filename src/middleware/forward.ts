/**
 * Forwards a queue's signal into the jobs that run under it, with one
 * listener on that signal however many jobs share it. graphile's
 * `helpers.abortSignal` is one signal for a whole pool: a listener per job
 * put as many listeners on it as jobs ran at once, and Node 20 warns at 11
 * (`MaxListenersExceededWarning: ... 11 abort listeners added to
 * [AbortSignal]`); raising that signal's limit would change an object that is
 * not ours. A signal used by one job (pg-boss's `job.signal`) gets one
 * listener, as before.
 *
 * Invariant: the signal's listener exists exactly while some job is
 * subscribed and the signal has not aborted, so nothing is left on a
 * long-lived signal once its jobs settle. The dispose is safe to call twice.
 */
interface Fanout {
  /** The jobs subscribed, a doubly linked list: add and remove without hashing or rehashing. */
  head: Subscriber | undefined;
  readonly fire: () => void;
}

// A list, not a Set: a pg-boss batch's jobs share one signal, and a Set
// shrank (rehashed) again and again as they left one by one, 1,500
// instructions per job in a batch of 20 (bench instructions, V8's
// Runtime_SetShrink).
interface Subscriber {
  readonly onAbort: () => void;
  prev: Subscriber | undefined;
  next: Subscriber | undefined;
  removed: boolean;
}

const fanouts = new WeakMap<AbortSignal, Fanout>();
const ONCE = { once: true } as const;

/**
 * Calls `onAbort` once when `signal` aborts (at once if it has), for a
 * signal no other job forwards (`exclusive` in ForwardedSignal): it listens
 * on the signal directly, with no fan-out and no WeakMap entry, whose set
 * and delete for every job, with the collector's ephemeron work, cost about
 * 1,000 instructions per job at pg-boss batchSize 1 (bench instructions).
 * Returns a dispose, safe to call twice.
 */
export function listenOnce(signal: AbortSignal, onAbort: () => void): () => void {
  if (signal.aborted) {
    onAbort();
    return () => {};
  }
  signal.addEventListener('abort', onAbort, ONCE);
  // A no-op once the listener has fired (`once` removed it).
  return () => signal.removeEventListener('abort', onAbort);
}

/** Calls `onAbort` once when `signal` aborts (at once if it has); returns a dispose. */
export function forwardAbort(signal: AbortSignal, onAbort: () => void): () => void {
  if (signal.aborted) {
    onAbort();
    return () => {};
  }
  let fanout = signal === lastSignal ? lastFanout : fanouts.get(signal);
  if (fanout === undefined) {
    const made: Fanout = {
      head: undefined,
      fire: () => {
        forget(signal, made);
        const subscribed: Subscriber[] = [];
        for (let at = made.head; at !== undefined; at = at.next) subscribed.push(at);
        made.head = undefined;
        // Oldest first, the order the jobs subscribed in (the list is newest first).
        for (let i = subscribed.length - 1; i >= 0; i--) {
          const subscriber = subscribed[i]!;
          subscriber.removed = true;
          subscriber.onAbort();
        }
      },
    };
    fanout = made;
    fanouts.set(signal, fanout);
    signal.addEventListener('abort', fanout.fire, ONCE);
  }
  lastSignal = signal;
  lastFanout = fanout;
  // A node of our own, so the same function forwarded twice is two subscriptions.
  const subscriber: Subscriber = { onAbort, prev: undefined, next: fanout.head, removed: false };
  if (fanout.head !== undefined) fanout.head.prev = subscriber;
  fanout.head = subscriber;
  const owner = fanout;
  return () => {
    if (subscriber.removed) return;
    subscriber.removed = true;
    if (subscriber.prev !== undefined) subscriber.prev.next = subscriber.next;
    else owner.head = subscriber.next;
    if (subscriber.next !== undefined) subscriber.next.prev = subscriber.prev;
    if (owner.head !== undefined) return;
    signal.removeEventListener('abort', owner.fire);
    forget(signal, owner);
  };
}

// Held strongly only until another signal is forwarded or this fan-out ends
// (forget), so a settled batch's signal is not kept alive by the cache.
let lastSignal: AbortSignal | undefined;
let lastFanout: Fanout | undefined;

/** The fan-out ended (fired, or its last job left): drop it from the map and the cache. */
function forget(signal: AbortSignal, fanout: Fanout): void {
  if (fanouts.get(signal) === fanout) fanouts.delete(signal);
  if (lastFanout === fanout) {
    lastSignal = undefined;
    lastFanout = undefined;
  }
}
