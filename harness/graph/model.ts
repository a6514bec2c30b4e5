// The picture of a topology as data: segments, router, nodes (with VTEP and pods), overlay tunnels, faults.
// Pure: built from the resolved topology; live state (graph/live.ts) and failing checks (graph/locate.ts) mark it.
import type { ResolvedTopology, ResolvedVtep, VtepKind } from '../topology/resolved.ts';
import type { Fault } from '../topology/schema.ts';
import { describeFault } from '../faults/apply.ts';

export interface GraphSegment {
  name: string;
  cidr: string;
  mtu: number;
  /** routed underlays: the router's address and link MTU on this segment */
  routerIp?: string;
  routerMtu?: number;
  /** the router link is narrower than the segment */
  narrow: boolean;
  diffs: string[];
}

export interface GraphPod {
  name: string;
  /** every address of the pod's eth0, every family */
  ips: string[];
  mtu: number;
  diffs: string[];
  failed?: string[];
}

/** The VTEP as drawn: live values replace these where they differ. */
export type GraphVtep = Pick<ResolvedVtep, 'kind' | 'dev' | 'mac' | 'ip' | 'vni' | 'port' | 'mtu'>;

export interface GraphNode {
  name: string;
  segment: string;
  ip: string;
  prefixLen: number;
  underlayMtu: number;
  podSubnet: string;
  /** every pod family's subnet (dual-stack: IPv4 then IPv6) */
  podSubnets: string[];
  /** the VTEP's tunnel addresses with prefix length, one per pod family (10.244.1.0/32, fd00:10:244:1::/128) */
  vtepIps: string[];
  /** docker/kind: the node's container */
  container?: string;
  vtep: GraphVtep;
  pods: GraphPod[];
  /** faults from the file that act on this node (not on one tunnel) */
  faults: string[];
  /** live state that differs from the topology */
  diffs: string[];
  /** failing checks that name this node (HTML report) */
  failed?: string[];
}

/** One overlay tunnel between two nodes that share a VNI; state is per direction (a→b lives on a, b→a on b). */
export interface GraphTunnel {
  a: string;
  b: string;
  vni: number;
  kinds: [VtepKind, VtepKind];
  mixed: boolean;
  /** both ends listen on different UDP ports: each sends to its own port, so the peer never receives */
  portMismatch?: string;
  faults: string[];
  diffs: string[];
  failed?: string[];
}

export interface TopologyGraph {
  name: string;
  layout: string;
  runtime: string;
  runId?: string;
  /** drawn from the live system (vxlab graph --run-id) */
  live: boolean;
  routed: boolean;
  router?: { diffs: string[] };
  segments: GraphSegment[];
  nodes: GraphNode[];
  tunnels: GraphTunnel[];
  /** VNIs in order of first appearance; each is drawn in its own colour */
  vnis: number[];
  /** faults that act on the whole run (none yet) and anything the picture cannot place */
  notes: string[];
}

export const tunnelKey = (a: string, b: string): string => (a < b ? `${a}~${b}` : `${b}~${a}`);

export function buildGraph(t: ResolvedTopology): TopologyGraph {
  const nodes: GraphNode[] = t.nodes.map((n) => ({
    name: n.name,
    segment: n.segment,
    ip: n.ip,
    prefixLen: n.prefixLen,
    underlayMtu: n.underlayMtu,
    podSubnet: n.podSubnet,
    podSubnets: n.podSubnets?.length ? [...n.podSubnets] : [n.podSubnet],
    vtepIps: (n.vteps?.length ? n.vteps : [n.vtep]).map((v) => `${v.ip}/${v.prefixLen}`),
    container: n.container,
    vtep: { kind: n.vtep.kind, dev: n.vtep.dev, mac: n.vtep.mac, ip: n.vtep.ip, vni: n.vtep.vni, port: n.vtep.port, mtu: n.vtep.mtu },
    pods: n.pods.map((p) => ({ name: p.name, ips: p.addrs?.length ? p.addrs.map((a) => a.ip) : [p.ip], mtu: p.mtu, diffs: [] })),
    faults: [],
    diffs: [],
  }));
  const tunnels: GraphTunnel[] = [];
  for (let i = 0; i < nodes.length; i++)
    for (let j = i + 1; j < nodes.length; j++) {
      const a = nodes[i]!;
      const b = nodes[j]!;
      if (a.vtep.vni !== b.vtep.vni) continue; // different VNIs are separate overlays: no tunnel
      tunnels.push({
        a: a.name,
        b: b.name,
        vni: a.vtep.vni,
        kinds: [a.vtep.kind, b.vtep.kind],
        mixed: a.vtep.kind !== b.vtep.kind,
        portMismatch: a.vtep.port !== b.vtep.port ? `${a.name} on UDP ${a.vtep.port}, ${b.name} on UDP ${b.vtep.port}` : undefined,
        faults: [],
        diffs: [],
      });
    }
  const vnis = [...new Set(nodes.map((n) => n.vtep.vni))];
  const g: TopologyGraph = {
    name: t.name,
    layout: t.layout,
    runtime: t.runtime,
    runId: t.runId,
    live: false,
    routed: t.routed,
    router: t.routed ? { diffs: [] } : undefined,
    segments: t.segments.map((s) => ({ name: s.name, cidr: s.cidr, mtu: s.mtu, routerIp: s.routerIp, routerMtu: s.routerMtu, narrow: s.routerMtu !== undefined && s.routerMtu < s.mtu, diffs: [] })),
    nodes,
    tunnels,
    vnis,
    notes: [],
  };
  if (vnis.length > 1) g.notes.push(`${vnis.length} VNIs (${vnis.join(', ')}): nodes on different VNIs have no tunnel between them and are isolated`);
  for (const f of t.faults) placeFault(g, f);
  return g;
}

/** A fault is drawn where it acts: on a tunnel (a deleted route, FDB or neighbour entry for one peer) or on a node. */
function placeFault(g: TopologyGraph, f: Fault): void {
  const text = describeFault(f);
  if ((f.kind === 'delete-route' || f.kind === 'delete-fdb' || f.kind === 'delete-neigh') && f.peer) {
    const tu = g.tunnels.find((x) => tunnelKey(x.a, x.b) === tunnelKey(f.node, f.peer));
    if (tu) {
      tu.faults.push(text);
      return;
    }
  }
  const n = g.nodes.find((x) => x.name === f.node);
  if (n) n.faults.push(text);
  else g.notes.push(`fault: ${text}`);
}

export function findTunnel(g: TopologyGraph, a: string, b: string): GraphTunnel | undefined {
  const k = tunnelKey(a, b);
  return g.tunnels.find((x) => tunnelKey(x.a, x.b) === k);
}
