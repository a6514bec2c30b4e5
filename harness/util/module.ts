// Where the running code lives: the TypeScript sources (through tsx or vitest) or the compiled dist/.
// Child processes and worker threads must start the same form: .js from dist/, .ts (with tsx) from the sources.
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

/** argv that runs `module` as a Node process of its own: through tsx only when it is TypeScript. */
export function nodeArgv(module: URL, args: string[] = []): string[] {
  const p = fileURLToPath(module);
  return [process.execPath, ...(p.endsWith('.ts') ? ['--import', 'tsx'] : []), p, ...args];
}
