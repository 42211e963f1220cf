// `npm run db`: a throwaway PostgreSQL for trying jobterm by hand (the
// README's "By hand, with the CLI"). Starts the embedded server the tests use,
// in a temp dir on a free port, writes its connection string to
// .tmp/database-url (so other terminals can `export DATABASE_URL=$(cat
// .tmp/database-url)`), and runs until Ctrl-C, which stops the server and
// removes its files.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../test/support/embedded-postgres.js';

const dir = join(import.meta.dirname, '..', '.tmp');
const file = join(dir, 'database-url');

let stopping: Promise<void> | undefined;
let stopServer: (() => Promise<void>) | undefined;
const stop = (signal: string) => {
  stopping ??= (async () => {
    console.log(`\n${signal}: stopping PostgreSQL and removing its files`);
    await rm(file, { force: true });
    await stopServer?.();
  })();
  return stopping;
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stop(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('could not stop PostgreSQL cleanly:', error);
        process.exit(1);
      },
    );
  });
}

const db = await startEmbeddedPostgres({
  onStarting: (stopIt) => {
    stopServer = stopIt;
  },
});
await mkdir(dir, { recursive: true });
await writeFile(file, `${db.url}\n`);
console.log(`PostgreSQL is running (pid ${db.pid}), data in ${db.root}`);
console.log(`  export DATABASE_URL=${db.url}`);
console.log(`  (or, from this directory: export DATABASE_URL=$(cat .tmp/database-url))`);
console.log('Ctrl-C stops it and removes its files.');
// Keep the process alive until a signal; the handlers above end it.
setInterval(() => {}, 1 << 30);
