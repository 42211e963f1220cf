import { formatRef } from '../../core/job-ref.js';
import type { StoredKillRequest } from '../../stores/postgres/requests.js';
import type { StoredRedisKillRequest } from '../../stores/redis/store.js';
import { type Command, DATABASE_HELP, DATABASE_OPTIONS, EXIT, guarded, parse, UsageError } from '../common.js';
import { cliReadStore, REDIS_HELP, REDIS_OPTIONS } from '../redis.js';
import { table } from '../table.js';

const OPTIONS = {
  ...DATABASE_OPTIONS,
  ...REDIS_OPTIONS,
  pending: { type: 'boolean' },
  limit: { type: 'string' },
} as const;

export const requestsCommand: Command = {
  name: 'requests',
  summary: 'list kill requests, newest first',
  help: `Usage: jobterm requests [options]

Lists kill requests, newest first: who asked, why, and how each ended.

Options:
  --pending             only requests still in force (pending or delivered, not expired)
  --limit <n>           at most n rows (default 100)
${DATABASE_HELP}
${REDIS_HELP}`,
  run: (args, io) =>
    guarded('requests', io, async () => {
      const { values, positionals } = parse(args, OPTIONS);
      if (values.help) {
        io.stdout(requestsCommand.help);
        return EXIT.ok;
      }
      if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
      const limit = values.limit === undefined ? 100 : Number(values.limit);
      if (!/^\d{1,7}$/.test(values.limit ?? '1') || limit < 1) {
        throw new UsageError(`--limit must be a positive whole number, got '${values.limit}'`);
      }
      // The Redis store for BullMQ workers on jobterm/redis (--redis-url, or REDIS_URL without DATABASE_URL).
      const store = cliReadStore(values, io);
      try {
        const rows = await store.listRequests({ pending: values.pending ?? false, limit });
        if (values.json) {
          io.stdout(JSON.stringify(rows.map(toJson)));
        } else if (rows.length === 0) {
          io.stdout(values.pending ? 'no pending kill requests' : 'no kill requests');
        } else {
          io.stdout(
            table(
              ['ID', 'JOB', 'STATUS', 'OUTCOME', 'REQUESTED', 'BY', 'RESOLVED BY', 'REASON'],
              rows.map((row) => [
                row.id.slice(0, 8),
                formatRef(row.ref),
                row.expired ? 'expired' : row.status,
                row.outcome ?? '-',
                row.reason.requestedAt.toISOString().replace(/\.\d+Z$/, 'Z'),
                row.reason.requestedBy ?? '-',
                row.resolvedBy ?? '-',
                row.reason.message,
              ]),
            ),
          );
        }
        return EXIT.ok;
      } finally {
        await store.close();
      }
    }),
};

function toJson(row: StoredKillRequest | StoredRedisKillRequest) {
  return {
    id: row.id,
    queue: row.ref.queue,
    name: row.ref.name ?? null,
    jobId: row.ref.id,
    status: row.status,
    expired: row.expired,
    outcome: row.outcome ?? null,
    reason: row.reason.message,
    requestedBy: row.reason.requestedBy ?? null,
    requestedAt: row.reason.requestedAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    deliveredBy: row.deliveredBy ?? null,
    deliveredAt: row.deliveredAt?.toISOString() ?? null,
    resolvedBy: row.resolvedBy ?? null,
    resolvedAt: row.resolvedAt?.toISOString() ?? null,
  };
}
