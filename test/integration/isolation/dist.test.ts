// The built package (ESM and CommonJS) finds its isolate runtime beside its
// chunks, and an isolated module that imports `jobterm` by name reads the
// job's termination through jobterm's free functions. Needs `npm run build`
// first (CI builds before it tests); skipped without a build.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const built = existsSync(`${root}dist/index.cjs`) && existsSync(`${root}dist/isolate-thread.cjs`);
const check = fileURLToPath(new URL('../../fixtures/isolation/dist-check.cjs', import.meta.url));

describe.skipIf(!built)('isolated() from the built package', () => {
  for (const format of ['cjs', 'esm'] as const) {
    it(`${format}: both runners run and stop; a thread's synchronous loop sees isTerminating()`, async () => {
      // Plain node, no tsx: what a user of the package runs.
      const { stdout } = await promisify(execFile)(process.execPath, [check, format], { cwd: root, timeout: 60_000 });
      const lines = stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(lines).toEqual([
        {
          runner: 'thread',
          sum: { status: 'completed', value: 55 },
          stopped: { status: 'terminated', escalated: false },
        },
        {
          runner: 'process',
          sum: { status: 'completed', value: 55 },
          stopped: { status: 'terminated', escalated: true },
        },
      ]);
    }, 90_000);
  }
});
