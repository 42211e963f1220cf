// What a CommonJS user writes (a .cts file, or a package without
// "type": "module"): the same imports compile to require() calls and resolve
// to jobterm's .d.cts declarations.
import { createTerminator, isTerminating, type TerminationToken } from 'jobterm';
import { makeJobtermPreset, wrapTaskList } from 'jobterm/graphile-worker';
import { pgBossJobterm } from 'jobterm/pg-boss';
import { postgresStore } from 'jobterm/postgres';

const connectionString = 'postgres://localhost/app';
const terminator = createTerminator({ store: postgresStore({ connectionString }) });
terminator.on('interrupted', (event) => console.log(event.ref.id, event.reason.kind));

export const preset = makeJobtermPreset({ terminator });
export const tasks = wrapTaskList(
  {
    report: async (_payload, helpers) => {
      const token: TerminationToken = helpers.jobterm.token;
      if (isTerminating()) token.throwIfTerminating();
    },
  },
  { terminator },
);

export function wrap(boss: Parameters<typeof pgBossJobterm>[0]['boss']) {
  return pgBossJobterm({ boss, terminator }).handler(async ([job]) => job?.token.isTerminating());
}
