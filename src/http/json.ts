import type { IncomingMessage, ServerResponse } from 'node:http';

/** An answer other than 2xx: status, a message that names what was wrong, and the field when one was. */
export class HttpError extends Error {
  override readonly name = 'HttpError' as const;
  readonly status: number;
  readonly field: string | undefined;

  constructor(status: number, message: string, field?: string) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

export function isHttpError(error: unknown): error is HttpError {
  return error instanceof Error && error.name === 'HttpError' && typeof (error as HttpError).status === 'number';
}

/**
 * A TypeError from jobterm's validation (`expected()` / `checkKnownKeys()`)
 * becomes a 400 naming the field the message names.
 */
export function badInput(error: unknown): HttpError | undefined {
  if (!(error instanceof Error) || error.name !== 'TypeError') return undefined;
  const field = /^(?:Expected|Unknown option|Unknown filter) `([^`]+)`/.exec(error.message)?.[1];
  return new HttpError(400, error.message, field);
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
} as const;

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, error: HttpError, headers: Record<string, string> = {}): void {
  sendJson(
    res,
    error.status,
    {
      error: {
        status: error.status,
        message: error.message,
        ...(error.field === undefined ? {} : { field: error.field }),
      },
    },
    headers,
  );
}

export function sendBytes(
  res: ServerResponse,
  status: number,
  body: string | Buffer,
  headers: Record<string, string>,
): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-length': String(Buffer.byteLength(body)),
    ...headers,
  });
  res.end(body);
}

/** Largest request body read; a terminate or bulk request is far smaller. */
export const MAX_BODY_BYTES = 256 * 1024;

/**
 * The request's body as text. A framework that parsed it already (Express's
 * `express.json()`, `express.urlencoded()`) leaves `req.body` and an ended
 * stream: that value is used instead.
 */
export async function readBody(req: IncomingMessage): Promise<{ text: string } | { parsed: unknown }> {
  const preParsed = (req as { body?: unknown }).body;
  if (preParsed !== undefined && req.readableEnded) return { parsed: preParsed };
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `Request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return { text: Buffer.concat(chunks).toString('utf8') };
}

/** A JSON object body; anything else is a 400 (or 415 for another content type). */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = String(req.headers['content-type'] ?? '');
  if (!/^application\/json\b/i.test(type)) {
    throw new HttpError(415, `Expected \`content-type\` to be application/json, got ${JSON.stringify(type)}`);
  }
  const body = await readBody(req);
  let value: unknown;
  if ('parsed' in body) value = body.parsed;
  else {
    try {
      value = body.text === '' ? {} : JSON.parse(body.text);
    } catch {
      throw new HttpError(400, 'Expected the body to be JSON, got text that does not parse');
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, 'Expected the body to be a JSON object');
  }
  return value as Record<string, unknown>;
}

/** A form body (the sign-in form), as `URLSearchParams`. */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const body = await readBody(req);
  if ('parsed' in body) {
    const parsed = body.parsed;
    const params = new URLSearchParams();
    if (typeof parsed === 'object' && parsed !== null) {
      for (const [key, value] of Object.entries(parsed)) if (typeof value === 'string') params.set(key, value);
    }
    return params;
  }
  return new URLSearchParams(body.text);
}
