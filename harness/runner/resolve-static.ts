// The synchronous part of validation (normalize, expectations, step checks), in a module without yaml or zod: runner/
// validate.ts re-exports it, and `vxlab validate`'s quick path (harness/cli/fast-validate.ts) calls it directly.
import type { Loaded } from '../topology/load.ts';
import { normalize } from '../topology/normalize.ts';
import type { ResolvedTopology } from '../topology/resolved.ts';
import { locateSemantic } from '../topology/errors.ts';
import { validateExpect } from './expect.ts';
import { CHECK_IDS, SUITE_NAMES } from '../../suites/ids.ts';
import { validateStepChecks } from '../steps/validate.ts';

/** Load, normalize and check every expectation; synchronous part (no file system beyond the topology files). */
export function resolveStatic(loaded: Loaded, runId: string): ResolvedTopology {
  let t: ResolvedTopology;
  try {
    t = normalize(loaded.topology, { runId, file: loaded.file });
  } catch (e) {
    throw locateSemantic(loaded, e);
  }
  validateExpect(loaded, t.expect, [...CHECK_IDS], [...SUITE_NAMES]);
  validateStepChecks(loaded, t, [...CHECK_IDS], [...SUITE_NAMES]);
  return t;
}
