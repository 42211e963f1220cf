/**
 * `npm run bench [-- --quick] [-- suite ...]`: every benchmark, each figure
 * beside its reference measured in the same run. Prints a markdown table and
 * writes JSON to bench/results/. Uses DATABASE_URL, or an embedded PostgreSQL.
 */

import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import pg from 'pg';
import { withDatabase } from '../test/support/db.js';
import { startEmbeddedPostgres } from '../test/support/embedded-postgres.js';
import { hasRedisServer, type RedisServer, startRedisServer } from '../test/support/redis-server.js';
import { describeMachine, markdownTable, meetsGoal } from './lib/report.js';
import { median, p99 } from './lib/stats.js';
import type { BenchSuite, Figure } from './lib/types.js';
import { suites as allSuites } from './suites/index.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.filter((a) => !a.startsWith('--'));

async function main() {
  const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres();
  const serverUrl = process.env.DATABASE_URL ?? embedded!.url;
  // Redis for the BullMQ suite: REDIS_URL, else a redis-server of our own when one is installed.
  const wantsRedis = only.length === 0 || only.includes('bullmq');
  const redis: RedisServer | undefined =
    wantsRedis && !process.env.REDIS_URL && hasRedisServer() ? await startRedisServer() : undefined;
  const redisUrl = process.env.REDIS_URL || redis?.url;
  const onSignal = () => {
    void Promise.all([embedded?.stop(), redis?.stop()]).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    const version = (await admin.query<{ v: string }>('select version() as v')).rows[0]!.v.split(' on ')[0]!;
    const created: string[] = [];
    const ctx = {
      serverUrl,
      redisUrl,
      quick,
      log: (message: string) => process.stderr.write(`  ${message}\n`),
      async createDatabase(prefix: string) {
        const name = `${prefix}_${randomBytes(4).toString('hex')}`;
        await admin.query(`CREATE DATABASE "${name}"`);
        created.push(name);
        return { name, url: withDatabase(serverUrl, name) };
      },
    };
    const selected: BenchSuite[] = only.length ? allSuites.filter((s) => only.includes(s.name)) : allSuites;
    const results: Array<{ suite: string; figures: Figure[] }> = [];
    for (const suite of selected) {
      process.stderr.write(`bench: ${suite.name}${quick ? ' (quick)' : ''}\n`);
      results.push({ suite: suite.name, figures: await suite.run(ctx) });
      for (const name of created.splice(0)) await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    }
    await admin.end();
    const machine = describeMachine(version);
    process.stdout.write(`${markdownTable(results, machine)}\n`);
    const dir = new URL('./results/', import.meta.url);
    await mkdir(dir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const json = {
      machine,
      quick,
      at: new Date().toISOString(),
      suites: results.map(({ suite, figures }) => ({
        suite,
        figures: figures.map((f) => ({
          ...f,
          median: median(f.samples),
          p99: p99(f.samples),
          meetsGoal: meetsGoal(f),
          reference: f.reference && {
            ...f.reference,
            median: median(f.reference.samples),
            p99: p99(f.reference.samples),
          },
        })),
      })),
    };
    await writeFile(new URL(`bench-${stamp}${quick ? '-quick' : ''}.json`, dir), `${JSON.stringify(json, null, 2)}\n`);
  } finally {
    await embedded?.stop();
    await redis?.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
