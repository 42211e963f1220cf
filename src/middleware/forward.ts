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
  readonly subscribers: Set<() => void>;
  readonly fire: () => void;
}

const fanouts = new WeakMap<AbortSignal, Fanout>();

/** Calls `onAbort` once when `signal` aborts (at once if it has); returns a dispose. */
export function forwardAbort(signal: AbortSignal, onAbort: () => void): () => void {
  if (signal.aborted) {
    onAbort();
    return () => {};
  }
  let fanout = fanouts.get(signal);
  if (fanout === undefined) {
    const subscribers = new Set<() => void>();
    const fire = () => {
      fanouts.delete(signal);
      for (const subscriber of [...subscribers]) subscriber();
      subscribers.clear();
    };
    fanout = { subscribers, fire };
    fanouts.set(signal, fanout);
    signal.addEventListener('abort', fire, { once: true });
  }
  const { subscribers, fire } = fanout;
  // A wrapper of our own, so the same function forwarded twice is two subscriptions.
  const subscriber = () => onAbort();
  subscribers.add(subscriber);
  return () => {
    if (!subscribers.delete(subscriber) || subscribers.size > 0) return;
    signal.removeEventListener('abort', fire);
    if (fanouts.get(signal)?.fire === fire) fanouts.delete(signal);
  };
}
