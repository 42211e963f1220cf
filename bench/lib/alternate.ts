/**
 * Bare against jobterm, round by round in one run. On a shared machine the
 * load drifts during a run: alternating which side goes first (bare first on
 * even rounds, jobterm first on odd ones) spreads that drift over both sides,
 * where a fixed order would hand the second side every slowdown that grows
 * during a round pair. One untimed round of each side comes first, because the
 * first rounds in a process pay for module loading, JIT and the database's
 * cold caches.
 */

export type Side = 'bare' | 'jobterm';

export interface AlternatingRounds {
  /** Timed rounds of each side. */
  readonly rounds: number;
  /** One round of `side`; resolves with its rate. `round` is -1 for the warm-up. */
  readonly run: (side: Side, round: number) => Promise<number>;
  /** Called after each timed round pair with both rates, for the progress log. */
  readonly onRound?: (round: number, bare: number, jobterm: number) => void;
}

/** Returns every timed round's rate of each side, in round order. */
export async function alternateRounds(options: AlternatingRounds): Promise<Record<Side, number[]>> {
  const rates: Record<Side, number[]> = { bare: [], jobterm: [] };
  await options.run('bare', -1);
  await options.run('jobterm', -1);
  for (let round = 0; round < options.rounds; round++) {
    const order: Side[] = round % 2 === 0 ? ['bare', 'jobterm'] : ['jobterm', 'bare'];
    for (const side of order) rates[side].push(await options.run(side, round));
    options.onRound?.(round, rates.bare.at(-1)!, rates.jobterm.at(-1)!);
  }
  return rates;
}
