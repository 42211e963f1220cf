// The dashboard page in a real headless Chromium (Debian's chromium through
// playwright-core), against real graphile-worker and pg-boss workers and a
// real PostgreSQL: a running job appears, is terminated with a reason from the
// page, shows as ended, and its queue row is ended for good. Read-only users
// get no button and a 403; no token, a 401 and the sign-in form.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboard } from '../../../src/http/index.js';
import { type DashboardPageHarness, startHarness } from '../../fixtures/http/harness.js';
import { type Browser, launchBrowser } from '../../support/browser.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { killAllWorkers } from '../../support/processes.js';
import { haveRedis } from '../../support/redis.js';
import { about, type BullmqWorld, jobFacts, makeWorld } from '../bullmq/setup.js';

const ADMIN = 'alice-secret-0123456789';
const READER = 'bob-secret-0123456789ab';

let db: TestDatabase;
let harness: DashboardPageHarness;
let browser: Browser;
let shots: string;

beforeAll(async () => {
  shots = await mkdtemp(join(tmpdir(), 'jobterm-screenshots-'));
  db = await createTestDatabase('jobterm_page');
  // A long killTimeout, so that only a hard stop ends a job that ignores its token within a test.
  harness = await startHarness({
    databaseUrl: db.url,
    workerEnv: { JT_KILL_TIMEOUT: '60000' },
    tokens: { admin: `alice:${ADMIN}`, read: `bob:${READER}` },
  });
  browser = await launchBrowser();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await harness?.close();
  await db?.drop();
  // The screenshots are for looking at a failure: JOBTERM_KEEP_SCREENSHOTS=1 keeps them.
  if (process.env.JOBTERM_KEEP_SCREENSHOTS === '1') process.stderr.write(`page screenshots in ${shots}\n`);
  else if (shots !== undefined) await rm(shots, { recursive: true, force: true });
});

async function signIn(user: Browser, token: string) {
  const page = await user.context.newPage();
  await page.goto(harness.url);
  // Signed in already (this user's cookie from an earlier test): the page opens on the jobs.
  await page.locator('#app:visible, #token:visible').first().waitFor();
  if (await page.locator('#token').isVisible()) {
    await page.getByLabel('Dashboard token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }
  await page.getByRole('heading', { name: /Running jobs/ }).waitFor();
  return page;
}

describe.each(['graphile-worker', 'pg-boss'] as const)('the page against %s', (queue) => {
  it('shows a running job, terminates it with a reason, shows it ended; the queue row is ended for good', async () => {
    const id = await harness.addJob(queue);
    const page = await signIn(browser, ADMIN);
    const row = page.locator('#jobs-table tbody tr', { hasText: `#${id}` });
    await row.waitFor({ timeout: 20_000 });
    await expect.poll(() => row.locator('td').nth(6).textContent()).toBe('running');

    await row.getByRole('button', { name: /Terminate/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Terminate job' });
    await dialog.getByLabel(/Reason/).fill('customer asked, ticket 42');
    await dialog.getByRole('button', { name: 'Terminate' }).click();
    await expect
      .poll(() => dialog.getByRole('status').textContent(), { timeout: 20_000 })
      .toMatch(/^terminated in \d+ ms$/);
    await page.screenshot({ path: join(shots, `${queue}-terminated.png`) });
    await dialog.getByRole('button', { name: 'Close' }).click();

    await expect.poll(() => row.locator('td').nth(6).textContent(), { timeout: 10_000 }).toBe('ended');
    const history = page.locator('#history tbody tr', { hasText: `#${id}` });
    await expect.poll(() => history.textContent(), { timeout: 10_000 }).toMatch(/terminated/);
    const cells = await history.locator('td').allTextContents();
    expect(cells.slice(2, 6)).toEqual(['alice', 'customer asked, ticket 42', 'resolved', 'terminated']);

    expect(await harness.endedForGood(queue, id, 'customer asked, ticket 42')).toBe(true);
    await page.close();
  });
});

describe('termination states on the page', () => {
  it('a job that ignores its token shows signalled; Hard stop ends it at once, not at its worker’s killTimeout (60 s)', async () => {
    const id = await harness.addJob('graphile-worker', { stubborn: true, ms: 60_000 });
    const page = await signIn(browser, ADMIN);
    const state = page
      .locator('#jobs-table tbody tr', { hasText: `graphile-worker#${id}` })
      .locator('td')
      .nth(6);
    await expect.poll(() => state.textContent(), { timeout: 20_000 }).toBe('running');
    // From another process (the CLI, an API): the page sees it through the fleet.
    await harness.terminator.terminate({ queue: 'graphile-worker', id }, { reason: 'runaway', requestedBy: 'ops' });
    await expect.poll(() => state.textContent(), { timeout: 10_000 }).toBe('signalled');
    const startedAt = Date.now();
    await page
      .locator('#jobs-table tbody tr', { hasText: `graphile-worker#${id}` })
      .getByRole('button')
      .click();
    const dialog = page.getByRole('dialog', { name: 'Hard stop job' });
    expect(await dialog.getByLabel(/Hard stop now/).isChecked()).toBe(true);
    await dialog.getByRole('button', { name: 'Terminate' }).click();
    await expect
      .poll(() => dialog.getByRole('status').textContent(), { timeout: 20_000 })
      .toMatch(/^terminated in \d+ ms$/);
    await dialog.getByRole('button', { name: 'Close' }).click();
    await expect.poll(() => state.textContent(), { timeout: 10_000 }).toBe('ended');
    expect(await harness.endedForGood('graphile-worker', id, 'runaway')).toBe(true);
    // The worker's killTimeout is 60 s here: only the hard stop can have ended it this soon.
    expect(Date.now() - startedAt).toBeLessThan(30_000);
    await page.close();
  });
});

describe('access from the page', () => {
  it('a read-only user sees jobs but no terminate button, and the API refuses them (403)', async () => {
    const id = await harness.addJob('graphile-worker');
    const reader = await browser.newUser();
    try {
      const page = await signIn(reader, READER);
      expect(await page.locator('#who-role').textContent()).toBe('read-only');
      const row = page.locator('#jobs-table tbody tr', { hasText: `#${id}` });
      await row.waitFor({ timeout: 20_000 });
      expect(await page.getByRole('button', { name: /Terminate|Hard stop/ }).count()).toBe(0);
      expect(await page.locator('#bulk').isVisible()).toBe(false);
      const before = await harness.storedRequests();
      const answer = await page.evaluate(async (job) => {
        const session = (await (await fetch('api/session')).json()) as { csrfToken: string };
        const response = await fetch('api/terminate', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-jobterm-csrf': session.csrfToken },
          body: JSON.stringify({ job: { queue: 'graphile-worker', id: job } }),
        });
        return { status: response.status, body: (await response.json()) as { error: { message: string } } };
      }, id);
      expect(answer.status).toBe(403);
      expect(answer.body.error.message).toMatch(/read-only/);
      expect(await harness.storedRequests()).toBe(before);
      await harness.stopJob('graphile-worker', id);
    } finally {
      await reader.close();
    }
  });

  it('no token: the API answers 401 and the page shows the sign-in form; a wrong token is refused', async () => {
    const stranger = await browser.newUser();
    try {
      const page = await stranger.context.newPage();
      await page.goto(harness.url);
      await page.getByLabel('Dashboard token').waitFor();
      expect(await page.locator('#app').isVisible()).toBe(false);
      const status = await page.evaluate(async () => (await fetch('api/jobs')).status);
      expect(status).toBe(401);
      await page.getByLabel('Dashboard token').fill('wrong-token-wrong-token');
      await page.keyboard.press('Enter');
      await page.getByRole('alert').waitFor();
      expect(await page.getByRole('alert').textContent()).toMatch(/not one of the dashboard's tokens/);
    } finally {
      await stranger.close();
    }
  });

  it('works with the keyboard alone, on a phone-sized screen', async () => {
    const id = await harness.addJob('pg-boss');
    const phone = await browser.newUser({ viewport: { width: 390, height: 844 }, isMobile: true });
    try {
      const page = await phone.context.newPage();
      await page.goto(harness.url);
      await page.getByLabel('Dashboard token').focus();
      await page.keyboard.type(ADMIN);
      await page.keyboard.press('Enter');
      const button = page.getByRole('button', { name: new RegExp(`Terminate pg-boss/.*#${id}`) });
      await button.waitFor({ timeout: 20_000 });
      // The table becomes cards: nothing scrolls sideways.
      const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
      expect(overflow).toBeLessThanOrEqual(0);
      await button.focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => page.evaluate<string>('document.activeElement?.id')).toBe('terminate-reason');
      await page.keyboard.type('keyboard only');
      const focusOrder: string[] = [];
      for (let i = 0; i < 2; i++) {
        await page.keyboard.press('Tab');
        focusOrder.push(await page.evaluate<string>('document.activeElement?.id'));
      }
      expect(focusOrder).toEqual(['terminate-cancel', 'terminate-submit']);
      await page.keyboard.press('Enter');
      await expect
        .poll(() => page.locator('#terminate-result').textContent(), { timeout: 20_000 })
        .toMatch(/^terminated in \d+ ms$/);
      await page.screenshot({ path: join(shots, 'phone.png'), fullPage: true });
      await page.keyboard.press('Escape');
      expect(await harness.endedForGood('pg-boss', id, 'keyboard only')).toBe(true);
    } finally {
      await phone.close();
    }
  });
});

// BullMQ on jobterm/redis, no PostgreSQL: the same page served from a terminator on the Redis store (its
// fleet() and listRequests() come from Redis), and a BullMQ worker in its own process.
describe.runIf(haveRedis())('the page against bullmq on the Redis store', () => {
  let world: BullmqWorld;
  let close: () => Promise<void> = async () => {};
  let url: string;

  beforeAll(async () => {
    world = await makeWorld();
    const server = createServer(
      createDashboard({ terminator: world.requester, requests: world.store, tokens: { admin: `alice:${ADMIN}` } }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    close = () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
  });
  afterAll(async () => {
    await close();
    await killAllWorkers();
    await world?.close();
  });

  it('shows a running BullMQ job, terminates it with a reason, shows it ended; BullMQ holds it failed for good', async () => {
    const queue = world.queue();
    const worker = await world.startWorker(queue, {
      JOB_MODE: 'stop-on-signal',
      JT_HEARTBEAT: '250',
      JT_DEAD_BEATS: '40',
    });
    const job = await queue.add('j', {});
    await worker.waitFor(about('job-started', job.id));
    const user = await browser.newUser();
    try {
      const page = await user.context.newPage();
      await page.goto(url);
      await page.getByLabel('Dashboard token').fill(ADMIN);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: /Running jobs/ }).waitFor();
      const row = page.locator('#jobs-table tbody tr', { hasText: `#${job.id}@${job.timestamp}` });
      await row.waitFor({ timeout: 20_000 });
      await expect.poll(() => row.locator('td').nth(6).textContent()).toBe('running');

      await row.getByRole('button', { name: /Terminate/ }).click();
      const dialog = page.getByRole('dialog', { name: 'Terminate job' });
      await dialog.getByLabel(/Reason/).fill('wrong recipient list');
      await dialog.getByRole('button', { name: 'Terminate' }).click();
      await expect
        .poll(() => dialog.getByRole('status').textContent(), { timeout: 20_000 })
        .toMatch(/^terminated in \d+ ms$/);
      await page.screenshot({ path: join(shots, 'bullmq-terminated.png') });
      await dialog.getByRole('button', { name: 'Close' }).click();
      await expect.poll(() => row.locator('td').nth(6).textContent(), { timeout: 10_000 }).toBe('ended');
      const history = page.locator('#history tbody tr', { hasText: `#${job.id}@${job.timestamp}` });
      await expect.poll(() => history.textContent(), { timeout: 10_000 }).toMatch(/terminated/);
      const cells = await history.locator('td').allTextContents();
      expect(cells.slice(2, 6)).toEqual(['alice', 'wrong recipient list', 'resolved', 'terminated']);

      // Failed for good in BullMQ's own storage: no retry left to run it again.
      const facts = await jobFacts(queue, job.id!);
      expect(facts).toMatchObject({ state: 'failed', failedReason: expect.stringMatching(/^Terminated:/) });
      expect((await queue.getJob(job.id!))?.failedReason).toMatch(/wrong recipient list/);
      await page.close();
    } finally {
      await user.close();
    }
  });
});
