import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { JOBTERM_VERSION } from '../../../src/core/version.js';

it('JOBTERM_VERSION (presence records, jobterm --version) is package.json’s version', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  expect(JOBTERM_VERSION).toBe(pkg.version);
});
