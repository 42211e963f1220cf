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
 * long-lived signal once its jobs settle. A dispose is safe to call twice.
 *
 * A subscription is one object, told through a method of its target (the
 * running job) with the entry it was made for: a job's callback closure, the
 * list node and the dispose closure were three objects per job, and at
 * pg-boss batchSize 100 their allocation and collection showed in the count
 * (bench instructions).
 */

/** What a subscription tells when its signal aborts: the running job, given the entry it subscribed for. */
export interface AbortTarget<E> {
  forwardedAbort(entry: E): void;
}

/** One subscription to a signal's abort; `dispose()` ends it, safe to call twice. */
export interface Subscription {
  dispose(): void;
}

interface Fanout {
  readonly signal: AbortSignal;
  /** The jobs subscribed, a doubly linked list: add and remove without hashing or rehashing. */
  head: Subscriber | undefined;
  readonly fire: () => void;
}

// A list, not a Set: a pg-boss batch's jobs share one signal, and a Set
// shrank (rehashed) again and again as they left one by one, 1,500
// instructions per job in a batch of 20 (bench instructions, V8's
// Runtime_SetShrink).
class Subscriber implements Subscription {
  prev: Subscriber | undefined = undefined;
  next: Subscriber | undefined;
  removed = false;

  constructor(
    private readonly fanout: Fanout,
    readonly target: AbortTarget<unknown>,
    readonly entry: unknown,
  ) {
    this.next = fanout.head;
  }

  dispose(): void {
    if (this.removed) return;
    this.removed = true;
    const { fanout } = this;
    if (this.prev !== undefined) this.prev.next = this.next;
    else fanout.head = this.next;
    if (this.next !== undefined) this.next.prev = this.prev;
    if (fanout.head !== undefined) return;
    fanout.signal.removeEventListener('abort', fanout.fire);
    forget(fanout);
  }
}

/** The subscription of a signal that had aborted already: told at once, nothing to remove. */
const ENDED: Subscription = Object.freeze({ dispose() {} });

const fanouts = new WeakMap<AbortSignal, Fanout>();
const ONCE = { once: true } as const;

/**
 * Tells `target` once when `signal` aborts (at once if it has), for a
 * signal no other job forwards (`exclusive` in ForwardedSignal): it listens
 * on the signal directly, with no fan-out and no WeakMap entry, whose set
 * and delete for every job, with the collector's ephemeron work, cost about
 * 1,000 instructions per job at pg-boss batchSize 1 (bench instructions).
 */
export function listenOnceFor<E>(signal: AbortSignal, target: AbortTarget<E>, entry: E): Subscription {
  if (signal.aborted) {
    target.forwardedAbort(entry);
    return ENDED;
  }
  const onAbort = () => target.forwardedAbort(entry);
  signal.addEventListener('abort', onAbort, ONCE);
  return new DirectListener(signal, onAbort);
}

// The listener is a function, made by listenOnceFor(): EventTarget calls an
// object with handleEvent() through an async wrapper (Node 24's
// event_target.js), and the same closure made inside this constructor sent
// every job's objects to the old generation at batchSize 1 (Mark-Compacts
// under --trace-gc, the count 3.5 times higher; measured on Node 24).
class DirectListener implements Subscription {
  constructor(
    private readonly signal: AbortSignal,
    private readonly onAbort: () => void,
  ) {}

  // A no-op once the listener has fired (`once` removed it).
  dispose(): void {
    this.signal.removeEventListener('abort', this.onAbort);
  }
}

/** Tells `target` once when `signal` aborts (at once if it has), through the signal's one shared listener. */
export function forwardAbortTo<E>(signal: AbortSignal, target: AbortTarget<E>, entry: E): Subscription {
  let fanout = signal === lastSignal ? lastFanout : fanouts.get(signal);
  if (fanout === undefined) {
    // Only here: a signal with a fan-out has not aborted (its abort event
    // ends the fan-out at once), and `aborted` is a call into Node for every
    // job of a batch that shares the signal.
    if (signal.aborted) {
      target.forwardedAbort(entry);
      return ENDED;
    }
    const made: Fanout = {
      signal,
      head: undefined,
      fire: () => {
        forget(made);
        const subscribed: Subscriber[] = [];
        for (let at = made.head; at !== undefined; at = at.next) subscribed.push(at);
        made.head = undefined;
        // Oldest first, the order the jobs subscribed in (the list is newest first).
        for (let i = subscribed.length - 1; i >= 0; i--) {
          const subscriber = subscribed[i]!;
          subscriber.removed = true;
          subscriber.target.forwardedAbort(subscriber.entry);
        }
      },
    };
    fanout = made;
    fanouts.set(signal, fanout);
    signal.addEventListener('abort', fanout.fire, ONCE);
    lastSignal = signal;
    lastFanout = fanout;
  } else if (signal !== lastSignal) {
    // Stored only when it changes: each store of a young object into this
    // module's (old) scope is a write barrier, and a batch's jobs share one signal.
    lastSignal = signal;
    lastFanout = fanout;
  }
  // A node of our own, so the same target subscribed twice is two subscriptions.
  const subscriber = new Subscriber(fanout, target as AbortTarget<unknown>, entry);
  if (fanout.head !== undefined) fanout.head.prev = subscriber;
  fanout.head = subscriber;
  return subscriber;
}

// Held strongly only until another signal is forwarded or this fan-out ends
// (forget), so a settled batch's signal is not kept alive by the cache.
let lastSignal: AbortSignal | undefined;
let lastFanout: Fanout | undefined;

/** The fan-out ended (fired, or its last job left): drop it from the map and the cache. */
function forget(fanout: Fanout): void {
  if (fanouts.get(fanout.signal) === fanout) fanouts.delete(fanout.signal);
  if (lastFanout === fanout) {
    lastSignal = undefined;
    lastFanout = undefined;
  }
}
