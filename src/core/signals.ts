import type { Logger } from './logger.js';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * SIGTERM/SIGINT run `shutdown()` and then exit; a second signal escalates at
 * once (`shutdown()` called again). Returns a dispose that removes the
 * handlers and is safe to call twice.
 */
export function installSignalHandlers(
  shutdown: () => Promise<unknown>,
  logger: Logger,
  exit: (code: number) => void = (code) => process.exit(code),
): () => void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    received++;
    logger.info(received === 1 ? `${signal}: shutting down` : `${signal} again: escalating now`);
    const result = shutdown();
    if (received === 1) {
      result.then(
        () => exit(0),
        (error: unknown) => {
          logger.error('shutdown failed', { error });
          exit(1);
        },
      );
    }
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  let disposed = false;
  return () => {
    if (disposed) return;
    disposed = true;
    for (const signal of SIGNALS) process.off(signal, onSignal);
  };
}
