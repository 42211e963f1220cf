// How the demo's child processes talk to it: each prints one JSON object a
// line on stdout, `{ event, at, ...data }`, and the demo turns each line into
// a timeline row (describe.ts). `at` is the child's own clock, so a row shows
// when something happened, not when the demo read it.
import type { Logger } from '../../src/index.js';

/** One line a child process printed. */
export type Message = { readonly event: string; readonly at: number } & Readonly<Record<string, unknown>>;

/** Prints one message as a JSON line. */
export function report(event: string, data: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, at: Date.now(), ...data })}\n`);
}

/**
 * A logger for jobterm that reports warnings and errors as `log` messages, so
 * anything unexpected shows in the timeline instead of on a stray stderr line.
 */
export const reportingLogger: Logger = {
  debug() {},
  info() {},
  warn: (message, meta) => report('log', { level: 'warn', message, meta: safe(meta) }),
  error: (message, meta) => report('log', { level: 'error', message, meta: safe(meta) }),
};

function safe(meta: Record<string, unknown> | undefined): unknown {
  if (meta === undefined) return undefined;
  return JSON.parse(JSON.stringify(meta, (_key, value) => (value instanceof Error ? value.message : value)));
}
