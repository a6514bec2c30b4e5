// The resolved topology: every address, MAC, name and MTU decided. Suites compare against this.
import type { ExpectResult, Fault, VtepFaults } from './schema.ts';
import type { Family } from './ip.ts';

export type { Family } from './ip.ts';

export type Layout = 'flannel' | 'calico';
export type VtepKind = 'kernel' | 'userspace';

export interface ResolvedSegment {
  name: string;
  /** IPv4 or IPv6: follows the CIDR; all segments of a topology share one family */
  family: Family;
  cidr: string;
  prefixLen: number;
  mtu: number;
  /** namespace holding this segment's bridge (netns runtime; docker/kind segments are Docker networks) */
  ns?: string;
  bridge: string;
  /** docker/kind: the Docker network of this segment (its bridge lives in the root namespace: Docker's doing) */
  network?: { name: string; bridge: string; gateway: string; internal: boolean };
  /** MTU of the router's link into this segment (routed underlays only) */
  routerMtu?: number;
  /** router address on this segment (routed underlays only) */
  routerIp?: string;
  /** veth names: router side / segment side */
  routerIf?: string;
  segRouterIf?: string;
  /** netns runtime, IPv4 segment, underlay.ipv6LinkLocal off: IPv6 is off on the segment's links (bridge, ports, nodes' eth0, router port) */
  ipv6Off?: true;
  /** netns runtime, routed, staticArp: the router's MAC on this segment and its permanent neighbours [ip, mac] for the segment's nodes */
  routerMac?: string;
  routerNeighbours?: [string, string][];
}

export interface ResolvedVtep {
  kind: VtepKind;
  /** the inner (pod) family of this identity: flannel.<vni>/vxlan.calico carry IPv4, flannel-v6.<vni>/vxlan-v6.calico IPv6; dual-stack shares the device named for the underlay's family */
  family: Family;
  /** device name: flannel.<vni>, flannel-v6.<vni>, vxlan.calico or vxlan-v6.calico */
  dev: string;
  mac: string;
  /** tunnel address (flannel: the pod subnet's first address, /32 or /128; calico: first address of the block) */
  ip: string;
  /** prefix length of the tunnel address: 32 (IPv4) or 128 (IPv6) */
  prefixLen: number;
  vni: number;
  port: number;
  mtu: number;
  learning: boolean;
  df: 'unset' | 'set' | 'inherit';
  faults?: VtepFaults;
  /** builder: external: what the live node announces (read after setup; mac/ip above are then the observed ones) */
  observed?: VtepIdentity;
}

/** A node's VTEP identity as read from the live node (builder: external). */
export interface VtepIdentity {
  device: string;
  present: boolean;
  mac?: string;
  /** the device's addresses of every family (not link-local), address/prefix */
  addresses: string[];
  vni?: number;
  port?: number;
  local?: string;
  learning?: boolean;
  mtu?: number;
  /** where the identity breaks the layout's rules (device missing, address not the layout's), one line each */
  problems: string[];
}

/** One program of an external control plane, as it will be run. */
export interface ResolvedSetupStep {
  command: string[];
  daemon: boolean;
  timeoutSec: number;
  ready?: { device?: string; command?: string[]; timeoutSec: number };
}

/** One address of a pod, in one family. */
export interface PodAddr {
  family: Family;
  ip: string;
  prefixLen: number;
  /** default route of this family (calico: 169.254.1.1 / fe80::ecee:eeff:feee:eeee, flannel: cni0's address) */
  gateway: string;
}

export interface ResolvedPod {
  name: string;
  node: string;
  ns: string;
  ifname: string;
  /** first family's address (IPv4 when the pods have one); every family's in addrs */
  ip: string;
  prefixLen: number;
  mtu: number;
  gateway: string;
  /** one per pod family, IPv4 first */
  addrs: PodAddr[];
  /** host-side veth in the node namespace */
  hostIf: string;
  /** the pod's eth0 MAC, set only when its neighbours are written permanently (overlay.staticPodNeighbours) */
  mac?: string;
  /** permanent neighbours in the pod [ip, mac]: its gateway, and (flannel) the other pods of its node */
  neighbours?: [string, string][];
}

export interface ResolvedNode {
  name: string;
  index: number;
  ns: string;
  segment: string;
  /** underlay IP, in the underlay's family */
  ip: string;
  prefixLen: number;
  /** the underlay's family (of the node's segment) */
  family: Family;
  underlayIf: string;
  /** MAC of the node's underlay eth0 (deterministic, like the VTEP MAC) */
  underlayMac: string;
  /** permanent underlay neighbours [ip, mac] (large L2 segments only; see underlay.staticArp) */
  underlayNeighbours?: [string, string][];
  /** the node's link on the segment bridge (in the segment namespace) */
  segIf: string;
  underlayMtu: number;
  /** default gateway on routed underlays */
  gateway?: string;
  /** first family's pod subnet (IPv4 when the pods have one); every family's in podSubnets */
  podSubnet: string;
  podPrefixLen: number;
  /** one pod subnet per pod family (t.families order: IPv4 first) */
  podSubnets: string[];
  /** the first family's VTEP (vteps[0]) */
  vtep: ResolvedVtep;
  /** one VTEP identity (address, device, MAC) per pod family; dual-stack pods share one device (vtepDevices()) */
  vteps: ResolvedVtep[];
  /** flannel: cni0 with the pod subnet's .1 / ::1 (ip: the first family's; addrs: every family's) */
  bridge?: { name: string; ip: string; addrs: { family: Family; ip: string; prefixLen: number }[]; mac?: string };
  pods: ResolvedPod[];
  /** permanent neighbours of the node for its pods [ip, mac, dev] (overlay.staticPodNeighbours) */
  podNeighbours?: [string, string, string][];
  /** docker/kind: the node's container name and image (undefined image = the runtime's default) */
  container?: string;
  image?: string;
  /** hostProfile, then topology sysctls, then the node's own: written inside the node namespace after up's */
  sysctls?: Record<string, string>;
  /** builder: external: overlay.setup then the node's own setup steps */
  setup: ResolvedSetupStep[];
  /** routing mode: this node routes peers on its own underlay segment without VXLAN (flannel DirectRouting, calico vxlanMode CrossSubnet) */
  directRouting?: boolean;
}

/** a name from the runtime registry (harness/runtime/registry.ts) */
export type RuntimeName = string;

/** Facts a runtime learns only once its nodes exist (kind: Docker assigns node IPs, the cluster pod CIDRs). */
export interface DiscoveredNode {
  ip?: string;
  underlayMac?: string;
  /** one per pod family (kind: spec.podCIDRs), or the one family's */
  podSubnet?: string | string[];
  containerId?: string;
  image?: string;
}

export interface ResolvedTopology {
  name: string;
  file?: string;
  runId: string;
  /** every host-visible name starts with this */
  prefix: string;
  runtime: RuntimeName;
  /** docker/kind: the router container (routed docker underlays) */
  routerContainer?: string;
  /** kind: the cluster name */
  kindCluster?: string;
  layout: Layout;
  /** who programs the overlay: vxlab's planner, or the setup programs (external) */
  builder: 'vxlab' | 'external';
  routed: boolean;
  routerNs?: string;
  /** the underlay's family (every segment's) */
  family: Family;
  /** the pods' families, IPv4 first: [4], [6] or [4, 6] (dual-stack) */
  families: Family[];
  segments: ResolvedSegment[];
  /** podCidr/nodeCidrSize: the first family's; podCidrs/nodeCidrSizes: one per family (families order) */
  overlay: { podCidr: string; nodeCidrSize: number; podCidrs: string[]; nodeCidrSizes: number[]; defaultVni: number; defaultPort: number; directRouting?: boolean; vxlanMode?: 'Always' | 'CrossSubnet' };
  nodes: ResolvedNode[];
  faults: Fault[];
  expect: Record<string, ExpectResult>;
  checks: { name: string; command: string[]; timeoutSec: number }[];
  cni?: { binDir: string[]; conflist?: string; config?: Record<string, unknown> };
  /** steps: applied after up and faults, in order (harness/steps/); control: how vxlab reconciles them */
  steps?: import('../steps/types.ts').ResolvedStep[];
  control?: import('../steps/types.ts').ResolvedControl;
  /** nodes a remove-node step took away (what a stale control plane leaves behind on peers is theirs) */
  departed?: { name: string; step: number; mac: string; ip: string; vtepIp: string; podSubnet: string }[];
}

/**
 * Does node `n` reach peer `r` without VXLAN? Only in a routing mode (flannel DirectRouting, which each flanneld decides
 * for itself: `ip route get <peer IP>` has no gateway; calico CrossSubnet: the peer is in the node's own subnet), and
 * only for a peer on the node's own underlay segment — vxlab's segments are its underlay subnets.
 */
export function routesDirect(n: ResolvedNode, r: ResolvedNode): boolean {
  return !!n.directRouting && n !== r && n.segment === r.segment;
}

export function allPods(t: ResolvedTopology): ResolvedPod[] {
  return t.nodes.flatMap((n) => n.pods);
}

export function namespaces(t: ResolvedTopology): string[] {
  return [
    ...t.segments.flatMap((s) => (s.ns ? [s.ns] : [])),
    ...(t.routerNs ? [t.routerNs] : []),
    ...t.nodes.map((n) => n.ns),
    ...allPods(t).map((p) => p.ns),
  ];
}
