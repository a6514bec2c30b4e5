// Moved below the CLI (the library needs it too): harness/util/preflight.ts.
export { TOOLS, which, missingTools, preflight, requireRoot } from '../util/preflight.ts';
