// Finding a live run and a namespace inside it from CLI arguments.
import { resolve } from 'node:path';
import { pickRunId, resolveTopology, UsageError } from './common.ts';
import { readState, type RunState } from '../runtime/state.ts';
import type { ResolvedTopology } from '../topology/resolved.ts';
import { refreshTopology } from '../topology/normalize.ts';

export class NotUpError extends Error {
  readonly code = 'VXLAB_NOT_UP';
}

export function liveRun(file: string, runId?: string): { t: ResolvedTopology; state: RunState } {
  const id = pickRunId(resolve(file), runId);
  const state = readState(id);
  if (!state) throw new NotUpError(`run ${id} of ${file} is not up; start it with 'vxlab up ${file}'`);
  const t = resolveTopology(file, id);
  // what the runtime learned at up (kind: node IPs, pod CIDRs) wins over the file's defaults
  if (state.discovered) refreshTopology(t, state.discovered);
  return { t, state };
}

/** NODE → the node's namespace; NODE/POD → the pod's. */
export function targetNs(t: ResolvedTopology, target: string): string {
  const [node, pod, extra] = target.split('/');
  const n = t.nodes.find((x) => x.name === node);
  if (!n || extra !== undefined) throw new UsageError(`unknown target '${target}'; expected NODE or NODE/POD, e.g. ${t.nodes[0]!.name}/${t.nodes[0]!.pods[0]?.name ?? 'pod1'} (nodes: ${t.nodes.map((x) => x.name).join(', ')})`);
  if (pod === undefined) return n.ns;
  const p = n.pods.find((x) => x.name === pod);
  if (!p) throw new UsageError(`unknown pod '${pod}' on ${node}; expected one of: ${n.pods.map((x) => x.name).join(', ')}`);
  return p.ns;
}
