// Issue 10, item 8: the harness leaves no temp data dir behind, not even after
// a SIGKILL of the process that started the server: the next start finds the
// owner dead, stops its orphaned server and removes the dir. A run in progress
// (its owner alive) is never touched.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { removeStaleServers } from '../support/embedded-postgres.js';

const fixture = fileURLToPath(new URL('../fixtures/support/embedded-owner.ts', import.meta.url));
// A prefix of this test's own, so the sweep below can only ever see dirs it made.
const PREFIX = `jobterm-pg-stale-test-${process.pid}-`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function startOwner(): Promise<{ child: ReturnType<typeof spawn>; root: string; pid: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
      env: { ...process.env, EMBEDDED_PREFIX: PREFIX },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk;
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve({ child, ...(JSON.parse(line) as { root: string; pid: number }) });
    });
    child.once('exit', (code) => reject(new Error(`the owner exited early (${code})`)));
  });
}

describe('embedded PostgreSQL temp dirs', () => {
  it('after a SIGKILL of its owner, the next start stops the orphaned server and removes its dir; a live owner’s is kept', async () => {
    const live = await startOwner();
    const dead = await startOwner();
    try {
      dead.child.kill('SIGKILL');
      await new Promise((resolve) => dead.child.once('exit', resolve));
      // Nothing can catch SIGKILL: the dir and the server are left behind.
      expect(existsSync(dead.root)).toBe(true);
      expect(alive(dead.pid)).toBe(true);

      const removed = await removeStaleServers(PREFIX);
      expect(removed).toEqual([dead.root]);
      expect(existsSync(dead.root)).toBe(false);
      expect(alive(dead.pid)).toBe(false);
      expect(existsSync(live.root)).toBe(true);
      expect(alive(live.pid)).toBe(true);
    } finally {
      live.child.kill('SIGKILL');
      await new Promise((resolve) => live.child.once('exit', resolve));
      expect(await removeStaleServers(PREFIX)).toEqual([live.root]);
      expect(alive(live.pid)).toBe(false);
    }
  }, 120_000);
});
