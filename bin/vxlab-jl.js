#!/usr/bin/env node
// Entry point: the compiled CLI in dist/. In a git checkout whose dist/ is missing or older than the sources
// (bin/dist-state.js), it says so and runs the TypeScript sources through tsx instead: never a stale dist/.
// VXLAB_FROM_SOURCE=1 runs the sources through tsx on purpose (the bench compares both start-ups).
// VXLAB_NO_BUNDLE=1 runs dist/harness/cli/main.js (tsc output) instead of the bundle dist/cli/main.js.
globalThis.__zod_globalConfig = { jitless: true };
import { existsSync } from 'node:fs';
import { distState } from './dist-state.js';

const s = process.env.VXLAB_FROM_SOURCE === '1' ? { state: 'source' } : distState();
let main;
if (s.state === 'fresh' || s.state === 'packaged') {
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
process.exitCode = await main(process.argv.slice(2));
