/**
 * Checks that every relative link in the Markdown files of a directory (the
 * unpacked npm tarball in CI) resolves inside it: the file exists, and a
 * `#fragment` names a heading of that file (GitHub's slugs). The registry's
 * page renders README.md from the tarball, so a link to a file that is not
 * shipped is dead there. Absolute links (`https:`, `mailto:`) are not fetched.
 *
 * `tsx scripts/check-links.ts <dir>`: exits 1 and lists each broken link.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const root = resolve(process.argv[2] ?? '.');

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : markdownFiles(path);
    return entry.name.endsWith('.md') ? [path] : [];
  });
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = heading[1]!.replace(/`/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const slug = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** Links outside code spans and fences: `[text](target)`, and `[text]: target` definitions. */
function linksOf(markdown: string): Array<{ target: string; line: number }> {
  const links: Array<{ target: string; line: number }> = [];
  let fenced = false;
  markdown.split('\n').forEach((raw, index) => {
    if (/^\s*(```|~~~)/.test(raw)) fenced = !fenced;
    if (fenced) return;
    const line = raw.replace(/`[^`]*`/g, '');
    for (const match of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      links.push({ target: match[1]!, line: index + 1 });
    }
    const definition = /^\s*\[[^\]]+\]:\s*<?(\S+?)>?(\s|$)/.exec(line);
    if (definition) links.push({ target: definition[1]!, line: index + 1 });
  });
  return links;
}

const broken: string[] = [];
const files = markdownFiles(root);
for (const file of files) {
  const markdown = readFileSync(file, 'utf8');
  for (const { target, line } of linksOf(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    const [pathPart = '', fragment] = target.split('#', 2);
    const where = `${relative(root, file)}:${line}: ${target}`;
    const path = pathPart === '' ? file : resolve(dirname(file), decodeURIComponent(pathPart));
    if (path !== root && !path.startsWith(root + sep)) {
      broken.push(`${where} (points outside the package)`);
      continue;
    }
    if (!existsSync(path)) {
      broken.push(`${where} (${relative(root, path)} is not in the package)`);
      continue;
    }
    if (fragment !== undefined && statSync(path).isFile() && path.endsWith('.md')) {
      if (!anchorsOf(readFileSync(path, 'utf8')).has(fragment)) {
        broken.push(`${where} (no heading with anchor #${fragment} in ${relative(root, path)})`);
      }
    }
  }
}

if (broken.length > 0) {
  console.error(`broken links in ${root}:\n  ${broken.join('\n  ')}`);
  process.exit(1);
}
console.log(`links: ${files.length} Markdown files, every relative link resolves inside ${root}`);
