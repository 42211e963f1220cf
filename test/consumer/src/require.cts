// CommonJS as a bundler sees it: `require()` resolves jobterm's "require"
// condition, so these names come from the .d.cts declarations.
import jobterm = require('jobterm');
import graphile = require('jobterm/graphile-worker');
import pgBoss = require('jobterm/pg-boss');
import postgres = require('jobterm/postgres');

const terminator = jobterm.createTerminator({ store: postgres.postgresStore({ connectionString: 'postgres:///app' }) });
export const preset = graphile.makeJobtermPreset({ terminator });
export const tasks = graphile.wrapTaskList(
  { report: async (_payload, helpers) => helpers.jobterm.token.throwIfTerminating() },
  { terminator },
);
export const wrap = (boss: Parameters<typeof pgBoss.pgBossJobterm>[0]['boss']) =>
  pgBoss.pgBossJobterm({ boss, terminator }).eachJob(async (job) => job.token.isTerminating());
