/**
 * `Date.now()`, read once for the jobs that start or end together. A clock
 * read is a call into V8's runtime, about 270 instructions (bench
 * instructions), and a job's path had two (its start time, its completion in
 * RecentCompletions): at pg-boss batchSize 100 they were more than a tenth of
 * what jobterm added per job. The jobs of one batch start in one loop and,
 * sharing one handler call, end in one loop; inside `sharingOneClockRead()`
 * every `clockNow()` returns the time the loop began.
 *
 * Invariant: the shared time is set only while such a loop runs, and put
 * back as it was when it ends (loops can nest: a batch's jobs end inside
 * another's start), so no read outside one is ever stale.
 */
let shared: number | undefined;

/** `Date.now()`, or the time the enclosing `sharingOneClockRead()` began. */
export function clockNow(): number {
  return shared ?? Date.now();
}

/** Runs `loop` with one clock read for every `clockNow()` inside it. */
export function sharingOneClockRead(loop: () => void): void {
  const previous = shared;
  shared = previous ?? Date.now();
  try {
    loop();
  } finally {
    shared = previous;
  }
}
