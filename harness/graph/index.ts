// Topology pictures: the graph model, its DOT / Mermaid / SVG renderings, live state and failure locations.
import type { ResolvedTopology } from '../topology/resolved.ts';
import type { CheckResult } from '../report/types.ts';
import { buildGraph, type TopologyGraph } from './model.ts';
import { toDot, vniColor, type DotOptions } from './dot.ts';
import { toMermaid } from './mermaid.ts';
import { dotToSvg } from './svg.ts';
import { markLive, readLive } from './live.ts';
import { locateFailures, markFailures } from './locate.ts';
import { applyAttachments, readAttachments } from '../overlay/cni-attach.ts';

export const GRAPH_FORMATS = ['svg', 'dot', 'mermaid'] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

export interface GraphOptions extends DotOptions {
  format?: GraphFormat;
  /** draw the live state of this running topology (its state dir holds the userspace VTEPs' sockets) */
  live?: { workDir?: string };
  /** highlight what these results' failures name */
  results?: CheckResult[];
}

export async function topologyGraph(t: ResolvedTopology, o: Pick<GraphOptions, 'live' | 'results'> = {}): Promise<TopologyGraph> {
  if (o.live?.workDir && t.cni) {
    // pods attached by a CNI plugin have the addresses the plugin gave them, recorded at up
    const att = readAttachments(o.live.workDir);
    if (att) applyAttachments(t, att);
  }
  const g = buildGraph(t);
  if (o.live) markLive(g, t, await readLive(t, o.live.workDir));
  if (o.results) markFailures(g, locateFailures(t, g, o.results));
  return g;
}

export async function renderGraph(g: TopologyGraph, format: GraphFormat = 'svg', o: DotOptions = {}): Promise<string> {
  if (format === 'mermaid') return toMermaid(g);
  const dot = toDot(g, o);
  return format === 'dot' ? dot : dotToSvg(dot);
}

export { buildGraph, toDot, vniColor, toMermaid, dotToSvg, markLive, readLive, locateFailures, markFailures };
export type { TopologyGraph };
