/**
 * Makes the CommonJS declarations (`dist/*.d.cts`) type-check for users of
 * `module: node16`/`node18` with `skipLibCheck: false`; run after tsup by
 * `npm run build`.
 *
 * graphile-worker 0.18 is ESM only (`"type": "module"`). tsup copies the
 * ESM declarations' `import { Task } from 'graphile-worker'` and `declare
 * module 'graphile-worker' { ... }` into the .d.cts files unchanged, and
 * TypeScript then reports TS1479 inside them: a CommonJS file cannot
 * `require()` an ES module (TypeScript 5.9 allows it only under `nodenext`).
 * jobterm's CommonJS build loads no graphile-worker code at run time (the
 * adapter only uses its types), so the declarations only need its types:
 *
 * - each import of an ESM-only package becomes `import type ... with {
 *   'resolution-mode': 'import' }` (TypeScript >= 5.3);
 * - each `declare module '<that package>'` augmentation (`helpers.jobterm`
 *   on graphile's `JobHelpers`) is taken out of the .d.cts, which instead
 *   references its ESM twin (`x.d.ts`), where the same augmentation is
 *   resolved as an ES module import. It is one augmentation, seen from both.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Peer packages with no CommonJS entry point (their package.json has `"type": "module"` and one ESM export). */
const ESM_ONLY = ['graphile-worker', 'pg-boss'];

const dist = join(import.meta.dirname, '..', 'dist');

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function fixCjsDeclaration(text: string, esmTwin: string): { text: string; changed: boolean } {
  let out = text;
  let augmented = false;
  for (const name of ESM_ONLY) {
    const quoted = `'${escapeRegExp(name)}'`;
    out = out.replace(
      new RegExp(`^import (type )?(\\{[^}]*\\}|\\* as \\w+|\\w+) from ${quoted};$`, 'gm'),
      (_line, _type, names: string) => `import type ${names} from '${name}' with { 'resolution-mode': 'import' };`,
    );
    // rollup-plugin-dts prints each augmentation as a top-level block that ends with "}" at column 0.
    out = out.replace(new RegExp(`^declare module ${quoted} \\{\\n[\\s\\S]*?\\n\\}\\n`, 'gm'), () => {
      augmented = true;
      return '';
    });
  }
  if (augmented) out = `/// <reference path="./${esmTwin}" />\n${out}`;
  return { text: out, changed: out !== text };
}

async function main(): Promise<void> {
  const files = (await readdir(dist)).filter((file) => file.endsWith('.d.cts'));
  if (files.length === 0) throw new Error(`no .d.cts files in ${dist}: run tsup first`);
  for (const file of files) {
    const path = join(dist, file);
    const { text, changed } = fixCjsDeclaration(await readFile(path, 'utf8'), file.replace(/\.d\.cts$/, '.d.ts'));
    if (changed) {
      await writeFile(path, text);
      console.log(`cjs-declarations: ${file}: ESM-only imports made type-only (resolution-mode: import)`);
    }
  }
}

await main();
