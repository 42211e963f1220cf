import { LATEST_VERSION } from '../../stores/postgres/migrations.js';
import {
  type Command,
  cliStore,
  DATABASE_HELP,
  DATABASE_OPTIONS,
  databaseUrl,
  EXIT,
  guarded,
  parse,
  UsageError,
} from '../common.js';

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'create or upgrade the jobterm schema (idempotent; safe to run concurrently)',
  help: `Usage: jobterm migrate [options]

Creates the schema and its tables, or applies the migrations it lacks, under
an advisory lock (two deploys migrating at once are safe). Latest version: ${LATEST_VERSION}.

Options:
${DATABASE_HELP}`,
  run: (args, io) =>
    guarded('migrate', io, async () => {
      const { values, positionals } = parse(args, DATABASE_OPTIONS);
      if (values.help) {
        io.stdout(migrateCommand.help);
        return EXIT.ok;
      }
      if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
      // migrate() below is the one call that changes the schema.
      const store = cliStore(values, io, { connectionString: databaseUrl(values, io.env) });
      try {
        const result = await store.migrate();
        if (values.json) io.stdout(JSON.stringify({ schema: store.names.schema, ...result }));
        else if (result.applied.length === 0)
          io.stdout(`schema "${store.names.schema}" is up to date (version ${result.to})`);
        else io.stdout(`schema "${store.names.schema}" migrated from version ${result.from} to ${result.to}`);
        return EXIT.ok;
      } finally {
        await store.close();
      }
    }),
};
