import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { killAllWorkers, spawnWorker } from '../../support/processes.js';

const script = fileURLToPath(new URL('../../fixtures/core/signal-worker.ts', import.meta.url));

describe('handleSignals: true, in a real process', () => {
  afterEach(killAllWorkers);

  it('SIGTERM fires every token, escalates after shutdownTimeout, then exits 0', async () => {
    const worker = spawnWorker(script, { env: { SHUTDOWN_TIMEOUT: '400' } });
    expect((await worker.waitFor('ready')).running).toBe(2);
    worker.kill('SIGTERM');
    const start = await worker.waitFor('shutdown-start');
    expect((await worker.waitFor('polite-saw')).kind).toBe('shutdown');
    const escalated = await worker.waitFor('escalated');
    expect(escalated.id).toBe('stubborn');
    // Behaviour about time: escalation waits for the timeout (400 ms), not less.
    expect((escalated.at as number) - (start.at as number)).toBeGreaterThanOrEqual(390);
    const end = await worker.waitFor('shutdown-end');
    expect(end.summary).toMatchObject({
      escalated: 1,
      jobs: [
        { ref: { id: 'polite' }, status: 'interrupted', escalated: false },
        { ref: { id: 'stubborn' }, status: 'interrupted', escalated: true },
      ],
    });
    expect(await worker.exited).toEqual({ code: 0, signal: null });
  });

  it('a second SIGTERM escalates at once instead of waiting out the timeout', async () => {
    const worker = spawnWorker(script, { env: { SHUTDOWN_TIMEOUT: '60000' } });
    await worker.waitFor('ready');
    worker.kill('SIGTERM');
    await worker.waitFor('shutdown-start');
    await worker.waitFor('polite-saw');
    const second = Date.now();
    worker.kill('SIGTERM');
    await worker.waitFor('escalated');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - second).toBeLessThan(20_000);
  });
});
