import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import type { QueueAdapter } from '../../core/adapter.js';
import { Credentials, type DashboardTokens, generateSecret } from '../../http/auth.js';
import { createDashboard } from '../../http/handler.js';
import { APPLICATION_NAME } from '../../stores/postgres/store.js';
import { createTerminator } from '../../terminator/terminator.js';
import {
  type Command,
  cliLogger,
  cliStore,
  DATABASE_HELP,
  DATABASE_OPTIONS,
  databaseUrl,
  EXIT,
  guarded,
  type Io,
  parse,
  UsageError,
} from '../common.js';
import { adapterFor } from '../queues.js';
import { bullmqCliAdapter, cliRedisStore, REDIS_HELP, REDIS_OPTIONS, redisTarget } from '../redis.js';

const OPTIONS = {
  ...DATABASE_OPTIONS,
  ...REDIS_OPTIONS,
  port: { type: 'string' },
  host: { type: 'string' },
  token: { type: 'string', multiple: true },
  'read-token': { type: 'string', multiple: true },
  'base-path': { type: 'string' },
} as const;

const QUEUES = ['graphile-worker', 'pg-boss'] as const;

export const dashboardCommand: Command = {
  name: 'dashboard',
  summary: 'serve the web page and HTTP API: see running jobs, terminate them',
  help: `Usage: jobterm dashboard [options]

Serves the dashboard page and its JSON API (see docs/dashboard.md) until
SIGINT or SIGTERM. Closed by default: every API call needs a token.

Tokens are 'name:secret' (secrets of at least 16 characters); several are
separated by commas. The name is recorded as who asked for each termination.
With no token at all, an admin token is generated and the URL to open (with
the token in its #fragment, which browsers never send) is printed.

Options:
  --port <n>            port to listen on (default 3000; 0 picks a free one)
  --host <addr>         address to bind (default 127.0.0.1: this machine only)
  --token <name:secret> an admin token (may terminate); repeatable
                        (default: $JOBTERM_DASHBOARD_TOKEN)
  --read-token <name:secret>
                        a read-only token; repeatable (default: $JOBTERM_DASHBOARD_READ_TOKEN)
  --base-path <path>    serve under this path, e.g. /jobs (default: /)
${DATABASE_HELP}
${REDIS_HELP}`,
  run: (args, io) =>
    guarded('dashboard', io, async () => {
      const { values, positionals } = parse(args, OPTIONS);
      if (values.help) {
        io.stdout(dashboardCommand.help);
        return EXIT.ok;
      }
      if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
      const port = parsePort(values.port ?? '3000');
      const host = values.host ?? '127.0.0.1';
      const admin = values.token ?? splitList(io.env.JOBTERM_DASHBOARD_TOKEN);
      const read = values['read-token'] ?? splitList(io.env.JOBTERM_DASHBOARD_READ_TOKEN);
      const generated = admin.length === 0 && read.length === 0 ? generateSecret() : undefined;
      const tokens: DashboardTokens = {
        ...(generated !== undefined ? { admin: `admin:${generated}` } : admin.length > 0 ? { admin } : {}),
        ...(read.length > 0 ? { read } : {}),
      };
      // Checked before a connection is opened: a weak token is a usage error, and nothing listens.
      new Credentials(tokens);
      const basePath = values['base-path'] ?? '';
      const logger = cliLogger(io.env);
      // BullMQ on jobterm/redis: the Redis store and BullMQ's adapter, no PostgreSQL.
      const redisUrl = redisTarget(values, io.env);
      const pool =
        redisUrl === undefined
          ? new pg.Pool({
              connectionString: databaseUrl(values, io.env),
              max: 4,
              connectionTimeoutMillis: 10_000,
              application_name: `${APPLICATION_NAME}:dashboard`,
            })
          : undefined;
      pool?.on('error', (error) => logger.debug('idle connection lost', { error }));
      const store =
        pool === undefined ? cliRedisStore(redisUrl!, values, io.env, logger) : cliStore(values, io, { pool });
      const adapters: QueueAdapter[] = [];
      let bullmq: (QueueAdapter & { close(): Promise<void> }) | undefined;
      try {
        if (pool === undefined) {
          bullmq = await bullmqCliAdapter(redisUrl!, values, io.env);
          if (bullmq !== undefined) adapters.push(bullmq);
        } else {
          for (const queue of QUEUES) {
            const adapter = await adapterFor(queue, pool, io.env);
            if (adapter !== undefined) adapters.push(adapter);
          }
        }
        const terminator = createTerminator({ store, logger, adapters, workerId: `dashboard@${host}:${port}` });
        const handler = createDashboard({
          terminator,
          requests: store,
          tokens,
          ...(basePath === '' || basePath === '/' ? {} : { basePath }),
        });
        const server = createServer(handler);
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, host, () => resolve());
        });
        const address = server.address() as AddressInfo;
        const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
        const url = `http://${shownHost}:${address.port}${basePath === '/' ? '' : basePath}/`;
        report(io, values.json ?? false, url, generated === undefined ? undefined : `admin:${generated}`);
        await untilSignal();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await terminator.close();
        return EXIT.ok;
      } finally {
        await store.close();
        await bullmq?.close().catch(() => undefined);
        await pool?.end().catch(() => undefined);
      }
    }),
};

function report(io: Io, json: boolean, url: string, generated: string | undefined): void {
  const secret = generated?.slice('admin:'.length);
  const open = secret === undefined ? url : `${url}#token=${secret}`;
  if (json) {
    io.stdout(JSON.stringify({ url, open, ...(generated === undefined ? {} : { token: generated }) }));
    return;
  }
  io.stdout(`jobterm dashboard on ${url}`);
  if (generated !== undefined) {
    io.stdout(`no token given: generated an admin token for this run (${generated})`);
    io.stdout(`open ${open}`);
  }
  io.stdout('press Ctrl-C to stop');
}

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65_535) {
    throw new UsageError(`--port must be a whole number from 0 to 65535, got '${text}'`);
  }
  return Number(text);
}

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
