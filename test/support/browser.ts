import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

/**
 * A real headless Chromium: Debian's `chromium` package, driven by
 * playwright-core (which never downloads a browser of its own). `.ci/run`
 * installs the package when it is missing. Each launch gets a new, empty
 * profile directory, removed by `close()`.
 */

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function chromiumPath(): string {
  const fromEnv = process.env.JOBTERM_CHROMIUM;
  if (fromEnv) return fromEnv;
  try {
    return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(
      "No chromium on PATH: install Debian's package (apt-get install -y chromium) or set JOBTERM_CHROMIUM",
    );
  }
}

export interface Browser {
  readonly context: BrowserContext;
  /** Another context with its own cookies (a second user), in its own profile. */
  newUser(options?: { viewport?: { width: number; height: number }; isMobile?: boolean }): Promise<Browser>;
  close(): Promise<void>;
}

export async function launchBrowser(
  options: { viewport?: { width: number; height: number }; isMobile?: boolean } = {},
): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'jobterm-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(),
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: options.viewport ?? { width: 1280, height: 800 },
    ...(options.isMobile ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
  });
  let closed = false;
  return {
    context,
    newUser: (next) => launchBrowser(next),
    async close() {
      if (closed) return;
      closed = true;
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}
