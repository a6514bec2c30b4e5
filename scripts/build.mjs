// npm run build (also `prepare`, so npm ci and npm pack build): tsc -p tsconfig.build.json into dist/, incremental,
// then dist/.build-stamp, which bin/dist-state.js compares with the sources. A failed build writes no stamp.
//   node scripts/build.mjs            build
//   node scripts/build.mjs --if-stale build only when dist/ is missing or older than the sources
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { distState, ROOT, STAMP } from '../bin/dist-state.js';

/** Build dist/. Returns { ok, built, output }; never throws on a compile error (the caller decides). */
export function build({ ifStale = false } = {}) {
  const before = distState();
  if (ifStale && (before.state === 'fresh' || before.state === 'packaged')) return { ok: true, built: false, output: '' };
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, encoding: 'utf8' });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`;
  if (r.status !== 0) return { ok: false, built: false, output, reason: before };
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
  return { ok: true, built: true, output };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = build({ ifStale: process.argv.includes('--if-stale') });
  if (r.output) process.stdout.write(r.output);
  if (!r.ok) {
    console.error('build: tsc failed; dist/ is not up to date (bin/vxlab.js will run the sources through tsx)');
    process.exit(1);
  }
}
