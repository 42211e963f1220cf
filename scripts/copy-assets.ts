/**
 * Copies the dashboard's page files (src/http/assets) beside the built code
 * (dist/http/assets), where `jobterm/http` reads them through
 * `import.meta.url`; run after tsup by `npm run build`. Not a tsup
 * `onSuccess`: tsup runs that once per format, at the same time, and the two
 * copies raced (EEXIST on mkdir).
 */
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const target = join(root, 'dist', 'http', 'assets');
await rm(target, { recursive: true, force: true });
await cp(join(root, 'src', 'http', 'assets'), target, { recursive: true });
