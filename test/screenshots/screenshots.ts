/**
 * `npm run screenshots`: the images in docs/dashboard.md and the README, made
 * against real workers (graphile-worker and pg-boss processes, see
 * test/fixtures/http/) in a real headless Chromium. Uses DATABASE_URL, or an
 * embedded PostgreSQL. Writes docs/images/dashboard-*.png, or to the folder
 * given as the first argument.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { type DashboardPageHarness, startHarness } from '../fixtures/http/harness.js';
import { type Browser, launchBrowser } from '../support/browser.js';
import { withDatabase } from '../support/db.js';
import { startEmbeddedPostgres } from '../support/embedded-postgres.js';

const out = resolve(process.argv[2] ?? fileURLToPath(new URL('../../docs/images/', import.meta.url)));
const ADMIN = `alice:${randomBytes(18).toString('base64url')}`;
const READER = `bob:${randomBytes(18).toString('base64url')}`;

async function main() {
  await mkdir(out, { recursive: true });
  const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres();
  const serverUrl = process.env.DATABASE_URL ?? embedded!.url;
  const name = `jobterm_screenshots_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  let harness: DashboardPageHarness | undefined;
  let browser: Browser | undefined;
  try {
    harness = await startHarness({
      databaseUrl: withDatabase(serverUrl, name),
      tokens: { admin: ADMIN, read: READER },
      workersPerQueue: 2,
      // The stubborn job stays 'signalled' while the pictures are taken.
      workerEnv: { JT_KILL_TIMEOUT: '60000' },
    });
    const h = harness;
    // A fleet with something to show: plain jobs, an iterate() with a cursor, one being terminated, a finished kill.
    for (let i = 0; i < 3; i++) await h.addJob('graphile-worker');
    await h.addJob('graphile-worker', { task: 'report', iterate: true });
    for (let i = 0; i < 3; i++) await h.addJob('pg-boss');
    const stubborn = await h.addJob('graphile-worker', { stubborn: true });
    const done = await h.addJob('pg-boss');
    await h.terminator.terminate(
      { queue: 'pg-boss', name: 'reports', id: done },
      { reason: 'customer cancelled the export', requestedBy: 'alice', wait: true },
    );
    await h.terminator.terminate(
      { queue: 'graphile-worker', id: stubborn },
      { reason: 'runaway import', requestedBy: 'alice' },
    );
    await sleep(1500);

    browser = await launchBrowser({ viewport: { width: 1280, height: 860 } });
    const page = await browser.context.newPage();
    await page.goto(h.url);
    await page.screenshot({ path: join(out, 'dashboard-signin.png') });
    await page.getByLabel('Dashboard token').fill(ADMIN.slice('alice:'.length));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#jobs-table tbody tr').nth(7).waitFor();
    await sleep(1200);
    await page.screenshot({ path: join(out, 'dashboard.png'), fullPage: true });

    const target = page.locator('#jobs-table tbody tr', { hasText: 'pg-boss/reports#' }).first();
    await target.getByRole('button', { name: /Terminate/ }).click();
    await page.locator('#terminate-reason').fill('duplicate run, ticket 4711');
    await page.getByRole('dialog').getByRole('button', { name: 'Terminate' }).click();
    await page.locator('#terminate-result.ok').waitFor({ timeout: 20_000 });
    await page.screenshot({ path: join(out, 'dashboard-terminate.png') });
    await page.keyboard.press('Escape');

    const phone = await launchBrowser({ viewport: { width: 390, height: 844 }, isMobile: true });
    try {
      const small = await phone.context.newPage();
      await small.goto(h.url);
      await small.getByLabel('Dashboard token').fill(READER.slice('bob:'.length));
      await small.getByRole('button', { name: 'Sign in' }).click();
      await small.locator('#jobs-table tbody tr').first().waitFor();
      await sleep(1200);
      await small.screenshot({ path: join(out, 'dashboard-phone.png') });
    } finally {
      await phone.close();
    }
    process.stderr.write(`screenshots written to ${out}\n`);
  } finally {
    await browser?.close();
    await harness?.close();
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.end();
    await embedded?.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `screenshots failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
