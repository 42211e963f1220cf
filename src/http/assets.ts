import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The page's files (HTML, script, style), shipped as plain files in the
 * package: `src/http/assets/` in the sources, `dist/http/assets/` once built
 * (tsup copies them; the built code sits in `dist/` or a chunk beside it).
 * Read once, on first use, and served from memory with an ETag.
 */

export interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

const FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

let cache: Map<string, Asset> | undefined;

export function asset(name: string): Asset | undefined {
  cache ??= load();
  return cache.get(name);
}

export function assetNames(): string[] {
  return Object.keys(FILES);
}

function load(): Map<string, Asset> {
  const dir = assetsDir();
  const assets = new Map<string, Asset>();
  for (const [name, type] of Object.entries(FILES)) {
    const body = readFileSync(new URL(name, dir));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    assets.set(name, { body, type, etag });
  }
  return assets;
}

function assetsDir(): URL {
  for (const candidate of ['./http/assets/', './assets/']) {
    const dir = new URL(candidate, import.meta.url);
    if (existsSync(fileURLToPath(new URL('index.html', dir)))) return dir;
  }
  throw new Error(`jobterm: the dashboard's files are missing beside ${fileURLToPath(import.meta.url)}`);
}
