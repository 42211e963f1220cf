import { type ParseArgsConfig, parseArgs } from 'node:util';
import type pg from 'pg';
import { type Logger, makeConsoleLogger, silentLogger } from '../core/logger.js';
import { isStoreUnavailableError } from '../stores/postgres/errors.js';
import { type PostgresStore, postgresStore } from '../stores/postgres/store.js';

/** What the CLI writes to and reads from; main.ts passes the process's own. */
export interface Io {
  readonly stdout: (line: string) => void;
  readonly stderr: (line: string) => void;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * 0: terminated, requested (or migrated, listed). 1: not found, already
 * finished, timed out: the job was not (yet) terminated. 2: usage error,
 * nothing done. 3: failure, e.g. the database is unreachable.
 */
export const EXIT = Object.freeze({ ok: 0, notDone: 1, usage: 2, failure: 3 });

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly help: string;
  run(args: string[], io: Io): Promise<number>;
}

/** A mistake in the command line: exit 2, one line, nothing done. */
export class UsageError extends Error {
  override readonly name = 'UsageError' as const;
}

/** Options every command that talks to the database takes. */
export const DATABASE_OPTIONS = {
  'database-url': { type: 'string' },
  schema: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

export const DATABASE_HELP = `  --database-url <url>  PostgreSQL connection string (default: $DATABASE_URL)
  --schema <name>       jobterm's schema (default: $JOBTERM_SCHEMA or jobterm)
  --json                machine-readable output on stdout
  -h, --help            this help`;

/** parseArgs, strict, with its long messages cut to one line. */
export function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args: attachNegativeValues(args, options), options, allowPositionals: true, strict: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const unknown = /Unknown option '([^']+)'/.exec(message);
    if (unknown) throw new UsageError(`unknown option '${unknown[1]}'`);
    const missing = /Option '([^']+)' argument missing/.exec(message);
    if (missing)
      throw new UsageError(`option '${missing[1]?.replace(/^-\w, /, '').replace(/ <value>$/, '')}' needs a value`);
    throw new UsageError(message.split('\n')[0] ?? message);
  }
}

/**
 * `--timeout -5`: node's parseArgs refuses a value that starts with a dash as
 * "ambiguous". A negative number after an option that takes a value is that
 * value, so it is attached (`--timeout=-5`) and the option's own check then
 * says what is wrong with it.
 */
function attachNegativeValues(args: string[], options: NonNullable<ParseArgsConfig['options']>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

export function databaseUrl(values: { 'database-url'?: string | undefined }, env: NodeJS.ProcessEnv): string {
  const url = values['database-url'] ?? env.DATABASE_URL;
  if (url === undefined || url === '') throw new UsageError('no database: pass --database-url or set DATABASE_URL');
  return url;
}

export function schemaName(values: { schema?: string | undefined }, env: NodeJS.ProcessEnv): string | undefined {
  const schema = values.schema ?? env.JOBTERM_SCHEMA;
  return schema === '' ? undefined : schema;
}

/** Quiet unless DEBUG names jobterm: the CLI's own one-line messages say what went wrong. */
export function cliLogger(env: NodeJS.ProcessEnv): Logger {
  return /\bjobterm\b/.test(env.DEBUG ?? '') ? makeConsoleLogger() : silentLogger;
}

/**
 * The kill store a command works on: the schema from --schema or
 * JOBTERM_SCHEMA, no LISTEN connection, and never a migration — only
 * `jobterm migrate` changes the schema, so a mistyped --schema fails instead
 * of creating an empty one. `connection` is a URL, or a pool the command owns.
 */
export function cliStore(
  values: { schema?: string | undefined },
  io: Io,
  connection: { connectionString: string } | { pool: pg.Pool },
): PostgresStore {
  const schema = schemaName(values, io.env);
  return postgresStore({
    ...connection,
    ...(schema === undefined ? {} : { schema }),
    migrate: false,
    receiveRequests: false,
    logger: cliLogger(io.env),
  });
}

/** Runs a command body, turning what it throws into one stderr line and an exit code. */
export async function guarded(command: string, io: Io, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    const message = oneLine(error);
    if (error instanceof UsageError || (error instanceof Error && error.name === 'TypeError')) {
      io.stderr(`jobterm ${command}: ${message} (see 'jobterm ${command} --help')`);
      return EXIT.usage;
    }
    io.stderr(`jobterm ${command}: ${isStoreUnavailableError(error) ? message.replace(/^jobterm: /, '') : message}`);
    return EXIT.failure;
  }
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n')[0] ?? message).replace(/^jobterm: /, '');
}
