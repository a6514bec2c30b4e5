// Everything `up`, `run`, `repro` and `test` would reject for a file's content, found before the host changes:
// schema, semantics, fault targets, expectations (ids and message patterns) and overlay.cni (conflist, plugins,
// bin dirs). Every problem is a TopologyError with file:line:col.
import { statSync } from 'node:fs';
import { loadTopology, type Loaded } from '../topology/load.ts';
import { readBoundedFile } from '../topology/read.ts';
import type { ResolvedTopology } from '../topology/resolved.ts';
import { TopologyError, type Path } from '../topology/errors.ts';
import { resolveStatic } from './resolve-static.ts';
export { resolveStatic };

/** The standard plugin locations: a host has one or the other, so either may be absent from a binDir search path. */
export const STANDARD_BIN_DIRS = ['/usr/lib/cni', '/opt/cni/bin'];

/** A conflist larger than this is refused (as topology files are, but smaller: a conflist is a few KiB). */
export const MAX_CONFLIST_BYTES = 1024 * 1024;

/** overlay.cni: bin dirs exist, the conflist is a bounded regular file with valid JSON, every plugin is in a bin dir. */
export async function validateCni(loaded: Loaded, t: ResolvedTopology): Promise<void> {
  if (!t.cni) return;
  const raw = loaded.topology.overlay?.cni;
  const at = (path: Path, message: string) => new TopologyError([{ loc: loaded.locate(path, true), key: path.join('.').replace(/\.(\d+)/g, '[$1]'), message }]);
  const dirs = raw?.binDir;
  if (dirs) {
    for (const [i, d] of dirs.entries()) {
      let what: string | undefined;
      try {
        if (!statSync(d).isDirectory()) what = 'is not a directory';
      } catch {
        if (!STANDARD_BIN_DIRS.includes(d)) what = 'does not exist';
      }
      if (what) throw at(['overlay', 'cni', 'binDir', i], `${d} ${what}; expected a directory of CNI plugin binaries`);
    }
  }
  const key: Path = t.cni.conflist ? ['overlay', 'cni', 'conflist'] : ['overlay', 'cni', 'config'];
  if (t.cni.conflist) {
    try {
      readBoundedFile(t.cni.conflist, MAX_CONFLIST_BYTES);
    } catch (e) {
      throw at(key, `cannot read conflist ${t.cni.conflist}: ${(e as Error).message}`);
    }
  }
  // loaded only for topologies with overlay.cni: the CNI runtime is not part of validate's start-up otherwise
  const { CniInputError, prepareCni } = await import('../overlay/cni-attach.ts');
  try {
    await prepareCni(t.cni, 'overlay.cni');
  } catch (e) {
    if (e instanceof CniInputError) throw at(key, e.message.replace(/^overlay\.cni: (overlay\.cni\.config: )?/, ''));
    throw e;
  }
}

/** The whole pre-flight validation of a topology file, as `vxlab validate` runs it. */
export async function resolveChecked(file: string, runId: string): Promise<ResolvedTopology> {
  const loaded = loadTopology(file);
  const t = resolveStatic(loaded, runId);
  await validateCni(loaded, t);
  return t;
}
