/**
 * One figure of a benchmark, measured side by side with its reference in the
 * same run, so a noisy shared machine moves both. `lowerIsBetter` tells how to
 * read the ratio (figure / reference).
 */
export interface Figure {
  /** e.g. 'kill delivery, terminate() -> token fired in another process' */
  readonly name: string;
  readonly unit:
    | 'ms'
    | 'µs'
    | 'jobs/s'
    | 'items/s'
    | 'queries/s'
    | 'rows'
    | '%'
    | 'instructions'
    | 'bytes'
    | 'statements';
  readonly samples: readonly number[];
  readonly reference?: { readonly name: string; readonly samples: readonly number[] };
  readonly lowerIsBetter: boolean;
  /** The goal, in words, e.g. 'p50 within 2x of raw; p99 < 5 ms'. */
  readonly goal?: string;
  /** Anything a reader needs to interpret the figure. */
  readonly notes?: string;
}

export interface BenchContext {
  /** A PostgreSQL server URL (embedded or DATABASE_URL); make your own database with `ctx.createDatabase()`. */
  readonly serverUrl: string;
  /** A fresh database on that server, dropped when the suite ends. */
  createDatabase(prefix: string): Promise<{ url: string; name: string }>;
  /** A Redis (REDIS_URL, or a redis-server the run started), or undefined when none is at hand: the BullMQ suite skips. */
  readonly redisUrl: string | undefined;
  /** `--quick`: small sizes, for CI; no timing is asserted. */
  readonly quick: boolean;
  log(message: string): void;
}

export interface BenchSuite {
  readonly name: string;
  run(ctx: BenchContext): Promise<Figure[]>;
}
