/**
 * The dashboard (jobterm/http):
 *
 * 1. The API's answer time for the running-jobs list (`GET api/jobs`, and the
 *    page's `GET api/fleet`) at 50 workers x 100 jobs, over HTTP on
 *    localhost, beside `terminator.fleet()` called directly (the store's read
 *    alone) in the same run. The 50 workers' presence records are written
 *    through the PostgreSQL store's own heartbeat, as real workers would.
 * 2. In a real headless Chromium against real graphile-worker processes: from
 *    the Terminate button pressed to the dialog showing the outcome, and to
 *    the job's row showing `ended`, beside the API's own time for the same
 *    terminate (its `elapsedMs`).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '../../src/core/logger.js';
import type { PresenceJob } from '../../src/core/presence.js';
import { createDashboard } from '../../src/http/index.js';
import { postgresStore } from '../../src/stores/postgres/index.js';
import { createTerminator } from '../../src/terminator/terminator.js';
import { startHarness } from '../../test/fixtures/http/harness.js';
import { launchBrowser } from '../../test/support/browser.js';
import type { BenchSuite, Figure } from '../lib/types.js';

const WORKERS = 50;
const JOBS_PER_WORKER = 100;
const ADMIN = `bench:${randomBytes(18).toString('base64url')}`;
const SECRET = ADMIN.slice('bench:'.length);

export const dashboardSuite: BenchSuite = {
  name: 'dashboard',
  async run(ctx) {
    return [...(await apiFigures(ctx)), ...(await pageFigures(ctx))];
  },
};

async function apiFigures(ctx: Parameters<BenchSuite['run']>[0]): Promise<Figure[]> {
  const rounds = ctx.quick ? 20 : 200;
  const { url } = await ctx.createDatabase('jobterm_bench_dashboard');
  const store = postgresStore({ connectionString: url, receiveRequests: false, logger: silentLogger });
  await store.migrate();
  const startedAt = new Date();
  for (let w = 0; w < WORKERS; w++) {
    const jobs: PresenceJob[] = Array.from({ length: JOBS_PER_WORKER }, (_, j) => ({
      ref: { queue: 'graphile-worker', id: String(w * JOBS_PER_WORKER + j + 1) },
      task: j % 3 === 0 ? 'send-email' : 'build-report',
      attempt: 1,
      startedAt: new Date(startedAt.getTime() - j * 1000),
    }));
    await store.heartbeat(
      {
        instanceId: randomUUID(),
        workerId: `bench-worker-${w}`,
        host: 'bench',
        pid: 10_000 + w,
        queues: [{ queue: 'graphile-worker' }],
        versions: { jobterm: 'bench', node: process.versions.node },
        startedAt,
        // Live for the whole run.
        heartbeatInterval: 600_000,
        deadAfter: 3_600_000,
        jobs,
      },
      randomBytes(16).toString('hex'),
    );
  }
  const terminator = createTerminator({ store, logger: silentLogger, workerId: 'bench-dashboard' });
  const server = createServer(createDashboard({ terminator, tokens: { admin: ADMIN } }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const headers = { authorization: `Bearer ${SECRET}` };
  const jobs: number[] = [];
  const fleet: number[] = [];
  const direct: number[] = [];
  // CPU time of this process (the server and the fetching client both run here): steadier than wall time on a
  // loaded machine, and what the API costs beyond the database's own work.
  const jobsCpu: number[] = [];
  const directCpu: number[] = [];
  const cpuMs = (since: NodeJS.CpuUsage) => {
    const used = process.cpuUsage(since);
    return (used.user + used.system) / 1000;
  };
  let count = 0;
  try {
    for (let round = 0; round < rounds + 5; round++) {
      const measured = round >= 5;
      let t = performance.now();
      let cpu = process.cpuUsage();
      const answer = (await (await fetch(`${base}/api/jobs?limit=10000`, { headers })).json()) as { count: number };
      if (measured) jobs.push(performance.now() - t);
      if (measured) jobsCpu.push(cpuMs(cpu));
      count = answer.count;
      t = performance.now();
      await (await fetch(`${base}/api/fleet`, { headers })).arrayBuffer();
      if (measured) fleet.push(performance.now() - t);
      t = performance.now();
      cpu = process.cpuUsage();
      await terminator.fleet();
      if (measured) direct.push(performance.now() - t);
      if (measured) directCpu.push(cpuMs(cpu));
    }
  } finally {
    server.close();
    await terminator.close();
  }
  if (count !== WORKERS * JOBS_PER_WORKER)
    throw new Error(`api/jobs listed ${count} jobs, not ${WORKERS * JOBS_PER_WORKER}`);
  const reference = { name: 'terminator.fleet() called directly (the store read alone)', samples: direct };
  return [
    {
      name: `dashboard API: GET api/jobs, ${WORKERS} workers x ${JOBS_PER_WORKER} jobs (all ${count} listed)`,
      unit: 'ms',
      samples: jobs,
      reference,
      lowerIsBetter: true,
      goal: 'well under 100 ms',
      notes: 'HTTP on localhost with JSON parse on the client; presence written by the store heartbeat',
    },
    {
      name: `dashboard API: GET api/jobs, ${WORKERS} x ${JOBS_PER_WORKER}, CPU time of server + client`,
      unit: 'ms',
      samples: jobsCpu,
      reference: { name: 'terminator.fleet() alone, CPU time', samples: directCpu },
      lowerIsBetter: true,
      notes: 'process.cpuUsage() around each call: excludes waiting for PostgreSQL and for the CPU',
    },
    {
      name: `dashboard API: GET api/fleet (the page's poll), ${WORKERS} x ${JOBS_PER_WORKER}`,
      unit: 'ms',
      samples: fleet,
      reference,
      lowerIsBetter: true,
      goal: 'well under 100 ms',
    },
  ];
}

async function pageFigures(ctx: Parameters<BenchSuite['run']>[0]): Promise<Figure[]> {
  const rounds = ctx.quick ? 2 : 20;
  const { url } = await ctx.createDatabase('jobterm_bench_page');
  const harness = await startHarness({ databaseUrl: url, tokens: { admin: ADMIN } });
  const browser = await launchBrowser();
  const toOutcome: number[] = [];
  const toEnded: number[] = [];
  const api: number[] = [];
  try {
    const page = await browser.context.newPage();
    await page.goto(harness.url);
    await page.getByLabel('Dashboard token').fill(SECRET);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: /Running jobs/ }).waitFor();
    for (let round = 0; round < rounds; round++) {
      const id = await harness.addJob('graphile-worker');
      const row = page.locator('#jobs-table tbody tr', { hasText: `graphile-worker#${id}` });
      await row.getByRole('button', { name: /Terminate/ }).waitFor({ timeout: 20_000 });
      await row.getByRole('button', { name: /Terminate/ }).click();
      await page.locator('#terminate-reason').fill(`bench round ${round}`);
      // Timestamps taken in the page: the press (capture phase, before the page's own handler), the outcome shown,
      // and the row's state cell turning to 'ended'.
      const timing = page.evaluate<{ outcome: number; ended: number; pressed: number }>(
        `new Promise((resolve) => {
          const key = ${JSON.stringify(`graphile-worker\u0000\u0000`)} + arguments[0];
          const marks = {};
          document.getElementById('terminate-submit').addEventListener('click', () => { marks.pressed = performance.now(); }, { capture: true, once: true });
          const check = () => {
            const result = document.getElementById('terminate-result').textContent;
            if (marks.outcome === undefined && /^terminated in/.test(result)) marks.outcome = performance.now();
            for (const tr of document.querySelectorAll('#jobs-table tbody tr')) {
              if (tr.dataset.key === key && tr.children[6].textContent === 'ended' && marks.ended === undefined) marks.ended = performance.now();
            }
            if (marks.outcome !== undefined && marks.ended !== undefined) { observer.disconnect(); resolve(marks); }
          };
          const observer = new MutationObserver(check);
          observer.observe(document.body, { subtree: true, childList: true, characterData: true });
        })`.replace('arguments[0]', JSON.stringify(id)),
      );
      const answer = page.waitForResponse((response) => response.url().endsWith('/api/terminate'));
      await page.locator('#terminate-submit').click();
      const body = (await (await answer).json()) as { elapsedMs: number; status: string };
      if (body.status !== 'terminated') throw new Error(`round ${round}: ${body.status}`);
      const marks = await timing;
      toOutcome.push(marks.outcome - marks.pressed);
      toEnded.push(marks.ended - marks.pressed);
      api.push(body.elapsedMs);
      await page.keyboard.press('Escape');
    }
  } finally {
    await browser.close();
    await harness.close();
  }
  const reference = { name: "the API's own time for that terminate (wait: true, its elapsedMs)", samples: api };
  return [
    {
      name: 'dashboard page: Terminate pressed -> outcome shown (graphile-worker job in another process)',
      unit: 'ms',
      samples: toOutcome,
      reference,
      lowerIsBetter: true,
      notes: 'real headless Chromium; timestamps taken in the page',
    },
    {
      name: "dashboard page: Terminate pressed -> the job's row shows ended",
      unit: 'ms',
      samples: toEnded,
      reference,
      lowerIsBetter: true,
      goal: 'within one page update (1 s) of the outcome',
      notes: 'the page refreshes at once after the outcome, then every 1 s',
    },
  ];
}
