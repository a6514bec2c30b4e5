// Where the running code lives: the TypeScript sources (through tsx or vitest) or the compiled dist/.
// Child processes and worker threads must start the same form: .js from dist/, .ts (with tsx) from the sources.
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** true when this code runs from dist/ (compiled JavaScript) */
export const COMPILED = import.meta.url.endsWith('.js');

/** the package root: where package.json and topologies/ are (dist/harness/util/ or harness/util/ is below it) */
export const PKG_ROOT = fileURLToPath(new URL(COMPILED ? '../../../' : '../../', import.meta.url));

/** URL of a module given its .ts path relative to `base` (an import.meta.url): the .js file when running compiled. */
export function moduleUrl(tsPath: string, base: string): URL {
  const u = new URL(tsPath, base);
  return base.endsWith('.js') ? new URL(u.href.replace(/\.ts$/, '.js')) : u;
}

/**
 * The compiled twin in dist/ of a source module, when VXLAB_CHILD_DIST=1 says dist/ was just built from these sources
 * (vitest's globalSetup sets it after a successful build): the test suite's VTEP processes then start without tsx,
 * about 0.9 s less CPU each on the 2-core machine. Unset (a user running the sources), children run the sources.
 */
function distTwin(p: string): string | undefined {
  if (process.env.VXLAB_CHILD_DIST !== '1' || !p.startsWith(PKG_ROOT)) return undefined;
  const js = join(PKG_ROOT, 'dist', relative(PKG_ROOT, p)).replace(/\.ts$/, '.js');
  return existsSync(js) ? js : undefined;
}

/** argv that runs `module` as a Node process of its own: through tsx only when it is TypeScript. */
export function nodeArgv(module: URL, args: string[] = []): string[] {
  const p = fileURLToPath(module);
  const twin = p.endsWith('.ts') ? distTwin(p) : undefined;
  if (twin) return [process.execPath, twin, ...args];
  return [process.execPath, ...(p.endsWith('.ts') ? ['--import', 'tsx'] : []), p, ...args];
}
