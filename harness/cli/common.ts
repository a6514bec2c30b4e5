// Shared CLI plumbing: loading a topology for a command, run ids, exit codes, error rendering.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadTopology, locateSemantic } from '../topology/load.ts';
import { normalize, RUN_ID_RE } from '../topology/normalize.ts';
import type { ResolvedTopology } from '../topology/resolved.ts';
import { PKG_ROOT } from '../util/module.ts';
import { UsageError } from '../util/errors.ts';

export { UsageError, PreflightError } from '../util/errors.ts';
export { EXIT, renderError } from './exit.ts';

export const DEFAULT_TOPOLOGY = join(PKG_ROOT, 'topologies/flannel-3node.yaml');

export { defaultRunId, randomRunId } from '../util/run-id.ts';
import { defaultRunId, randomRunId } from '../util/run-id.ts';

export function pickRunId(file: string, given?: string, ephemeral = false): string {
  const id = given ?? process.env.VXLAB_RUN_ID ?? (ephemeral ? randomRunId() : defaultRunId(file));
  if (!RUN_ID_RE.test(id)) throw new UsageError(`--run-id '${id}': expected 1–8 characters of [a-z0-9]`);
  return id;
}

export function resolveTopology(file: string, runId: string): ResolvedTopology {
  if (!existsSync(file)) throw new UsageError(`topology file not found: ${file}`);
  const loaded = loadTopology(file);
  try {
    return normalize(loaded.topology, { runId, file: loaded.file });
  } catch (e) {
    throw locateSemantic(loaded, e);
  }
}

export { requireRoot } from '../util/preflight.ts';

/** An AbortSignal fired by SIGINT/SIGTERM, for rolling back a half-built topology (see harness/util/signals.ts). */
export { processInterrupt as interruptSignal } from '../util/signals.ts';

export { survivePipeClose } from './exit.ts';
