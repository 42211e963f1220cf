// The ~200 jobs of one chaos run, drawn from the seed. Durations are chosen
// against the workers' timeouts (worker.ts): plain tasks are always shorter
// than shutdownTimeout (3 s); stubborn jobs always outlast killTimeout (1 s)
// and sometimes shutdownTimeout.
import type { ChaosPayload } from './jobs.js';
import type { Rng } from './rng.js';

export function planJobs(rng: Rng, count: number, prefix: string): ChaosPayload[] {
  const jobs: ChaosPayload[] = [];
  for (let i = 0; i < count; i++) {
    const key = `${prefix}-${i}`;
    const roll = rng.next();
    if (roll < 0.35) jobs.push({ key, kind: 'plain', ms: rng.int(50, 1_500) });
    else if (roll < 0.6) jobs.push({ key, kind: 'loop', ms: rng.int(400, 3_000), returnOnSee: rng.chance(0.5) });
    else if (roll < 0.8)
      jobs.push({
        key,
        kind: 'iterate',
        ms: 0,
        items: rng.int(10, 30),
        itemMs: rng.int(20, 60),
        ...(rng.chance(0.4) ? { maxRuntime: rng.int(300, 800) } : {}),
      });
    else jobs.push({ key, kind: 'stubborn', ms: rng.int(1_500, 4_500) });
  }
  return jobs;
}
