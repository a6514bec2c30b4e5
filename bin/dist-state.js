// Is dist/ up to date with the TypeScript sources? Used by bin/vxlab.js, scripts/build.mjs (vitest's globalSetup)
// and scripts/bootstrap.sh, so that nothing in a checkout ever runs a dist/ older than its sources.
// mtime-based: dist/.build-stamp is written after every successful build; any source file newer than it = stale.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const STAMP = join(ROOT, 'dist', '.build-stamp');
const SOURCE_DIRS = ['harness', 'suites'];
const SOURCE_FILES = ['package.json', 'tsconfig.json', 'tsconfig.build.json'];

function mtime(p) {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return undefined;
  }
}

function newerIn(dir, than) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return undefined;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const n = newerIn(p, than);
      if (n) return n;
    } else if (/\.(ts|mts|mjs|js)$/.test(e.name) && (mtime(p) ?? 0) > than) return p;
  }
  return undefined;
}

/**
 * 'packaged': an installed package (dist/ only, no sources) — dist/ is what there is.
 * 'fresh' | 'stale' (with the first newer source file) | 'missing': a git checkout.
 */
export function distState(root = ROOT) {
  if (mtime(join(root, 'harness')) === undefined) return { state: 'packaged' };
  const stamp = mtime(join(root, 'dist', '.build-stamp'));
  if (stamp === undefined) return { state: 'missing' };
  for (const f of SOURCE_FILES) if ((mtime(join(root, f)) ?? 0) > stamp) return { state: 'stale', newer: f };
  for (const d of SOURCE_DIRS) {
    const n = newerIn(join(root, d), stamp);
    if (n) return { state: 'stale', newer: relative(root, n) };
  }
  return { state: 'fresh' };
}
