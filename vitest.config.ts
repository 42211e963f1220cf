import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration files spawn worker processes; on a 2-core machine more
    // parallel files only make timing noisier.
    maxWorkers: 2,
    pool: 'forks',
  },
});
