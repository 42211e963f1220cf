import { defineConfig } from 'tsup';

// One entry per subpath export, so loading `jobterm/pg-boss` never loads
// graphile-worker and the reverse. Queue libraries and pg stay external: they
// are the user's own (optional peer dependencies).
export default defineConfig([
  {
    entry: {
      index: 'src/index.ts',
      postgres: 'src/stores/postgres/index.ts',
      'graphile-worker': 'src/adapters/graphile-worker/index.ts',
      'pg-boss': 'src/adapters/pg-boss/index.ts',
      redis: 'src/stores/redis/index.ts',
      bullmq: 'src/adapters/bullmq/index.ts',
      http: 'src/http/index.ts',
    },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node22',
    splitting: true,
    treeshake: true,
    // src/isolation finds its isolate runtime, and jobterm/http its page
    // files (copied by scripts/copy-assets.ts), beside itself through
    // `import.meta.url`; the shim makes that work in the CommonJS build too.
    shims: true,
  },
  {
    // What runs inside the isolates (src/isolation/isolate-*.cjs): plain
    // CommonJS, bundled into one file each, beside the chunks that load them.
    entry: {
      'isolate-thread': 'src/isolation/isolate-thread.cjs',
      'isolate-process': 'src/isolation/isolate-process.cjs',
    },
    format: ['cjs'],
    target: 'node22',
    outExtension: () => ({ js: '.cjs' }),
  },
  {
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'node22',
    banner: { js: '#!/usr/bin/env node' },
  },
]);
