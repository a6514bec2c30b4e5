#!/usr/bin/env node
// Entry point: the compiled CLI in dist/. In a git checkout whose dist/ is missing or older than the sources
// (bin/dist-state.js), it says so and runs the TypeScript sources through tsx instead: never a stale dist/.
// VXLAB_FROM_SOURCE=1 runs the sources through tsx on purpose (the bench compares both start-ups).
// VXLAB_NO_BUNDLE=1 runs dist/harness/cli/main.js (tsc output) instead of the bundle dist/cli/main.js.
// Two quick paths of the bundle (start-up, npm run bench row cli): `vxlab --help` prints dist/cli/help.txt (written by
// the build from the same usage()), and `vxlab validate FILE…` first tries dist/cli/fast-validate.js (no yaml, no zod),
// which either validates every file or prints nothing and leaves it to the full command.
import { existsSync, readFileSync } from 'node:fs';
import { distState } from './dist-state.js';

const s = process.env.VXLAB_FROM_SOURCE === '1' ? { state: 'source' } : distState();
const argv = process.argv.slice(2);
const bundled = (s.state === 'fresh' || s.state === 'packaged') && process.env.VXLAB_NO_BUNDLE !== '1';
let main;
let done;
if (bundled && (argv.length === 0 || (argv.length === 1 && ['--help', '-h', 'help'].includes(argv[0])))) {
  let help;
  try {
    help = readFileSync(new URL('../dist/cli/help.txt', import.meta.url), 'utf8');
  } catch {
    /* no bundle: the CLI below says it */
  }
  if (help !== undefined) {
    process.stdout.write(help);
    done = argv.length ? 0 : 2;
  }
} else if (bundled && argv[0] === 'validate') {
  const quick = new URL('../dist/cli/fast-validate.js', import.meta.url);
  if (existsSync(quick)) done = (await import(quick.href)).fastValidate(argv.slice(1));
}
if (done !== undefined) {
  process.exitCode = done;
} else if (s.state === 'fresh' || s.state === 'packaged') {
  // dist/cli/main.js: the CLI bundled by esbuild (scripts/build.mjs), quicker to start; the tsc output without it
  const bundle = new URL('../dist/cli/main.js', import.meta.url);
  ({ main } = await import(existsSync(bundle) && process.env.VXLAB_NO_BUNDLE !== '1' ? bundle.href : '../dist/harness/cli/main.js'));
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
  ({ main } = await import('../harness/cli/main.ts'));
}
if (main) process.exitCode = await main(argv);
