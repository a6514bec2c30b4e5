// What `vxlab status --json` shows, and Lab's typed views of nodes and pods. Expected values come from the resolved
// topology; `present`/`alive` are read from the live system when the status is taken.
import type { ResolvedPod, ResolvedTopology, ResolvedVtep, VtepIdentity } from '../topology/resolved.ts';
import { vtepDevices } from '../topology/normalize.ts';
import type { RunState } from '../runtime/state.ts';
import { nsExists } from '../runtime/netns/runtime.ts';
import { isAlive } from '../runtime/state.ts';
import { healthProblems } from '../runner/health.ts';

/** A pod of a running lab. */
export interface LabPod {
  name: string;
  node: string;
  /** the pod's network namespace */
  ns: string;
  /** its address (the first of ips) */
  ip: string;
  /** every address of the pod, one per address family (IPv4 first; dual-stack: [IPv4, IPv6]) */
  ips: string[];
  prefixLen: number;
  mtu: number;
  /** the pod's interface (eth0) */
  ifname: string;
}

export interface LabVtep {
  kind: 'kernel' | 'userspace';
  /** the pod family it carries */
  family: 4 | 6;
  device: string;
  mac: string;
  address: string;
  vni: number;
  port: number;
  mtu: number;
}

/** A node of a running lab. */
export interface LabNode {
  name: string;
  ns: string;
  /** underlay address */
  ip: string;
  podSubnet: string;
  /** one pod subnet per pod family (IPv4 first) */
  podSubnets: string[];
  /** the first pod family's VTEP */
  vtep: LabVtep;
  /** one VTEP identity per pod family (a dual-stack node's share one device) */
  vteps: LabVtep[];
  /** runtime docker/kind: the node's container name */
  container?: string;
  pods: LabPod[];
}

/** `vxlab status --json`. */
export interface LabStatus {
  runId: string;
  topology: string;
  file?: string;
  status: RunState['status'];
  createdAt: string;
  layout: 'flannel' | 'calico';
  /** who programs the overlay: vxlab, or the setup programs (external) */
  builder: 'vxlab' | 'external';
  /** where nodes live: netns, docker, kind */
  runtime: ResolvedTopology['runtime'];
  /** the underlay's family (4 or 6) and the pods' families ([4], [6] or [4, 6]) */
  family: 4 | 6;
  families: (4 | 6)[];
  /** the cluster pod CIDRs, one per pod family */
  podCidrs: string[];
  /** runtime netns: a segment is a namespace with a bridge; docker/kind: a Docker network */
  segments: { name: string; cidr: string; mtu: number; namespace?: string; present?: boolean; network?: string; interfaces: string[] }[];
  router?: { namespace: string; present: boolean; addresses: string[] };
  nodes: {
    name: string;
    namespace: string;
    present: boolean;
    /** runtime docker/kind: the node's container (id and image as the runtime reported them at up) */
    container?: { name: string; id?: string; image?: string };
    addresses: string[];
    podSubnet: string;
    podSubnets: string[];
    vteps: LabVtep[];
    /** process: the userspace VTEP's process and whether it still runs (kernel VTEPs have none) */
    /** observed (builder: external): what the live node announces, read when the status is taken */
    vtep: LabNode['vtep'] & { process?: { pid: number; running: boolean }; observed?: VtepIdentity };
    interfaces: string[];
    pods: { name: string; namespace: string; present: boolean; addresses: string[]; mtu: number; interfaces: string[] }[];
  }[];
  processes: { pid: number; startTime: string; ns?: string; what: string; alive: boolean }[];
  /** what is no longer as up left it: vanished namespaces, VTEP processes that exited (one message each) */
  problems: string[];
}

function labVtep(v: ResolvedVtep): LabVtep {
  return { kind: v.kind, family: v.family, device: v.dev, mac: v.mac, address: v.ip, vni: v.vni, port: v.port, mtu: v.mtu };
}

/** every address of a pod, one per family (the first is p.ip, which CNI attach may have replaced) */
export function podIps(p: ResolvedPod): string[] {
  return [p.ip, ...p.addrs.slice(1).map((a) => a.ip)];
}

export function labNodes(t: ResolvedTopology): LabNode[] {
  return t.nodes.map((n) => ({
    name: n.name,
    ns: n.ns,
    ip: n.ip,
    podSubnet: n.podSubnet,
    podSubnets: n.podSubnets,
    vtep: labVtep(n.vtep),
    vteps: n.vteps.map(labVtep),
    ...(n.container ? { container: n.container } : {}),
    pods: n.pods.map((p) => ({ name: p.name, node: n.name, ns: p.ns, ip: p.ip, ips: podIps(p), prefixLen: p.prefixLen, mtu: p.mtu, ifname: p.ifname })),
  }));
}

export function statusOf(t: ResolvedTopology, state: RunState): LabStatus {
  const vtepProc = (ns: string) => {
    const p = state.processes.find((x) => x.ns === ns && /VTEP/i.test(x.what));
    return p ? { pid: p.pid, running: isAlive(p.pid, p.startTime) } : undefined;
  };
  return {
    runId: t.runId,
    topology: t.name,
    file: t.file,
    status: state.status,
    createdAt: state.createdAt,
    layout: t.layout,
    builder: t.builder,
    runtime: t.runtime,
    family: t.family,
    families: t.families,
    podCidrs: t.overlay.podCidrs,
    segments: t.segments.map((s) => ({ name: s.name, cidr: s.cidr, mtu: s.mtu, ...(s.ns ? { namespace: s.ns, present: nsExists(s.ns) } : {}), ...(s.network ? { network: s.network.name } : {}), interfaces: [s.bridge] })),
    router: t.routerNs ? { namespace: t.routerNs, present: nsExists(t.routerNs), addresses: t.segments.map((s) => `${s.routerIp}/${s.prefixLen}`) } : undefined,
    nodes: t.nodes.map((n) => ({
      name: n.name,
      namespace: n.ns,
      present: nsExists(n.ns),
      ...(n.container ? { container: { name: n.container, id: state.discovered?.[n.name]?.containerId, image: state.discovered?.[n.name]?.image ?? n.image } } : {}),
      addresses: [`${n.ip}/${n.prefixLen}`, ...n.vteps.map((v) => `${v.ip}/${v.prefixLen}`), ...(n.bridge ? (n.bridge.addrs.length ? n.bridge.addrs.map((a) => `${a.ip}/${a.prefixLen}`) : [`${n.bridge.ip}/${n.podPrefixLen}`]) : [])],
      podSubnet: n.podSubnet,
      podSubnets: n.podSubnets,
      vtep: { ...labVtep(n.vtep), process: vtepProc(n.ns), ...(n.vtep.observed ? { observed: n.vtep.observed } : {}) },
      vteps: n.vteps.map(labVtep),
      interfaces: [n.underlayIf, ...vtepDevices(n).map((v) => v.dev), ...(n.bridge ? [n.bridge.name] : []), ...n.pods.map((p) => p.hostIf)],
      pods: n.pods.map((p) => ({ name: p.name, namespace: p.ns, present: nsExists(p.ns), addresses: [`${p.ip}/${p.prefixLen}`, ...p.addrs.slice(1).map((a) => `${a.ip}/${a.prefixLen}`)], mtu: p.mtu, interfaces: [p.ifname] })),
    })),
    processes: state.processes.map((p) => ({ ...p, alive: isAlive(p.pid, p.startTime) })),
    problems: state.status === 'up' ? healthProblems(t, state, 'since up').map((p) => p.message) : [],
  };
}
