/**
 * Things a terminator's jobs make and share, that must not outlive it: the
 * isolation pools (src/isolation). Kept by key, made on first use, closed
 * by `terminator.shutdown()` (once its jobs have settled) and `close()`; a
 * use after closing makes a fresh one.
 */
export interface Closeable {
  close(): Promise<void>;
}

export class Resources {
  private readonly byKey = new Map<string, Closeable>();

  get<T extends Closeable>(key: string, make: () => T): T {
    let resource = this.byKey.get(key);
    if (resource === undefined) {
      resource = make();
      this.byKey.set(key, resource);
    }
    return resource as T;
  }

  /** Every resource made so far, for stats. */
  all(): Closeable[] {
    return [...this.byKey.values()];
  }

  /** Closes and forgets every resource; never rejects. */
  async close(): Promise<void> {
    const resources = [...this.byKey.values()];
    this.byKey.clear();
    await Promise.allSettled(resources.map((resource) => resource.close()));
  }
}
