import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The throwaway Redis that `npm test`, `npm run bench` and `npm run demo`
// start when REDIS_URL is unset: `redis-server` from PATH, on a free port, in
// a temp dir, with no persistence unless asked.

/** How to enable what needs Redis, printed when neither REDIS_URL nor redis-server is at hand. */
export const REDIS_HINT =
  'no Redis: set REDIS_URL=redis://host:port, or install redis-server (Debian: apt-get install redis-server) to run the BullMQ tests';

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly pid: number | undefined;
  /** Stops the server (SIGKILL, like a crash, with `crash: true`) and starts it again on the same port and dir. */
  restart(options?: { crash?: boolean; downFor?: number }): Promise<void>;
  /** Stops the server and removes its dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** Whether a `redis-server` binary is on PATH. */
export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export async function startRedisServer(options: { prefix?: string } = {}): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), options.prefix ?? 'jobterm-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  let stopped = false;
  const launch = async () => {
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
        '--protected-mode',
        'no',
      ],
      { stdio: 'ignore' },
    );
    await waitForPort(port, child);
  };
  const kill = async (signal: NodeJS.Signals) => {
    const running = child;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill(signal);
    });
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return child?.pid;
    },
    async restart({ crash = false, downFor = 0 } = {}) {
      await kill(crash ? 'SIGKILL' : 'SIGTERM');
      if (downFor > 0) await new Promise((resolve) => setTimeout(resolve, downFor));
      await launch();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode} on port ${port}`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`redis-server did not listen on port ${port} within 10 s`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
