// Where a failure is: the nodes, pods and tunnels a failing check names. Checks say it in their messages and diffs
// ("node1 -> node2: …", "node1: missing FDB entry … dst 192.168.1.3", "node1/pod1 (10.244.1.2) -> node2/pod2 …");
// each line has a subject (the node or pod it starts with) and, when it names a second node by name, underlay IP,
// VTEP MAC, VTEP address, pod subnet or pod IP, a peer. Subject and peer on one tunnel highlight that tunnel.
import type { CheckResult } from '../report/types.ts';
import type { ResolvedTopology } from '../topology/resolved.ts';
import { findTunnel, type TopologyGraph } from './model.ts';

const reEsc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** `token` as a whole word: not inside a longer name, address or MAC */
const word = (token: string) => new RegExp(`(?<![\\w.:/-])${reEsc(token)}(?![\\w-]|\\.\\d|:[0-9a-f])`, 'i');

interface Ident {
  node: string;
  pod?: string;
  re: RegExp;
}

function identities(t: ResolvedTopology): Ident[] {
  const ids: Ident[] = [];
  for (const n of t.nodes) {
    for (const p of n.pods) ids.push({ node: n.name, pod: p.name, re: word(`${n.name}/${p.name}`) }, { node: n.name, pod: p.name, re: word(p.ip) });
    for (const tok of [n.name, n.ip, n.vtep.mac, n.vtep.ip, n.podSubnet]) ids.push({ node: n.name, re: word(tok) });
  }
  for (const f of t.faults) if (f.kind === 'vtep-mac-change') ids.push({ node: f.node, re: word(f.mac) });
  return ids;
}

export interface Located {
  nodes: Map<string, Set<string>>;
  pods: Map<string, Set<string>>;
  tunnels: Map<string, Set<string>>;
}

const add = (m: Map<string, Set<string>>, k: string, id: string) => (m.get(k) ?? m.set(k, new Set()).get(k)!).add(id);

export function locateFailures(t: ResolvedTopology, g: TopologyGraph, results: CheckResult[]): Located {
  const ids = identities(t);
  const out: Located = { nodes: new Map(), pods: new Map(), tunnels: new Map() };
  const visit = (r: CheckResult) => {
    if (r.status === 'fail') {
      const lines = r.diffs?.length ? r.diffs : [r.message ?? ''];
      for (const line of lines) {
        // the subject is what the line starts with; everything after it may name a peer
        const subj = line.match(/^\s*([a-z0-9-]+)(?:\/([a-z0-9-]+))?/i);
        const subject = subj && t.nodes.find((n) => n.name === subj[1]) ? subj : null;
        const rest = subject ? line.slice(subject[0].length) : line;
        const named = ids.filter((i) => i.re.test(rest));
        if (subject) {
          add(out.nodes, subject[1]!, r.id);
          if (subject[2]) add(out.pods, `${subject[1]}/${subject[2]}`, r.id);
        }
        for (const i of named) {
          if (i.pod) add(out.pods, `${i.node}/${i.pod}`, r.id);
          if (subject && i.node !== subject[1]) {
            const tu = findTunnel(g, subject[1]!, i.node);
            if (tu) add(out.tunnels, `${tu.a}~${tu.b}`, r.id);
            add(out.nodes, i.node, r.id);
          } else if (!subject) add(out.nodes, i.node, r.id);
        }
      }
    }
    for (const s of r.subtests ?? []) visit(s);
  };
  for (const r of results) visit(r);
  return out;
}

/** Copy the located failures onto the graph (GraphNode.failed, GraphPod.failed, GraphTunnel.failed). */
export function markFailures(g: TopologyGraph, loc: Located): TopologyGraph {
  for (const n of g.nodes) {
    const f = loc.nodes.get(n.name);
    if (f) n.failed = [...f];
    for (const p of n.pods) {
      const pf = loc.pods.get(`${n.name}/${p.name}`);
      if (pf) p.failed = [...pf];
    }
  }
  for (const tu of g.tunnels) {
    const f = loc.tunnels.get(`${tu.a}~${tu.b}`);
    if (f) tu.failed = [...f];
  }
  return g;
}
