#!/usr/bin/env node
'use strict';
// Entry point: the compiled CLI in dist/. In a git checkout whose dist/ is missing or older than the sources
// (bin/dist-state.js), it says so and runs the TypeScript sources through tsx instead: never a stale dist/.
// VXLAB_FROM_SOURCE=1 runs the sources through tsx on purpose (the bench compares both start-ups).
// VXLAB_NO_BUNDLE=1 runs dist/harness/cli/main.js (tsc output) instead of the bundle dist/cli/main.js.
//
// CommonJS (bin/package.json says so; the package itself is ESM): Node starts a CommonJS entry without its ES module
// loader, which is most of what a command that never needs it would pay (npm run bench, row cli). The CLI itself is
// ESM and is import()ed below. Two quick paths of the bundle never load it: `vxlab --help` prints dist/cli/help.txt
// (written by the build from the same usage()), and `vxlab validate FILE…` first tries dist/cli/fast-validate.cjs (no
// yaml, no zod; compiled with its V8 code cache, bin/compile-cache.js), which either validates every file or answers
// "not sure" having printed nothing, and then the full command runs. Both write their text straight to fd 1.
const { readFileSync, writeSync } = require('node:fs');
const { join } = require('node:path');
const { distState } = require('./dist-state.js');

const ROOT = join(__dirname, '..');
const s = process.env.VXLAB_FROM_SOURCE === '1' ? { state: 'source' } : distState();
const argv = process.argv.slice(2);
const built = s.state === 'fresh' || s.state === 'packaged';
const bundled = built && process.env.VXLAB_NO_BUNDLE !== '1';

/** What process.stdout.write would write, without creating process.stdout (a TTY or pipe stream loads node:net). */
function out(text) {
  const b = Buffer.from(text);
  let at = 0;
  try {
    while (at < b.length) at += writeSync(1, b, at);
  } catch (e) {
    // a reader that went away: dropped, as every command does (survivePipeClose); anything else (a non-blocking
    // stdout that is full): the rest through the stream, which waits
    if (e && e.code === 'EPIPE') return;
    process.stdout.write(b.subarray(at));
  }
}

function quick() {
  if (!bundled) return undefined;
  if (argv.length === 0 || (argv.length === 1 && ['--help', '-h', 'help'].includes(argv[0]))) {
    let help;
    try {
      help = readFileSync(join(ROOT, 'dist', 'cli', 'help.txt'), 'utf8');
    } catch {
      return undefined; // no bundle: the CLI below says it
    }
    out(help);
    return argv.length ? 0 : 2;
  }
  if (argv[0] === 'validate' && argv.length > 1) {
    let r;
    try {
      const { loadCached } = require('./compile-cache.js');
      const dir = join(ROOT, 'dist', 'cli');
      r = loadCached(join(dir, 'fast-validate.cjs'), join(dir, 'fast-validate.v8cache')).exports.quickValidate(argv.slice(1));
    } catch {
      return undefined; // no quick bundle, or anything unexpected: the full command decides
    }
    if (r === undefined) return undefined;
    if (r.lines.length) out(`${r.lines.join('\n')}\n`);
    return r.code;
  }
  return undefined;
}

async function full() {
  let main;
  if (built) {
    // dist/cli/main.js: the CLI bundled by esbuild (scripts/build.mjs), quicker to start; the tsc output without it
    const bundle = join(ROOT, 'dist', 'cli', 'main.js');
    let use = bundle;
    if (process.env.VXLAB_NO_BUNDLE === '1' || !require('node:fs').existsSync(bundle)) use = join(ROOT, 'dist', 'harness', 'cli', 'main.js');
    ({ main } = await import(require('node:url').pathToFileURL(use).href));
  } else {
    const why = s.state === 'missing' ? 'dist/ is missing' : s.state === 'stale' ? `dist/ is older than ${s.newer}` : '';
    let register;
    try {
      ({ register } = await import('tsx/esm/api'));
    } catch {
      process.stderr.write(`vxlab: ${why || 'VXLAB_FROM_SOURCE=1'} and tsx is not installed; run 'npm run build' (or npm ci)\n`);
      process.exit(1);
    }
    if (why) process.stderr.write(`vxlab: ${why}; running the TypeScript sources through tsx ('npm run build' compiles them)\n`);
    register();
    ({ main } = await import(require('node:url').pathToFileURL(join(ROOT, 'harness', 'cli', 'main.ts')).href));
  }
  process.exitCode = await main(argv);
}

const done = quick();
if (done !== undefined) process.exitCode = done;
else full(); // a rejection is an unhandled one: its stack on stderr, exit 1 (as an uncaught error always was)
