import pg from 'pg';

/**
 * A worker's writer into `chaos.events` / `chaos.items`. Each write is
 * retried until it lands (connection kills and the server restart are part
 * of the test), for at most `giveUpAfter` ms; a write it gives up on is
 * reported on stderr and counted, so a lost event is never silent.
 */
export class EventLog {
  private readonly pool: pg.Pool;
  private pending = new Set<Promise<void>>();
  lost = 0;

  constructor(
    url: string,
    private readonly giveUpAfter = 30_000,
  ) {
    this.pool = new pg.Pool({ connectionString: url, max: 3, connectionTimeoutMillis: 5_000 });
    // An idle client's error (pg_terminate_backend, the restart) must not crash the worker.
    this.pool.on('error', () => {});
  }

  event(jobId: string, runId: string, event: string, detail: Record<string, unknown> = {}): Promise<void> {
    return this.write(
      'INSERT INTO chaos.events (job_id, run_id, event, pid, at_ms, detail) VALUES ($1, $2, $3, $4, $5, $6)',
      [jobId, runId, event, process.pid, Date.now(), JSON.stringify(detail)],
    );
  }

  item(jobId: string, item: number, runId: string): Promise<void> {
    return this.write('INSERT INTO chaos.items (job_id, item, run_id, at_ms) VALUES ($1, $2, $3, $4)', [
      jobId,
      item,
      runId,
      Date.now(),
    ]);
  }

  /** Waits for every write still retrying. */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  async close(): Promise<void> {
    await this.flush();
    await this.pool.end().catch(() => undefined);
  }

  private write(sql: string, values: unknown[]): Promise<void> {
    const started = Date.now();
    const attempt = async (): Promise<void> => {
      for (;;) {
        try {
          await this.pool.query(sql, values);
          return;
        } catch (error) {
          if (Date.now() - started > this.giveUpAfter) {
            this.lost++;
            process.stderr.write(
              `[chaos] event lost after ${this.giveUpAfter} ms: ${String(error)} ${JSON.stringify(values)}\n`,
            );
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    };
    const promise = attempt().finally(() => this.pending.delete(promise));
    this.pending.add(promise);
    return promise;
  }
}
