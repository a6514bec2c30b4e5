// vitest globalSetup: bring dist/ up to date before any test spawns bin/vxlab.js (incremental tsc; nothing to do
// when dist/ is newer than every source). A failed build (a type error mid-edit) does not stop the tests: bin/vxlab.js
// then sees the stale dist/, says so, and runs the TypeScript sources through tsx — never a stale dist/.
// @ts-expect-error plain JavaScript module without types
import { build } from '../scripts/build.mjs';

export default async function setup(): Promise<void> {
  const t0 = performance.now();
  const r = await build({ ifStale: true });
  if (r.built) process.stderr.write(`vxlab: dist/ rebuilt in ${Math.round(performance.now() - t0)} ms\n`);
  // a fresh dist/: child processes of the tests (userspace VTEPs) run its compiled modules, not the sources via tsx
  if (r.ok) process.env.VXLAB_CHILD_DIST = '1';
  if (!r.ok) process.stderr.write(`vxlab: 'npm run build' failed; bin/vxlab.js will run the sources through tsx:\n${r.output}\n`);
}
