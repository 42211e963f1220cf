import { IsolateCloneError } from './errors.js';

/** An error as isolate-runtime.cjs describes it for the trip back. */
export interface DescribedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly code?: string | number;
  readonly reason?: unknown;
  readonly cause?: DescribedError;
  readonly thrown?: string;
}

/** The isolate's error, rebuilt in the parent: same name, message, stack, code, reason, cause. */
export function rebuildError(described: DescribedError): Error {
  const error = new Error(
    described.message,
    described.cause === undefined ? undefined : { cause: rebuildError(described.cause) },
  );
  error.name = described.name;
  if (described.stack !== undefined) error.stack = described.stack;
  const extra = error as Error & { code?: unknown; reason?: unknown };
  if (described.code !== undefined) extra.code = described.code;
  if (described.reason !== undefined) extra.reason = reviveReason(described.reason);
  return error;
}

function reviveReason(reason: unknown): unknown {
  if (typeof reason !== 'object' || reason === null) return reason;
  const { requestedAt } = reason as { requestedAt?: unknown };
  return typeof requestedAt === 'string' ? { ...reason, requestedAt: new Date(requestedAt) } : reason;
}

/**
 * The payload refused by the serializer that carries it, as a clear error:
 * which value could not cross (its path), and what is accepted. Walks the
 * payload only on this error path.
 */
export function payloadCloneError(
  payload: unknown,
  cause: unknown,
  where: string,
  check: (value: unknown) => void,
): IsolateCloneError {
  const found = findUncloneable(payload, 'payload', check, new Set(), 0);
  const what = found === undefined ? '' : `${found.path} is ${found.description}; `;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new IsolateCloneError(
    `jobterm: the payload for ${where} cannot be sent to the isolate: ${what}${detail}. Payloads must be structured-cloneable (no functions, symbols, class instances with native state)`,
    { side: 'payload', ...(found === undefined ? {} : { path: found.path }) },
    { cause },
  );
}

function findUncloneable(
  value: unknown,
  path: string,
  check: (value: unknown) => void,
  visited: Set<object>,
  depth: number,
): { path: string; description: string } | undefined {
  if (passes(value, check)) return undefined;
  if (typeof value === 'object' && value !== null && !visited.has(value) && depth < 12) {
    visited.add(value);
    const entries: Array<[string, unknown]> =
      value instanceof Map
        ? [...value.entries()].map(([key, item], i) => [`${path}.get(${describeKey(key, i)})`, item])
        : value instanceof Set
          ? [...value].map((item, i) => [`${path}[set item ${i}]`, item])
          : Object.entries(value).map(([key, item]) => [
              Array.isArray(value) ? `${path}[${key}]` : `${path}.${key}`,
              item,
            ]);
    for (const [childPath, child] of entries) {
      const found = findUncloneable(child, childPath, check, visited, depth + 1);
      if (found !== undefined) return found;
    }
  }
  return { path, description: describeValue(value) };
}

function passes(value: unknown, check: (value: unknown) => void): boolean {
  try {
    check(value);
    return true;
  } catch {
    return false;
  }
}

function describeKey(key: unknown, index: number): string {
  return typeof key === 'string' ? JSON.stringify(key) : `key ${index}`;
}

function describeValue(value: unknown): string {
  if (typeof value === 'function') return `a function${value.name ? ` (${value.name})` : ''}`;
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value === 'object' && value !== null) return `a ${value.constructor?.name ?? 'null-prototype object'}`;
  return `a ${typeof value}`;
}
