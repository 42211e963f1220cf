// `npm run demo`: jobterm at work in one command, with nothing installed but
// Node. It starts a PostgreSQL (embedded, or a fresh database on the server
// DATABASE_URL names), worker processes for graphile-worker and pg-boss, and
// a process that calls jobterm's API; then it terminates jobs in every way
// jobterm offers and prints a timeline of what each process saw, ending with
// every job's final state read from the queues' own tables. Every process and
// the database are cleaned up at the end, on error and on Ctrl-C.
//
// The story is this file; the workers are workers/*.ts, the API process is
// requester.ts, and the timeline's wording is describe.ts.
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { jobRef } from '../../src/adapters/graphile-worker/index.js';
import type { JobRef } from '../../src/index.js';
import type { RedisServer } from '../../test/support/redis-server.js';
import { runBullmqPart } from './bullmq.js';
import { openDatabase } from './database.js';
import { describe } from './describe.js';
import { JobBook } from './jobs.js';
import { type DemoProcess, ProcessGroup, type Received } from './processes.js';
import type { Message } from './protocol.js';
import { type Connections, prepare } from './setup.js';
import { formatSummary, readSummary } from './summary.js';
import { Timeline } from './timeline.js';

const ROWS = 3_000;
const QUEUE = 'media';
/** How long every wait for a process may take: generous, for a loaded machine. */
const PATIENCE = 60_000;

const timeline = new Timeline(Date.now());
const jobs = new JobBook();
const stopping = new AbortController();
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** When the CLI printed its answer, to measure the request from the shell. */
let cliAnsweredAt: number | undefined;
const group = new ProcessGroup(
  {
    message(label, message) {
      const row = describe(message, jobs);
      if (row) timeline.row(label, row.text, { at: message.at, ...(row.tone ? { tone: row.tone } : {}) });
    },
    output(label, line, stream) {
      if (label === 'cli' && stream === 'stdout') cliAnsweredAt ??= Date.now();
      timeline.row(label, line, { tone: stream === 'stderr' ? 'dim' : 'plain' });
    },
    exit(label, code, signal) {
      timeline.row(label, `process exited (${signal ?? `code ${code}`})`, { tone: 'dim' });
    },
  },
  stopping.signal,
);

// --- cleanup: on success, on error, on Ctrl-C -------------------------------

let disposeDatabase: (() => Promise<string>) | undefined;
const databasePids: number[] = [];
let connections: Connections | undefined;
let redisServer: RedisServer | undefined;
let cleaning: Promise<void> | undefined;

function cleanUp(graceful: boolean): Promise<void> {
  cleaning ??= (async () => {
    // What the processes say while they stop is noise now.
    timeline.mute();
    const running = await group.stopAll(graceful ? 5_000 : 0);
    await connections?.close();
    await redisServer?.stop();
    const database = disposeDatabase
      ? await disposeDatabase().catch((error: Error) => `could not remove the database: ${error.message}`)
      : 'no database was started';
    timeline.unmute();
    const pids = [...group.pids(), ...databasePids];
    timeline.row(
      'demo',
      `cleaned up: every process ended (pids ${pids.join(', ') || 'none'}; ${running} were still running); ${database}`,
    );
  })();
  return cleaning;
}

let signalled = false;
for (const [signal, number] of [
  ['SIGINT', 2],
  ['SIGTERM', 15],
  ['SIGHUP', 1],
] as const) {
  process.on(signal, () => {
    if (signalled) return;
    signalled = true;
    timeline.row('demo', `${signal}: stopping every process and removing the database`, { tone: 'bad' });
    stopping.abort();
    void cleanUp(false).finally(() => process.exit(128 + number));
  });
}

// A bug in the demo itself must not leave its (detached) children running either.
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (error: unknown) => {
    timeline.row('demo', `crashed: ${error instanceof Error ? error.stack : String(error)}`, { tone: 'bad' });
    stopping.abort();
    void cleanUp(false).finally(() => process.exit(1));
  });
}

// --- the story ----------------------------------------------------------------

const waitFor = (label: string, what: string, match: (m: Message) => boolean): Promise<Message> =>
  group
    .waitFor(`${what} (${label})`, (r: Received) => r.label === label && match(r.message), PATIENCE)
    .then((r) => r.message);
const event = (label: string, name: string, id?: string) =>
  waitFor(label, `${name}${id ? ` of job ${id}` : ''}`, (m) => m.event === name && (id === undefined || m.id === id));
const ms = (from: number, to: number) => `${Math.max(0, Math.round(to - from))} ms`;

async function main(): Promise<void> {
  timeline.section('1. PostgreSQL, schemas, workers');
  const serverUrl = process.env.DATABASE_URL || undefined;
  timeline.row(
    'demo',
    serverUrl
      ? 'DATABASE_URL is set: creating a fresh database on that server'
      : 'starting an embedded PostgreSQL in a temp dir (no DATABASE_URL)',
  );
  const db = await openDatabase(serverUrl, (dispose) => {
    disposeDatabase = dispose;
  });
  databasePids.push(...db.pids);
  timeline.row('pg', db.description);
  connections = await prepare(db.url, { queue: QUEUE, rows: ROWS });
  const { pool, utils, boss } = connections;
  timeline.row(
    'demo',
    `migrated graphile_worker, pgboss (queue "${QUEUE}") and jobterm; demo_rows holds ${ROWS.toLocaleString('en')} rows to backfill`,
  );

  const env = { DATABASE_URL: db.url };
  const graphileWorker = here('./workers/graphile-worker.ts');
  const gw1 = group.spawnScript('gw-1', graphileWorker, { env: { ...env, DEMO_NAME: 'gw-1' } });
  group.spawnScript('boss-1', here('./workers/pg-boss.ts'), {
    env: { ...env, DEMO_NAME: 'boss-1', DEMO_QUEUE: QUEUE },
  });
  // The second graphile worker loads now and starts fetching in step 6 (the rolling deploy).
  const gw2 = group.spawnScript('gw-2', graphileWorker, {
    env: { ...env, DEMO_NAME: 'gw-2', DEMO_STANDBY: '1' },
    stdin: true,
  });
  const api = group.spawnScript('api', here('./requester.ts'), { env, stdin: true });
  await Promise.all([
    event('gw-1', 'ready'),
    event('boss-1', 'ready'),
    event('gw-2', 'standby'),
    event('api', 'ready'),
  ]);

  timeline.section('2. Long jobs on both queues, and an iterating backfill');
  const exportJob = jobRef(await utils.addJob('export', { seconds: 120 }));
  jobs.add(exportJob, 'export', 'killed running (API)', 'terminated');
  timeline.row('demo', `graphile-worker: added ${jobs.name(exportJob.id)} (2 minutes; stops when its token fires)`);
  const backfillJob = jobRef(await utils.addJob('backfill', { total: ROWS, every: 300, msPerRow: 3 }));
  jobs.add(backfillJob, 'backfill', 'SIGTERM; resumed on gw-2', 'completed');
  timeline.row(
    'demo',
    `graphile-worker: added ${jobs.name(backfillJob.id)} (iterate() over ${ROWS.toLocaleString('en')} rows, cursor = row id)`,
  );
  const video = bossRef(await boss.send(QUEUE, { label: 'video', frames: 1_200, msPerFrame: 100 }));
  jobs.add(video, 'video', 'killed running (CLI)', 'terminated');
  timeline.row('demo', `pg-boss "${QUEUE}": sent ${jobs.name(video.id)} (2 minutes; stops when its token fires)`);
  const thumbnail = bossRef(await boss.send(QUEUE, { label: 'thumbnail', frames: 20, msPerFrame: 100 }));
  jobs.add(thumbnail, 'thumbnail', 'left alone', 'completed');
  timeline.row('demo', `pg-boss "${QUEUE}": sent ${jobs.name(thumbnail.id)} (2 s)`);
  const startAfter = 8;
  const newsletterDue = Date.now() + startAfter * 1_000;
  const newsletter = bossRef(
    await boss.send(QUEUE, { label: 'newsletter', frames: 20, msPerFrame: 100 }, { startAfter }),
  );
  jobs.add(newsletter, 'newsletter', 'killed queued (API)', 'never-ran');
  timeline.row(
    'demo',
    `pg-boss "${QUEUE}": sent ${jobs.name(newsletter.id)}, scheduled for ${timeline.clock(newsletterDue)} (${startAfter} s from now)`,
  );
  await Promise.all([
    event('gw-1', 'job-start', exportJob.id),
    event('gw-1', 'job-start', backfillJob.id),
    event('boss-1', 'job-start', video.id),
  ]);

  timeline.section('3. Kill a running graphile-worker job from another process, through the API');
  api.send(JSON.stringify({ ref: exportJob, reason: 'customer cancelled', wait: true }));
  const asked = await apiMessage('request', exportJob);
  const seen = await event('gw-1', 'signal', exportJob.id);
  const answered = await apiMessage('result', exportJob);
  if (answered.status !== 'terminated') throw new Error(`terminate() answered ${answered.status}, not terminated`);
  await event('gw-1', 'terminated', exportJob.id);
  timeline.row(
    'demo',
    `→ ${jobs.name(exportJob.id)} saw its signal ${ms(asked.at, seen.at)} after terminate() was called in another process; terminate({ wait: true }) confirmed after ${ms(asked.at, answered.at)}`,
    { tone: 'good' },
  );

  timeline.section('4. Kill a running pg-boss job from the shell, through the CLI');
  const args = ['terminate', 'pg-boss', video.id, '--name', QUEUE, '--reason', 'wrong upload', '--wait'];
  timeline.row('cli', `$ jobterm ${args.map((arg) => (arg.includes(' ') ? `"${arg}"` : arg)).join(' ')}`);
  const cli = group.spawnScript('cli', here('../../src/cli/main.ts'), { env, args });
  const { code } = await exitOf(cli);
  if (code !== 0) throw new Error(`the CLI exited with code ${code}`);
  const videoSeen = await event('boss-1', 'signal', video.id);
  await event('boss-1', 'terminated', video.id);
  const [stored] = (
    await pool.query<{ requested_at: Date }>(
      `select requested_at from jobterm.kill_requests where queue = 'pg-boss' and job_id = $1`,
      [video.id],
    )
  ).rows;
  if (stored && cliAnsweredAt !== undefined) {
    const requested = stored.requested_at.getTime();
    timeline.row(
      'demo',
      `→ ${jobs.name(video.id)} saw its signal ${ms(requested, videoSeen.at)} after the CLI stored its request; the CLI printed 'terminated' ${ms(requested, cliAnsweredAt)} after it (exit code 0)`,
      { tone: 'good' },
    );
  }

  timeline.section('5. Kill a queued job: it never runs');
  api.send(JSON.stringify({ ref: newsletter, reason: 'campaign called off', wait: true }));
  const cancelled = await apiMessage('result', newsletter);
  if (cancelled.status !== 'terminated') throw new Error(`terminate() answered ${cancelled.status}, not terminated`);
  timeline.row(
    'demo',
    `→ ${jobs.name(newsletter.id)} was due at ${timeline.clock(newsletterDue)}; cancelled in pg-boss before any worker claimed it (checked again after it is due, below)`,
    { tone: 'good' },
  );

  timeline.section('6. SIGTERM a worker: escalation, and the backfill resumes elsewhere');
  // A third of the way is enough to show a resume from the middle.
  await waitFor('gw-1', 'the backfill a third done', (m) => m.event === 'progress' && Number(m.cursor) >= ROWS / 3);
  // Added now, while gw-2 is still on standby, so gw-1 runs it and it is still running at the SIGTERM.
  const stubborn = jobRef(await utils.addJob('stubborn', { seconds: 8 }));
  jobs.add(stubborn, 'stubborn', 'escalated; rerun on gw-2', 'completed');
  timeline.row('demo', `graphile-worker: added ${jobs.name(stubborn.id)} (8 s; never looks at its token)`);
  await event('gw-1', 'job-start', stubborn.id);
  timeline.row('demo', 'rolling deploy: gw-2 starts fetching, then gw-1 gets SIGTERM');
  gw2.send('start');
  await event('gw-2', 'ready');
  const sigtermAt = Date.now();
  timeline.row(
    'demo',
    `SIGTERM → gw-1 (pid ${gw1.pid}), which runs ${jobs.name(backfillJob.id)} and ${jobs.name(stubborn.id)}`,
    {
      tone: 'strong',
    },
  );
  gw1.child.kill('SIGTERM');
  const stopped = await event('gw-1', 'iterate-stop', backfillJob.id);
  const escalated = await event('gw-1', 'escalated', stubborn.id);
  const gw1Exit = await exitOf(gw1);
  timeline.row(
    'demo',
    `→ the backfill stopped ${ms(sigtermAt, stopped.at)} after SIGTERM at cursor ${stopped.cursor}; the stubborn job was escalated after ${ms(sigtermAt, escalated.at)} (shutdownTimeout 2 s) and put back; gw-1 exited with code ${gw1Exit.code} after ${ms(sigtermAt, Date.now())}`,
    { tone: 'good' },
  );
  if (gw1Exit.code !== 0) throw new Error(`gw-1 exited with ${gw1Exit.signal ?? `code ${gw1Exit.code}`}`);

  const resumed = await event('gw-2', 'iterate-resume', backfillJob.id);
  if (resumed.cursor !== stopped.cursor) {
    throw new Error(`the backfill resumed after cursor ${resumed.cursor}, but stopped at ${stopped.cursor}`);
  }
  timeline.row(
    'demo',
    `→ gw-2 resumed ${jobs.name(backfillJob.id)} after cursor ${resumed.cursor}, exactly where gw-1 stopped`,
    { tone: 'good' },
  );
  await Promise.all([event('gw-2', 'iterate-done', backfillJob.id), event('gw-2', 'completed', stubborn.id)]);

  timeline.section('7. BullMQ on Redis, no PostgreSQL: a kill from another process, a queued kill, a SIGTERM');
  await runBullmqPart({
    timeline,
    group,
    event,
    exitOf,
    workerScript: here('./workers/bullmq.ts'),
    onServer: (server) => {
      redisServer = server;
    },
  });

  timeline.section("8. Every job's final state, read from the queues' own tables");
  const wait = newsletterDue + 1_500 - Date.now();
  if (wait > 0) await sleep(wait, undefined, { signal: stopping.signal });
  const newsletterRan = group.all((r) => r.message.event === 'job-start' && r.message.id === newsletter.id).length > 0;
  timeline.row(
    'demo',
    `${jobs.name(newsletter.id)} was due at ${timeline.clock(newsletterDue)}, ${((Date.now() - newsletterDue) / 1000).toFixed(1)} s ago: ${newsletterRan ? 'a worker STARTED it' : 'no worker ever started it'}`,
    { tone: newsletterRan ? 'bad' : 'good' },
  );
  const rows = await readSummary(pool, jobs.all());
  timeline.text(
    '',
    ...formatSummary(rows, (ok) => (ok ? timeline.paint('✓', 32) : timeline.paint('✗ unexpected', 31))).map(
      (line) => `  ${line}`,
    ),
    '',
  );
  const [visits] = (
    await pool.query<{ once: number; twice: number; never: number }>(
      `select count(*) filter (where visits = 1)::int as once, count(*) filter (where visits > 1)::int as twice,
              count(*) filter (where visits = 0)::int as never from demo_rows`,
    )
  ).rows;
  timeline.row(
    'demo',
    `demo_rows after the backfill: ${visits!.once} rows done once, ${visits!.twice} twice, ${visits!.never} never`,
    { tone: visits!.once === ROWS ? 'good' : 'bad' },
  );
  const requests = (
    await pool.query<{ outcome: string | null; count: number }>(
      'select outcome, count(*)::int as count from jobterm.kill_requests group by outcome order by outcome',
    )
  ).rows;
  timeline.row(
    'demo',
    `jobterm.kill_requests: ${requests.map((r) => `${r.count} ${r.outcome ?? 'unresolved'}`).join(', ')}`,
  );
  const failed = rows.filter((row) => !row.ok);
  if (failed.length > 0 || newsletterRan || visits!.once !== ROWS) {
    throw new Error(`${failed.length} job(s) did not end as expected`);
  }
  timeline.row('demo', 'every job ended as expected', { tone: 'good' });
}

function bossRef(id: string | null): JobRef {
  if (id === null) throw new Error('pg-boss did not create the job');
  return { queue: 'pg-boss', name: QUEUE, id };
}

/** The API process's message of this kind about this job. */
function apiMessage(name: 'request' | 'result', ref: JobRef): Promise<Message> {
  return waitFor('api', `${name} for job ${ref.id}`, (m) => m.event === name && (m.ref as JobRef)?.id === ref.id);
}

/** How a process ended; rejects if it takes longer than PATIENCE. */
async function exitOf(proc: DemoProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      proc.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${proc.label} did not exit`)), PATIENCE);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  if (!signalled) {
    timeline.row('demo', `failed: ${error instanceof Error ? error.message : String(error)}`, { tone: 'bad' });
    exitCode = 1;
  }
}
if (!signalled) {
  await cleanUp(exitCode === 0);
  process.exit(exitCode);
}
