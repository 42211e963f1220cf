import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from './embedded-postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

/**
 * One PostgreSQL for the whole run: `DATABASE_URL` when set, otherwise an
 * embedded server that is stopped (and its temp dir removed) at the end, also
 * when tests fail. Each test file then makes its own database (see db.ts).
 */
export default async function setup(project: TestProject) {
  const given = process.env.DATABASE_URL;
  if (given) {
    project.provide('databaseUrl', given);
    return;
  }
  const server = await startEmbeddedPostgres();
  project.provide('databaseUrl', server.url);
  const stop = () => server.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return async () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await server.stop();
  };
}
