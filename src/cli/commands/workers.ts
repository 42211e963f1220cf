import type { FleetWorker } from '../../core/fleet.js';
import { type Command, DATABASE_HELP, DATABASE_OPTIONS, EXIT, guarded, parse, UsageError } from '../common.js';
import { age, isoSeconds } from '../fleet-format.js';
import { cliReadStore, REDIS_HELP, REDIS_OPTIONS } from '../redis.js';
import { table } from '../table.js';

const OPTIONS = {
  ...DATABASE_OPTIONS,
  ...REDIS_OPTIONS,
  queue: { type: 'string' },
  all: { type: 'boolean' },
} as const;

export const workersCommand: Command = {
  name: 'workers',
  summary: 'list the live worker processes and what they serve',
  help: `Usage: jobterm workers [options]

Lists every worker process that heartbeats into the store: its id, host and
pid, the queues and the queue's own ids it serves, how many jobs it runs, and
when it was last seen. Job lists are as fresh as one heartbeat (5 s by default).
BullMQ workers on the Redis store: --redis-url (or REDIS_URL).

Options:
  --queue <queue>       only workers serving this queue system (graphile-worker, pg-boss, bullmq, ...)
  --all                 include workers past their dead threshold, not yet rescued
${DATABASE_HELP}
${REDIS_HELP}`,
  run: (args, io) =>
    guarded('workers', io, async () => {
      const { values, positionals } = parse(args, OPTIONS);
      if (values.help) {
        io.stdout(workersCommand.help);
        return EXIT.ok;
      }
      if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
      // The Redis store for BullMQ workers on jobterm/redis (--redis-url, or REDIS_URL without DATABASE_URL).
      const store = cliReadStore(values, io);
      try {
        const snapshot = await store.fleet({
          ...(values.queue === undefined ? {} : { queue: values.queue }),
          includeDead: values.all ?? false,
        });
        if (values.json) {
          io.stdout(
            JSON.stringify({
              at: snapshot.at,
              heartbeatInterval: snapshot.heartbeatInterval,
              workers: snapshot.workers.map(workerJson),
            }),
          );
        } else if (snapshot.workers.length === 0) {
          io.stdout('no live workers');
        } else {
          io.stdout(
            table(
              ['WORKER', 'HOST', 'PID', 'QUEUES', 'JOBS', 'STARTED', 'LAST SEEN', 'VERSIONS'],
              snapshot.workers.map((worker) => [
                worker.workerId,
                worker.host,
                String(worker.pid),
                worker.queues.map(describeQueue).join(' ') || '-',
                String(worker.jobs.length),
                isoSeconds(worker.startedAt),
                `${age(worker.lastSeenAt, snapshot.at)} ago${worker.alive ? '' : ' (dead)'}`,
                `jobterm ${worker.versions.jobterm}, node ${worker.versions.node}`,
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

function describeQueue(queue: FleetWorker['queues'][number]): string {
  const names = queue.names !== undefined && queue.names.length > 0 ? `(${queue.names.join(',')})` : '';
  return `${queue.queue}${names}`;
}

function workerJson(worker: FleetWorker) {
  return { ...worker, jobs: worker.jobs.length };
}
