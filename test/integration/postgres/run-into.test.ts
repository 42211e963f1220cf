// terminator.runInto (a pg-boss batch's runs, one promise for the batch) on a
// terminator whose PostgreSQL store is not ready yet: the jobs wait for the
// store's pending kills to load, as run()'s do, and a kill stored before
// they start stops the one it names before its code runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { OutcomeCollector } from '../../../src/middleware/run-job.js';
import { postgresStore } from '../../../src/stores/postgres/index.js';
import { createTerminator } from '../../../src/terminator/terminator.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';

describe('terminator.runInto before the store is ready', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('jobterm_runinto');
  });
  afterAll(() => db?.drop());

  it('waits for pending kills to load; the killed job never starts, the other completes', async () => {
    // A requester stores the kill first (no worker runs the job yet: it stays open).
    const requester = createTerminator({
      store: postgresStore({ connectionString: db.url, logger: silentLogger }),
      logger: silentLogger,
    });
    await requester.whenReady();
    const asked = await requester.terminate({ queue: 'custom', name: 'q', id: 'doomed' }, { reason: 'bad input' });
    expect(asked.status).toBe('requested');
    await requester.close();

    const worker = createTerminator({
      store: postgresStore({ connectionString: db.url, logger: silentLogger }),
      logger: silentLogger,
    });
    const started: string[] = [];
    const collector = new OutcomeCollector<string>(2);
    for (const [slot, id] of ['doomed', 'fine'].entries()) {
      worker.runInto(
        collector,
        slot,
        { queue: 'custom', name: 'q', id },
        () => {
          started.push(id);
          return id;
        },
        {},
      );
    }
    const outcomes = await collector.promise;
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['terminated', 'completed']);
    expect(outcomes[0]).toMatchObject({ reason: { kind: 'kill', message: 'bad input' } });
    expect(started).toEqual(['fine']);
    expect(worker.running()).toEqual([]);
    await worker.close();
  });
});
