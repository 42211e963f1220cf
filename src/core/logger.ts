/** Structured enough for pino or console; jobterm logs little, and nothing per job below `debug`. */
export interface Logger {
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

/** Warnings and errors to stderr; debug and info only with `DEBUG` containing `jobterm`. */
export function makeConsoleLogger(): Logger {
  const verbose = /\bjobterm\b/.test(process.env.DEBUG ?? '');
  const write = (level: string, message: string, meta?: Record<string, unknown>) => {
    const suffix = meta && Object.keys(meta).length > 0 ? ` ${safeJson(meta)}` : '';
    process.stderr.write(`[jobterm] ${level} ${message}${suffix}\n`);
  };
  return {
    debug: (m, meta) => verbose && write('debug', m, meta),
    info: (m, meta) => verbose && write('info', m, meta),
    warn: (m, meta) => write('warn', m, meta),
    error: (m, meta) => write('error', m, meta),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v) => (v instanceof Error ? { name: v.name, message: v.message } : v));
  } catch {
    return '[unserialisable]';
  }
}
