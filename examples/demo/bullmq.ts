// The demo's BullMQ part: a BullMQ worker on Redis (no PostgreSQL), a kill
// of a running job from this process, a kill of a delayed job, and a SIGTERM
// that puts the last job back in `wait` unspent; then what BullMQ holds.
// Runs when a Redis is at hand (REDIS_URL, or a redis-server on PATH started
// in a temp dir); otherwise the demo says so and goes on.
import { Queue } from 'bullmq';
import { bullmqAdapter } from '../../src/adapters/bullmq/index.js';
import { createTerminator } from '../../src/index.js';
import { redisStore } from '../../src/stores/redis/index.js';
import { connectionFrom } from '../../test/fixtures/bullmq/connection.js';
import { hasRedisServer, REDIS_HINT, type RedisServer, startRedisServer } from '../../test/support/redis-server.js';
import type { DemoProcess, ProcessGroup } from './processes.js';
import type { Message } from './protocol.js';
import type { Timeline } from './timeline.js';

const QUEUE = 'renders';

export async function runBullmqPart(ctx: {
  timeline: Timeline;
  group: ProcessGroup;
  event: (label: string, name: string, id?: string) => Promise<Message>;
  exitOf: (proc: DemoProcess) => Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  workerScript: string;
  onServer: (server: RedisServer) => void;
}): Promise<void> {
  const { timeline, event } = ctx;
  const given = process.env.REDIS_URL || undefined;
  if (given === undefined && !hasRedisServer()) {
    timeline.row('demo', `skipping BullMQ: ${REDIS_HINT}`, { tone: 'dim' });
    return;
  }
  let server: RedisServer | undefined;
  if (given === undefined) {
    server = await startRedisServer({ prefix: 'jobterm-demo-redis-' });
    ctx.onServer(server);
  }
  const url = given ?? server!.url;
  timeline.row(
    'demo',
    given ? 'REDIS_URL is set: using that Redis' : `started redis-server (pid ${server!.pid}) in a temp dir`,
  );
  const connection = connectionFrom(url);
  const queue = new Queue(QUEUE, { connection, defaultJobOptions: { attempts: 3 } });
  queue.on('error', () => {});
  const adapter = bullmqAdapter({ connection });
  const requester = createTerminator({
    store: redisStore({ connection: url, receiveRequests: false }),
    adapters: [adapter],
  });
  try {
    await queue.obliterate({ force: true });
    const bull = ctx.group.spawnScript('bull-1', ctx.workerScript, {
      env: { REDIS_URL: url, DEMO_NAME: 'bull-1', DEMO_QUEUE: QUEUE },
    });
    await event('bull-1', 'ready');
    // Custom ids (BullMQ reuses them; jobterm's references carry each job's timestamp, so a kill never reaches a reuse).
    const render = await queue.add('render', { frames: 1_200, msPerFrame: 100 }, { jobId: 'render' });
    const archive = await queue.add('archive', { frames: 600, msPerFrame: 100 }, { jobId: 'archive' });
    const later = await queue.add('later', { frames: 10, msPerFrame: 100 }, { delay: 60_000, jobId: 'later' });
    timeline.row(
      'demo',
      `BullMQ "${QUEUE}": added job render (2 minutes), job archive (1 minute), job later (delayed 60 s)`,
    );
    await Promise.all([event('bull-1', 'job-start', render.id), event('bull-1', 'job-start', archive.id)]);

    const asked = Date.now();
    const killed = await requester.terminate(
      { queue: 'bullmq', name: QUEUE, id: render.id! },
      { reason: 'customer cancelled', requestedBy: 'demo', wait: true },
    );
    const seen = await event('bull-1', 'signal', render.id);
    timeline.row(
      'demo',
      `→ terminate(job ${render.id}) answered '${killed.status}'; the worker saw its token ${Math.max(0, seen.at - asked)} ms after the call (BullMQ's own cancelJob() reaches only its own process)`,
      { tone: killed.status === 'terminated' ? 'good' : 'bad' },
    );
    const queued = await requester.terminate({ queue: 'bullmq', name: QUEUE, id: later.id! }, { reason: 'not needed' });
    timeline.row(
      'demo',
      `→ terminate(job ${later.id}, delayed) answered '${queued.status}': removed before any worker took it`,
      {
        tone: queued.status === 'terminated' ? 'good' : 'bad',
      },
    );

    timeline.row('demo', `SIGTERM → bull-1 (pid ${bull.pid}), which runs job ${archive.id} archive`, {
      tone: 'strong',
    });
    bull.child.kill('SIGTERM');
    await event('bull-1', 'interrupted', `${archive.id}@${archive.timestamp}`);
    const exit = await ctx.exitOf(bull);
    for (const job of [render, archive, later]) {
      const now = await queue.getJob(job.id!);
      const state = now ? await now.getState() : 'removed';
      const detail = now?.failedReason ? `, failedReason "${now.failedReason}"` : '';
      timeline.row(
        'demo',
        `BullMQ job ${job.id}: ${state}, attemptsMade ${now?.attemptsMade ?? '-'}, progress ${now?.progress ?? '-'}${detail}`,
      );
    }
    const archiveState = await (await queue.getJob(archive.id!))?.getState();
    const ok =
      exit.code === 0 && archiveState === 'waiting' && killed.status === 'terminated' && queued.status === 'terminated';
    timeline.row('demo', ok ? 'BullMQ jobs ended as expected' : 'BullMQ jobs did NOT end as expected', {
      tone: ok ? 'good' : 'bad',
    });
    if (!ok) throw new Error('BullMQ jobs did not end as expected');
  } finally {
    await requester.close();
    await adapter.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
}
