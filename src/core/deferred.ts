export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  readonly settled: boolean;
}

/** A promise resolved from outside; only the first resolve counts. It never rejects. */
export function makeDeferred<T>(): Deferred<T> {
  let settle!: (value: T) => void;
  let settled = false;
  const promise = new Promise<T>((resolve) => {
    settle = resolve;
  });
  return {
    promise,
    resolve(value) {
      if (settled) return;
      settled = true;
      settle(value);
    },
    get settled() {
      return settled;
    },
  };
}
