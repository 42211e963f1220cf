import { type Command, DATABASE_HELP, DATABASE_OPTIONS, EXIT, guarded, parse, UsageError } from '../common.js';
import { cliReadStore, REDIS_HELP, REDIS_OPTIONS } from '../redis.js';
import { cliUser } from '../user.js';

const OPTIONS = { ...DATABASE_OPTIONS, ...REDIS_OPTIONS } as const;

const ANSWERS = {
  withdrawn: 'withdrawn: no worker will apply it',
  delivered: 'not withdrawn: a worker already applied it (its job is being terminated)',
  resolved: 'not withdrawn: it already ended',
  expired: 'not withdrawn: it had already expired',
  not_found: 'not found',
} as const;

export const withdrawCommand: Command = {
  name: 'withdraw',
  summary: 'take back a kill request no worker has applied yet',
  help: `Usage: jobterm withdraw <request-id> [options]

Takes back a kill request that is still pending (no worker fired its job's
token yet): it is never applied, and is pruned like an expired one. A request
already delivered or resolved is left as it is. 'jobterm requests --pending'
lists request ids.

Options:
${DATABASE_HELP}
${REDIS_HELP}

Exit status: 0 withdrawn; 1 not withdrawn (delivered, resolved, expired, not
found); 2 usage error; 3 failure.`,
  run: (args, io) =>
    guarded('withdraw', io, async () => {
      const { values, positionals } = parse(args, OPTIONS);
      if (values.help) {
        io.stdout(withdrawCommand.help);
        return EXIT.ok;
      }
      if (positionals.length !== 1) throw new UsageError(`expected one <request-id>, got ${positionals.length}`);
      const id = positionals[0]!;
      // The Redis store for BullMQ workers on jobterm/redis (--redis-url, or REDIS_URL without DATABASE_URL).
      const store = cliReadStore(values, io);
      try {
        const status = await store.withdraw(id, cliUser());
        io.stdout(values.json ? JSON.stringify({ requestId: id, status }) : `request ${id}: ${ANSWERS[status]}`);
        return status === 'withdrawn' ? EXIT.ok : EXIT.notDone;
      } finally {
        await store.close();
      }
    }),
};
