// What `vxlab validate` says about a good file: one function for Lab.validate, the command and its quick path
// (fast-validate.ts), so the three cannot drift.
import type { ResolvedTopology } from '../topology/resolved.ts';
import type { LabValidation } from '../api/lab.ts';

export function validationOf(t: ResolvedTopology): LabValidation {
  return { name: t.name, nodes: t.nodes.length, pods: t.nodes.reduce((a, n) => a + n.pods.length, 0), segments: t.segments.length, layout: t.layout };
}

export function okLine(file: string, t: LabValidation): string {
  return `${file}: ok (${t.name}: ${t.nodes} nodes, ${t.pods} pods, ${t.segments} segment${t.segments > 1 ? 's, routed' : ''}, layout ${t.layout})`;
}
