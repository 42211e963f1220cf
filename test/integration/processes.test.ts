import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { killAllWorkers, spawnWorker } from '../support/processes.js';

const echo = fileURLToPath(new URL('../fixtures/echo-worker.ts', import.meta.url));

describe('worker process helpers', () => {
  afterEach(killAllWorkers);

  it('reads a worker’s lines and delivers a signal to it', async () => {
    const worker = spawnWorker(echo);
    const ready = await worker.waitFor('ready');
    expect(ready.pid).toBe(worker.pid);
    worker.kill('SIGTERM');
    await worker.waitFor('got-sigterm');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
  });

  it('SIGKILL ends a worker that cannot react', async () => {
    const worker = spawnWorker(echo);
    await worker.waitFor('ready');
    worker.kill('SIGKILL');
    expect(await worker.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(worker.messages.map((m) => m.event)).toEqual(['ready']);
  });
});
