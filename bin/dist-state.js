'use strict';
// Is dist/ up to date with the TypeScript sources? Used by bin/vxlab.js, scripts/build.mjs (vitest's globalSetup),
// the bench and scripts/bootstrap.sh, so that nothing in a checkout ever runs a dist/ older than its sources.
// CommonJS (bin/package.json), like bin/vxlab.js: the CLI starts without Node's ES module loader.
//
// mtime-based: dist/.build-stamp is written after every successful build; any source file newer than it = stale.
// The stamp also lists the source directories and files the build saw (writeStamp), so that the check costs one stat
// per entry and no directory reads: a source edited in place is newer than the stamp; a file added, removed or
// renamed makes its directory newer than the stamp, and then the sources are walked as they are now (the list is only
// a shortcut: the walk decides, exactly as without a list).
const { readdirSync, readFileSync, statSync, writeFileSync } = require('node:fs');
const { join, relative } = require('node:path');

const ROOT = join(__dirname, '..');
const STAMP = join(ROOT, 'dist', '.build-stamp');
const SOURCE_DIRS = ['harness', 'suites'];
const SOURCE_FILES = ['package.json', 'tsconfig.json', 'tsconfig.build.json'];
const SOURCE_RE = /\.(ts|mts|mjs|js)$/;

const NO_THROW = { throwIfNoEntry: false };
function mtime(p) {
  const s = statSync(p, NO_THROW);
  return s === undefined ? undefined : s.mtimeMs;
}

/** Every source directory and source file under dir, in walk order (directories before their contents). */
function listIn(root, dir, dirs, files) {
  let entries;
  try {
    entries = readdirSync(join(root, dir), { withFileTypes: true });
  } catch {
    return;
  }
  dirs.push(dir);
  for (const e of entries) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) listIn(root, p, dirs, files);
    else if (SOURCE_RE.test(e.name)) files.push(p);
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
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) {
      const n = newerIn(p, than);
      if (n) return n;
    } else if (SOURCE_RE.test(e.name) && (mtime(p) ?? 0) > than) return p;
  }
  return undefined;
}

/** The stamp's list of source directories and files, or undefined (an older stamp, or not one written by writeStamp). */
function stampList(root) {
  try {
    const s = JSON.parse(readFileSync(`${root}/dist/.build-stamp`, 'utf8'));
    if (Array.isArray(s.dirs) && Array.isArray(s.files) && s.dirs.every((d) => typeof d === 'string') && s.files.every((f) => typeof f === 'string')) return s;
  } catch {
    /* no list */
  }
  return undefined;
}

/**
 * 'packaged': an installed package (dist/ only, no sources) — dist/ is what there is.
 * 'fresh' | 'stale' (with the first newer source file) | 'missing': a git checkout.
 */
function distState(root = ROOT) {
  // paths by concatenation: path.join of ~170 paths costs more than their stat calls
  const base = `${root}/`;
  if (mtime(`${base}harness`) === undefined) return { state: 'packaged' };
  const stamp = mtime(`${base}dist/.build-stamp`);
  if (stamp === undefined) return { state: 'missing' };
  for (const f of SOURCE_FILES) if ((mtime(base + f) ?? 0) > stamp) return { state: 'stale', newer: f };
  const list = stampList(root);
  // the shortcut holds only while no listed directory changed (no file added, removed or renamed since the build)
  if (list && list.dirs.every((d) => (mtime(base + d) ?? Infinity) <= stamp)) {
    let complete = true;
    for (const f of list.files) {
      const m = mtime(base + f);
      if (m === undefined) complete = false;
      else if (m > stamp) return { state: 'stale', newer: f };
    }
    if (complete) return { state: 'fresh' };
  }
  for (const d of SOURCE_DIRS) {
    const n = newerIn(base + d, stamp);
    if (n) return { state: 'stale', newer: relative(root, n) };
  }
  return { state: 'fresh' };
}

/** Write dist/.build-stamp (after a successful build): when, and the source directories and files it was built from. */
function writeStamp(root = ROOT) {
  const dirs = [];
  const files = [];
  for (const d of SOURCE_DIRS) listIn(root, d, dirs, files);
  writeFileSync(join(root, 'dist', '.build-stamp'), `${JSON.stringify({ built: new Date().toISOString(), dirs, files })}\n`);
}

exports.ROOT = ROOT;
exports.STAMP = STAMP;
exports.distState = distState;
exports.writeStamp = writeStamp;
