// `npx tsx examples/bullmq/main.ts`: starts a worker process, enqueues three
// jobs, terminates one from this process, then sends the worker SIGTERM and
// shows what BullMQ holds. Uses REDIS_URL, or a redis-server of its own.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { bullmqAdapter } from '../../src/adapters/bullmq/index.js';
import { createTerminator } from '../../src/index.js';
import { redisStore } from '../../src/stores/redis/index.js';
import { connectionFrom } from '../../test/fixtures/bullmq/connection.js';
import { REDIS_HINT, startRedisServer } from '../../test/support/redis-server.js';

const own = process.env.REDIS_URL ? undefined : await startRedisServer().catch(() => undefined);
const url = process.env.REDIS_URL ?? own?.url;
if (url === undefined) {
  console.log(`[main] ${REDIS_HINT}`);
  process.exit(0);
}
const connection = connectionFrom(url);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// This process only adds jobs and requests terminations.
const queue = new Queue('reports', { connection, defaultJobOptions: { attempts: 3 } });
const adapter = bullmqAdapter({ connection });
const requester = createTerminator({
  store: redisStore({ connection: url, receiveRequests: false }),
  adapters: [adapter],
});

const worker = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./worker.ts', import.meta.url))], {
  env: { ...process.env, REDIS_URL: url },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const exited = new Promise((resolve) => worker.once('exit', resolve));

try {
  const jobs = [];
  for (let i = 0; i < 3; i++) jobs.push(await queue.add('report', { rows: 60 }));
  await sleep(3_000);
  const [doomed] = jobs;
  const result = await requester.terminate(
    { queue: 'bullmq', name: 'reports', id: doomed!.id! },
    { reason: 'customer cancelled', requestedBy: 'main.ts', wait: true },
  );
  console.log(`[main] terminate(${doomed!.id}) -> ${result.status}`);
  await sleep(500);
  console.log('[main] SIGTERM to the worker');
  worker.kill('SIGTERM');
  await exited;
  for (const job of jobs) {
    const now = await queue.getJob(job.id!);
    const state = await now?.getState();
    console.log(
      `[main] ${job.id}: ${state}, attemptsMade ${now?.attemptsMade}, progress ${now?.progress}${now?.failedReason ? `, ${now.failedReason}` : ''}`,
    );
  }
} finally {
  worker.kill('SIGKILL');
  await requester.close();
  await adapter.close();
  await queue.obliterate({ force: true }).catch(() => undefined);
  await queue.close();
  await own?.stop();
}
