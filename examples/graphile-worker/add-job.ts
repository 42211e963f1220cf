// Adds one `report` job for examples/graphile-worker/worker.ts and prints its
// id: `npx tsx examples/graphile-worker/add-job.ts [rows]` (100 ms a row;
// default 600 rows, a minute). `DATABASE_URL` names the database.
import { makeWorkerUtils } from 'graphile-worker';

const connectionString = process.env.DATABASE_URL;
if (!connectionString) throw new Error('set DATABASE_URL');
const rows = Number(process.argv[2] ?? 600);
if (!Number.isInteger(rows) || rows < 1)
  throw new TypeError(`Expected \`rows\` to be a positive integer, got ${process.argv[2]}`);

const utils = await makeWorkerUtils({ connectionString });
try {
  const job = await utils.addJob('report', { rows });
  console.log(`added job ${job.id} (report, ${rows} rows, about ${Math.round(rows / 10)} s)`);
} finally {
  await utils.release();
}
