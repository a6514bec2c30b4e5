// normalize: Topology → ResolvedTopology. Pure: decides every name, address, MAC and MTU.
import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { SemanticError, type Path } from './errors.ts';
import { bits, familyOfIp, hostAny, hostPrefix, intToIp, nthSubnetAny, offsetIn, overlapsAny, parseAnyCidr, sizeN, type Cidr, type Family } from './ip.ts';
import { routesDirect, type DiscoveredNode, type PodAddr, type ResolvedNode, type ResolvedPod, type ResolvedSegment, type ResolvedSetupStep, type ResolvedTopology, type ResolvedVtep } from './resolved.ts';
import { STATIC_ARP_AUTO_NODES, STATIC_POD_NEIGH_AUTO_ENTRIES, SYSCTL_KEY_RE } from './constants.ts';
import type { SetupStep, Step, TopoNode, Topology } from './schema.ts';
import type { ResolvedStep } from '../steps/types.ts';
import { checkIfName } from './names.ts';
import { getRuntimeResolve } from '../runtime/resolve.ts';
import { resolveControl, resolveSteps } from '../steps/resolve.ts';

export { checkIfName, IFNAMSIZ } from './names.ts';

export const VXLAN_OVERHEAD_V4 = 50;
/** outer IPv6 header (40) + UDP (8) + VXLAN (8) + inner Ethernet (14) */
export const VXLAN_OVERHEAD_V6 = 70;

/** VXLAN overhead over an underlay of this family: 50 (IPv4) or 70 (IPv6). */
export function vxlanOverhead(f: Family): number {
  return f === 6 ? VXLAN_OVERHEAD_V6 : VXLAN_OVERHEAD_V4;
}

/** Calico's pod gateway per family: a link-local the pod reaches by proxy ARP (IPv4) or on the cali veth (IPv6). */
export const CALICO_GATEWAY = { 4: '169.254.1.1', 6: 'fe80::ecee:eeff:feee:eeee' } as const;
/** Calico gives every host-side cali veth this MAC; its IPv6 link-local is CALICO_GATEWAY[6]. */
export const CALICO_VETH_MAC = 'ee:ee:ee:ee:ee:ee';
/** default nodeCidrSize per family */
export const DEFAULT_NODE_CIDR_SIZE = { 4: 24, 6: 64 } as const;

/** The VTEP device a layout names for an inner family. */
export function vtepDevName(layout: 'flannel' | 'calico', family: Family, vni: number): string {
  if (layout === 'calico') return family === 6 ? 'vxlan-v6.calico' : 'vxlan.calico';
  return family === 6 ? `flannel-v6.${vni}` : `flannel.${vni}`;
}
export const RUN_ID_RE = /^[a-z0-9]{1,8}$/;

/** Deterministic, locally administered, unicast: 02:xx:xx:xx:xx:xx from topology + node name. */
export function defaultVtepMac(topology: string, node: string): string {
  return macFrom(`vxlab/${topology}/${node}`, '02');
}

/**
 * calico: the VTEP MAC felix derives from the node name (its vtepMACForHost): the byte 'f' (0x66: locally
 * administered, unicast), then the first five bytes of SHA-1 of the node name.
 */
export function felixVtepMac(node: string): string {
  const h = createHash('sha1').update(node).digest();
  return ['66', ...[...h.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** The node's underlay eth0 MAC: 06:… so it never collides with a VTEP MAC. */
export function underlayMac(topology: string, node: string): string {
  return macFrom(`vxlab/${topology}/${node}/eth0`, '06');
}

function macFrom(seed: string, first: string): string {
  const h = createHash('sha256').update(seed).digest();
  return [first, ...[...h.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** The router's MAC on a segment (12:…), set when the segment's underlay neighbours are permanent. */
export function routerMac(topology: string, segment: string): string {
  return macFrom(`vxlab/${topology}/router/${segment}`, '12');
}

/** A pod's eth0 MAC (0a:…) and a node's cni0 MAC (0e:…), set when the pods' neighbours are permanent. */
export function podMac(topology: string, node: string, pod: string): string {
  return macFrom(`vxlab/${topology}/${node}/${pod}/eth0`, '0a');
}
export function bridgeMac(topology: string, node: string): string {
  return macFrom(`vxlab/${topology}/${node}/cni0`, '0e');
}

/**
 * The dynamic neighbour entries of one family the pods make when every pod talks to every other (the connectivity
 * matrix): each pod resolves its gateway and its node resolves it; on a flannel bridge the pods of one node also
 * resolve each other. The kernel counts them together across namespaces against gc_thresh3.
 */
export function podDynamicNeighbours(nodes: { bridge?: unknown; pods: unknown[] }[]): number {
  let sum = 0;
  for (const n of nodes) sum += n.pods.length * 2 + (n.bridge ? n.pods.length * (n.pods.length - 1) : 0);
  return sum;
}

/** overlay.staticPodNeighbours: deterministic MACs on pod eth0 and cni0, and the neighbour entries that use them. */
function staticPodNeighbours(topology: string, nodes: ResolvedNode[]): void {
  for (const n of nodes) {
    if (n.bridge) n.bridge.mac = bridgeMac(topology, n.name);
    for (const p of n.pods) p.mac = podMac(topology, n.name, p.name);
    n.podNeighbours = n.pods.flatMap((p) => p.addrs.map((a) => [a.ip, p.mac!, n.bridge ? n.bridge.name : p.hostIf] as [string, string, string]));
    for (const p of n.pods) {
      // the gateway: cni0 (flannel) or the cali veth's fixed MAC (calico: 169.254.1.1 / fe80::ecee:eeff:feee:eeee)
      const gw = n.bridge ? n.bridge.mac! : CALICO_VETH_MAC;
      p.neighbours = [
        ...p.addrs.map((a) => [a.gateway, gw] as [string, string]),
        ...(n.bridge ? n.pods.filter((o) => o !== p).flatMap((o) => o.addrs.map((a) => [a.ip, o.mac!] as [string, string])) : []),
      ];
    }
  }
}

/** Why a MAC cannot be a VTEP's (or any interface's) address, or undefined if it can. */
export function macProblem(mac: string): string | undefined {
  const m = mac.toLowerCase();
  if (m === '00:00:00:00:00:00') return 'is all zeros; expected a unicast MAC such as 02:00:00:00:00:01';
  if (m === 'ff:ff:ff:ff:ff:ff') return 'is the broadcast address; expected a unicast MAC';
  if (parseInt(m.slice(0, 2), 16) & 1) return 'is a multicast address (the low bit of the first byte is set); expected a unicast MAC';
  return undefined;
}

/** Longest namespace name `ip netns` accepts (NAME_MAX − 1). */
export const NETNS_NAME_MAX = 254;

export function nsPrefix(runId: string): string {
  return `vx-${runId}`;
}

function cidrAt(s: string, path: Path): Cidr {
  try {
    return parseAnyCidr(s);
  } catch (e: any) {
    throw new SemanticError(path, `expected a valid ${String(s).includes(':') ? 'IPv6' : 'IPv4'} CIDR: ${e.message}`);
  }
}

const fam = (f: Family) => `IPv${f}`;

/** One pod family: its cluster CIDR and per-node subnet size, with where they were written. */
interface PodFamily {
  family: Family;
  cidr: Cidr;
  size: number;
  path: Path;
}

/** podCidr (a string or a list of one or two, at most one per family) and nodeCidrSize (a number or a matching list). */
function podFamilies(ov: NonNullable<Topology['overlay']>): PodFamily[] {
  const list = ov.podCidr === undefined ? ['10.244.0.0/16'] : typeof ov.podCidr === 'string' ? [ov.podCidr] : ov.podCidr;
  const single = typeof ov.podCidr !== 'object';
  const out: PodFamily[] = [];
  list.forEach((text, i) => {
    const path: Path = single ? ['overlay', 'podCidr'] : ['overlay', 'podCidr', i];
    const c = cidrAt(text, path);
    const twin = out.find((o) => o.family === c.family);
    if (twin) throw new SemanticError(path, `podCidr lists two ${fam(c.family)} CIDRs (${twin.cidr.text} and ${c.text}); expected at most one per family (dual-stack: one IPv4 and one IPv6)`);
    out.push({ family: c.family, cidr: c, size: DEFAULT_NODE_CIDR_SIZE[c.family], path });
  });
  const ns = ov.nodeCidrSize;
  if (ns !== undefined) {
    const sizes = typeof ns === 'number' ? [ns] : ns;
    if (sizes.length !== out.length) {
      throw new SemanticError(['overlay', 'nodeCidrSize'], `expected ${out.length === 1 ? 'one prefix length' : `a list of ${out.length} prefix lengths`} matching podCidr (${out.map((o) => o.cidr.text).join(', ')}), got ${typeof ns === 'number' ? ns : `a list of ${ns.length}`}`);
    }
    sizes.forEach((sz, i) => {
      const pf = out[i]!;
      const path: Path = typeof ns === 'number' ? ['overlay', 'nodeCidrSize'] : ['overlay', 'nodeCidrSize', i];
      if (pf.family === 4 && sz > 30) throw new SemanticError(path, `nodeCidrSize /${sz} is too small for the IPv4 podCidr ${pf.cidr.text}; expected an IPv4 prefix length ≤ 30`);
      if (sz < pf.cidr.prefix) throw new SemanticError(path, `nodeCidrSize /${sz} is larger than podCidr ${pf.cidr.text}`);
      pf.size = sz;
    });
  } else {
    for (const pf of out) {
      if (pf.size < pf.cidr.prefix) throw new SemanticError(['overlay', 'nodeCidrSize'], `nodeCidrSize /${pf.size} (the ${fam(pf.family)} default) is larger than podCidr ${pf.cidr.text}; set nodeCidrSize`);
    }
  }
  return out.sort((a, b) => a.family - b.family);
}

export interface NormalizeOptions {
  runId: string;
  file?: string;
  /** facts a runtime learned at up (kind: node IPs, MACs, pod CIDRs), recorded in the state file; they win over defaults */
  discovered?: Record<string, DiscoveredNode>;
}

const sources = new WeakMap<ResolvedTopology, { t: Topology; opts: NormalizeOptions }>();

/**
 * Fold what a runtime learned at up (kind: node IPs, MACs, pod CIDRs) into a resolved topology, in place, as if the
 * file had said it: everything derived from those facts (pod IPs, VTEP addresses, neighbours) follows.
 */
export function refreshTopology(t: ResolvedTopology, discovered: Record<string, DiscoveredNode>): void {
  const src = sources.get(t);
  if (!src) throw new Error(`refreshTopology: ${t.name} was not produced by normalize()`);
  const fresh = normalize(src.t, { ...src.opts, discovered });
  Object.assign(t, fresh);
  sources.set(t, sources.get(fresh)!);
}

/**
 * Resolve one more step against a live topology as earlier steps left it (the library's lab.step): the nodes as they
 * are now become the node list (each pinned to its decided address, subnet and MAC), then the step is resolved as a
 * file's steps: are. Errors are SemanticErrors at ['steps', 0, …].
 */
export function resolveLiveStep(t: ResolvedTopology, step: Step): ResolvedStep {
  const src = sources.get(t);
  if (!src) throw new Error(`resolveLiveStep: ${t.name} was not produced by normalize()`);
  const added = liveSpecs.get(t) ?? new Map<string, TopoNode>();
  const live: Topology = { ...src.t, nodes: liveNodeSpecs(t), steps: [step] };
  const cur: ResolvedTopology = { ...t, nodes: t.nodes.map((n) => ({ ...n, vtep: { ...n.vtep } })) };
  const r = resolveSteps(live, cur, (x) => normalizeInner(x, src.opts))[0]!;
  // a node a live step adds keeps its own spec (per-node overlay settings, sysctls) for the steps after it
  if (r.action === 'add-node' && typeof step.node === 'object') {
    added.set(step.node.name, step.node);
    liveSpecs.set(t, added);
  }
  return r;
}

/** Node specs added by live steps (lab.step add-node), by name: the file's nodes: do not list them. */
const liveSpecs = new WeakMap<ResolvedTopology, Map<string, TopoNode>>();

/**
 * The node list a live step resolves against: each node as it is now, by its spec — the one of the add-node step
 * (lab.step's, else the file's steps:) that added it last, else the file's nodes: entry, else its name, segment, pods.
 */
export function liveNodeSpecs(t: ResolvedTopology): TopoNode[] {
  const src = sources.get(t);
  if (!src) throw new Error(`liveNodeSpecs: ${t.name} was not produced by normalize()`);
  const added = new Map<string, TopoNode>();
  // the file's own steps: the last add-node of a name wins, then any lab.step add-node
  for (const s of src.t.steps ?? []) if (s.action === 'add-node' && s.node && typeof s.node === 'object') added.set(s.node.name, s.node);
  for (const [k, v] of liveSpecs.get(t) ?? []) added.set(k, v);
  return t.nodes.map((n) => added.get(n.name) ?? src.t.nodes.find((x) => x.name === n.name) ?? { name: n.name, segment: n.segment, pods: n.pods.map((p) => p.name) });
}

export function normalize(t: Topology, opts: NormalizeOptions): ResolvedTopology {
  const r = normalizeInner(t, opts);
  sources.set(r, { t, opts });
  return r;
}

function normalizeInner(t: Topology, opts: NormalizeOptions): ResolvedTopology {
  if (!RUN_ID_RE.test(opts.runId)) throw new SemanticError([], `run id '${opts.runId}' must match ${RUN_ID_RE}`);
  const runtime = t.runtime ?? 'netns';
  const rt = getRuntimeResolve(runtime);
  rt.validate(t); // what the runtime cannot do, at its key
  if (opts.discovered) {
    const d = opts.discovered;
    t = { ...t, nodes: t.nodes.map((n) => ({ ...n, ip: d[n.name]?.ip ?? n.ip, podSubnet: d[n.name]?.podSubnet ?? n.podSubnet })) };
  }
  const prefix = nsPrefix(opts.runId);
  const base = `${prefix}-${t.name}`;
  const ov = t.overlay ?? {};
  const layout = ov.layout ?? 'flannel';
  const builder = ov.builder ?? 'vxlab';
  checkBuilder(t, builder);
  checkRoutingMode(t, layout);
  const defaultVni = ov.vni ?? (layout === 'calico' ? 4096 : 1);
  const defaultPort = ov.port ?? 4789;
  const underMtu = t.underlay?.mtu ?? 1500;
  const pfs = podFamilies(ov);
  const families = pfs.map((p) => p.family);

  // ---- underlay segments
  const segIn = t.underlay?.segments ?? [{ name: 'rack1', cidr: '192.168.1.0/24' }];
  const routed = segIn.length > 1;
  segIn.forEach((s, i) => {
    if (!routed && s.routerMtu !== undefined) throw new SemanticError(['underlay', 'segments', i, 'routerMtu'], 'routerMtu needs a routed underlay (two or more segments)');
  });
  const segNames = new Set<string>();
  const segCidrs: Cidr[] = [];
  const segments: ResolvedSegment[] = segIn.map((s, i) => {
    const p: Path = ['underlay', 'segments', i];
    if (segNames.has(s.name)) throw new SemanticError([...p, 'name'], `duplicate segment name '${s.name}'`);
    segNames.add(s.name);
    const c = cidrAt(s.cidr, [...p, 'cidr']);
    if (c.prefix > bits(c.family) - 3) throw new SemanticError([...p, 'cidr'], `segment ${c.text} is too small; expected /${bits(c.family) - 3} or larger`);
    const first = segCidrs[0];
    if (first && first.family !== c.family) {
      throw new SemanticError([...p, 'cidr'], `segment ${s.name} (${c.text}) is ${fam(c.family)} but segment ${segIn[0]!.name} (${first.text}) is ${fam(first.family)}; all segments of a topology share one family (a routed underlay of mixed families is not supported)`);
    }
    segCidrs.forEach((o, j) => {
      if (overlapsAny(o, c)) throw new SemanticError([...p, 'cidr'], `segment ${c.text} overlaps segment ${segIn[j]!.name} (${o.text})`);
    });
    segCidrs.push(c);
    const seg: ResolvedSegment = {
      name: s.name,
      family: c.family,
      cidr: c.text,
      prefixLen: c.prefix,
      mtu: s.mtu ?? underMtu,
      bridge: 'br0',
    };
    if (routed) {
      seg.routerIp = hostAny(c, 1);
      seg.routerMtu = s.routerMtu ?? seg.mtu;
      seg.routerIf = checkIfName(`s-${s.name}`, [...p, 'name']);
      seg.segRouterIf = 'router';
    }
    return seg;
  });
  const underFamily = segCidrs[0]!.family;
  rt.validateFamilies?.(t, underFamily, families);
  for (const pf of pfs) {
    const j = segCidrs.findIndex((c) => overlapsAny(c, pf.cidr));
    if (j >= 0) throw new SemanticError(pf.path, `podCidr ${pf.cidr.text} overlaps underlay segment ${segments[j]!.name} (${segments[j]!.cidr})`);
  }

  // ---- nodes
  const nodeNames = new Set<string>();
  const usedIps = new Map<string, Set<bigint>>(); // segment -> used host offsets
  // an address the runtime keeps for itself (docker: the bridge's gateway) is never handed to a node
  segments.forEach((s, j) => {
    const r = rt.reservedHost?.(sizeN(segCidrs[j]!));
    if (r) usedIps.set(s.name, new Set([r.offset]));
  });
  const podSubnets: { node: string; c: Cidr; explicit: boolean }[] = [];
  // first pass: explicit IPs are reserved before defaults are handed out
  t.nodes.forEach((n, i) => {
    const segName = n.segment ?? segments[0]!.name;
    const sIdx = segments.findIndex((s) => s.name === segName);
    if (sIdx < 0) throw new SemanticError(['nodes', i, 'segment'], `unknown segment '${segName}'; expected one of: ${segments.map((s) => s.name).join(', ')}`);
    if (n.ip) {
      const c = segCidrs[sIdx]!;
      const f = familyOfIp(n.ip);
      if (!f) throw new SemanticError(['nodes', i, 'ip'], `expected an ${fam(c.family)} address, got '${n.ip}' (segment ${segName} is ${c.text})`);
      if (f !== c.family) throw new SemanticError(['nodes', i, 'ip'], `node IP ${n.ip} is ${fam(f)} but segment ${segName} (${c.text}) is ${fam(c.family)}; expected an ${fam(c.family)} address`);
      const off = offsetIn(c, n.ip);
      if (off === undefined || off === 0n || off === sizeN(c) - 1n) {
        throw new SemanticError(['nodes', i, 'ip'], `node IP ${n.ip} is outside segment ${segName} (${c.text}) or not a host address`);
      }
      if (routed && off === 1n) throw new SemanticError(['nodes', i, 'ip'], `node IP ${n.ip} is the router's address on ${segName}`);
      const res = rt.reservedHost?.(sizeN(c));
      if (res && off === res.offset) throw new SemanticError(['nodes', i, 'ip'], `node IP ${n.ip} of segment ${segName} ${res.why}`);
      const used = usedIps.get(segName) ?? new Set<bigint>();
      if (used.has(off)) throw new SemanticError(['nodes', i, 'ip'], `node IP ${n.ip} is used twice`);
      used.add(off);
      usedIps.set(segName, used);
    }
  });

  const nextFree = new Map<string, bigint>();
  const nodes: ResolvedNode[] = t.nodes.map((n, i) => {
    const p: Path = ['nodes', i];
    if (nodeNames.has(n.name)) throw new SemanticError([...p, 'name'], `duplicate node name '${n.name}'`);
    nodeNames.add(n.name);
    const segName = n.segment ?? segments[0]!.name;
    const seg = segments.find((s) => s.name === segName)!;
    const sc = segCidrs[segments.indexOf(seg)]!;
    let ip = n.ip;
    if (!ip) {
      const used = usedIps.get(segName) ?? new Set<bigint>();
      // the lowest free offset: every offset below the segment's cursor is taken (a scan from 2 per node was O(N²))
      let off = nextFree.get(segName) ?? 2n;
      while (used.has(off)) off++;
      nextFree.set(segName, off + 1n);
      if (off >= sizeN(sc) - 1n) throw new SemanticError([...p], `segment ${segName} (${sc.text}) has no free address for node ${n.name}`);
      used.add(off);
      usedIps.set(segName, used);
      ip = hostAny(sc, off);
    }
    // pod subnets: one per pod family, explicit (a string, or a list with one per family) or the k-th of podCidr
    const explicit = new Map<Family, { c: Cidr; path: Path }>();
    if (n.podSubnet !== undefined) {
      const list = typeof n.podSubnet === 'string' ? [n.podSubnet] : n.podSubnet;
      list.forEach((text, j) => {
        const path: Path = typeof n.podSubnet === 'string' ? [...p, 'podSubnet'] : [...p, 'podSubnet', j];
        const c = cidrAt(text, path);
        const pf = pfs.find((x) => x.family === c.family);
        if (!pf) throw new SemanticError(path, `pod subnet ${c.text} is ${fam(c.family)} but podCidr has no ${fam(c.family)} CIDR (podCidr: ${pfs.map((x) => x.cidr.text).join(', ')})`);
        if (explicit.has(c.family)) throw new SemanticError(path, `two ${fam(c.family)} pod subnets for node ${n.name}; expected one per family`);
        if (!overlapsAny(c, pf.cidr) || c.prefix < pf.cidr.prefix) {
          throw new SemanticError(path, `pod subnet ${c.text} is not inside podCidr ${pf.cidr.text}`);
        }
        explicit.set(c.family, { c, path });
      });
    }
    const subnets: Cidr[] = pfs.map((pf) => {
      const ex = explicit.get(pf.family);
      const path = ex?.path ?? [...p, 'podSubnet'];
      let ps: Cidr;
      if (ex) ps = ex.c;
      else {
        const k = BigInt(i + 1);
        const maxSubnets = 1n << BigInt(pf.size - pf.cidr.prefix);
        if (k >= maxSubnets) {
          throw new SemanticError([...p], `more nodes than podCidr ${pf.cidr.text} holds: /${pf.size} subnets 1..${maxSubnets - 1n} are available, node ${n.name} would need subnet ${k}`);
        }
        ps = nthSubnetAny(pf.cidr, pf.size, k);
      }
      const maxPrefix = bits(ps.family) - 2;
      if (ps.prefix > maxPrefix) throw new SemanticError(path, `pod subnet ${ps.text} is too small; expected /${maxPrefix} or larger`);
      // the k-th subnets of one podCidr never overlap each other: an automatic subnet is checked against explicit
      // ones only, an explicit one against all (all pairs was O(N²) at 1,000 nodes)
      (ex ? podSubnets : podSubnets.filter((o) => o.explicit)).forEach((o) => {
        if (overlapsAny(o.c, ps)) throw new SemanticError(path, `pod subnet ${ps.text} overlaps node ${o.node}'s ${o.c.text}`);
      });
      segCidrs.forEach((c, j) => {
        if (overlapsAny(c, ps)) throw new SemanticError(path, `pod subnet ${ps.text} overlaps underlay segment ${segments[j]!.name} (${c.text})`);
      });
      podSubnets.push({ node: n.name, c: ps, explicit: !!ex });
      return ps;
    });
    const ps = subnets[0]!;

    const no = n.overlay ?? {};
    const vni = no.vni ?? defaultVni;
    const port = no.port ?? defaultPort;
    const underlayMtu = seg.mtu;
    const mtuSetting = no.mtu ?? ov.mtu ?? 'auto';
    const vtepMtu = mtuSetting === 'auto' ? underlayMtu - vxlanOverhead(sc.family) : mtuSetting;
    const podMtuSetting = no.podMtu ?? ov.podMtu ?? 'auto';
    const podMtu = podMtuSetting === 'auto' ? vtepMtu : podMtuSetting;
    const mac = (no.vtepMac ?? n.vtepMac ?? (layout === 'calico' ? felixVtepMac(n.name) : defaultVtepMac(t.name, n.name))).toLowerCase();
    const macWhy = macProblem(mac);
    if (macWhy) throw new SemanticError(no.vtepMac ? [...p, 'overlay', 'vtepMac'] : [...p, 'vtepMac'], `VTEP MAC ${mac} ${macWhy}`);
    const kind = n.vtep ?? ov.vtep ?? 'kernel';
    const learning = no.learning ?? ov.learning ?? false;
    const df = no.df ?? ov.df ?? 'unset';
    // One VTEP identity per pod family. The kernel allows one VXLAN device per VNI, UDP port and underlay family
    // (flannel's dual-stack backend binds flannel.<vni> to the node's IPv4 and flannel-v6.<vni> to its IPv6 address);
    // vxlab's underlay has one family, so dual-stack pods share one device, named for the underlay's family.
    const shared = subnets.length > 1 ? vtepDevName(layout, sc.family, vni) : undefined;
    const vteps: ResolvedVtep[] = subnets.map((sub) => {
      const dev = checkIfName(shared ?? vtepDevName(layout, sub.family, vni), [...p, 'overlay', 'vni']);
      const vmac = mac;
      // the tunnel address is the subnet's (block's) first address as a host route, as flannel and felix assign it
      return { kind, family: sub.family, dev, mac: vmac, ip: hostAny(sub, 0), prefixLen: hostPrefix(sub.family), vni, port, mtu: vtepMtu, learning, df };
    });
    const podsIn = n.pods ?? 1;
    const podNames = typeof podsIn === 'number' ? Array.from({ length: podsIn }, (_, j) => `pod${j + 1}`) : podsIn;
    const seen = new Set<string>();
    const firstPodHost = layout === 'calico' ? 1 : 2;
    for (const sub of subnets) {
      if (BigInt(podNames.length + firstPodHost) >= sizeN(sub) - 1n) {
        throw new SemanticError([...p, 'pods'], `${podNames.length} pods do not fit in pod subnet ${sub.text}`);
      }
    }
    const pods: ResolvedPod[] = podNames.map((pn, j) => {
      const pp: Path = typeof podsIn === 'number' ? [...p, 'pods'] : [...p, 'pods', j];
      if (seen.has(pn)) throw new SemanticError(pp, `duplicate pod name '${pn}' on node ${n.name}`);
      seen.add(pn);
      const hostIf = checkIfName(layout === 'calico' ? `cali-${n.name.slice(0, 4)}${pn}`.slice(0, 15) : `v-${pn}`, pp);
      const addrs: PodAddr[] = subnets.map((sub) => ({
        family: sub.family,
        ip: hostAny(sub, firstPodHost + j),
        prefixLen: layout === 'calico' ? hostPrefix(sub.family) : sub.prefix,
        gateway: layout === 'calico' ? CALICO_GATEWAY[sub.family] : hostAny(sub, 1),
      }));
      return {
        name: pn,
        node: n.name,
        ns: `${base}-${n.name}-${pn}`,
        ifname: 'eth0',
        ip: addrs[0]!.ip,
        prefixLen: addrs[0]!.prefixLen,
        mtu: podMtu,
        gateway: addrs[0]!.gateway,
        addrs,
        hostIf,
      };
    });
    const segIf = checkIfName(`n-${n.name}`, [...p, 'name']);
    for (const ns of [`${base}-${n.name}`, ...pods.map((x) => x.ns)]) {
      if (Buffer.byteLength(ns) > NETNS_NAME_MAX) {
        throw new SemanticError([...p, 'name'], `namespace name '${ns.slice(0, 40)}…' would be ${Buffer.byteLength(ns)} bytes; ip netns allows at most ${NETNS_NAME_MAX} (shorten the topology, node or pod names)`);
      }
    }
    return {
      name: n.name,
      index: i,
      ns: `${base}-${n.name}`,
      segment: seg.name,
      ip,
      prefixLen: sc.prefix,
      family: sc.family,
      underlayIf: 'eth0',
      underlayMac: opts.discovered?.[n.name]?.underlayMac ?? underlayMac(t.name, n.name),
      segIf,
      underlayMtu,
      gateway: routed ? seg.routerIp : undefined,
      podSubnet: ps.text,
      podPrefixLen: ps.prefix,
      podSubnets: subnets.map((x) => x.text),
      vtep: vteps[0]!,
      vteps,
      bridge: layout === 'flannel' ? { name: 'cni0', ip: hostAny(ps, 1), addrs: subnets.map((x) => ({ family: x.family, ip: hostAny(x, 1), prefixLen: x.prefix })) } : undefined,
      pods,
      setup: builder === 'external' ? [...(ov.setup ?? []), ...(n.setup ?? [])].map(resolveStep) : [],
      ...((no.directRouting ?? ov.directRouting ?? ov.vxlanMode === 'CrossSubnet') ? { directRouting: true } : {}),
    } satisfies ResolvedNode;
  });

  // sysctls: hostProfile, then the topology's, then the node's (inside the node namespace only)
  const checkKeys = (m: Record<string, unknown> | undefined, at: Path) => {
    for (const k of Object.keys(m ?? {})) if (!SYSCTL_KEY_RE.test(k)) throw new SemanticError([...at, k], `'${k}' is not a network sysctl; expected a key like net.ipv4.conf.all.rp_filter (vxlab writes sysctls inside its namespaces only, and a namespace has only net.*)`);
  };
  checkKeys(t.sysctls, ['sysctls']);
  t.nodes.forEach((n, i) => {
    checkKeys(n.sysctls, ['nodes', i, 'sysctls']);
    const sys = { ...hostProfileSysctls(t.hostProfile), ...str(t.sysctls), ...str(n.sysctls) };
    if (Object.keys(sys).length) nodes[i]!.sysctls = sys;
  });

  // large L2 segments: permanent underlay neighbours (the shared neighbour table would overflow otherwise)
  const staticArp = t.underlay?.staticArp ?? 'auto';
  for (const seg of segments) {
    const members = nodes.filter((n) => n.segment === seg.name);
    if (staticArp === true || (staticArp === 'auto' && members.length > STATIC_ARP_AUTO_NODES)) {
      for (const n of members) n.underlayNeighbours = members.filter((o) => o !== n).map((o) => [o.ip, o.underlayMac]);
      // routed (netns runtime: vxlab makes the router): every node resolves the router and the router every node, two
      // dynamic entries per node otherwise; the router's port gets a deterministic MAC and both sides permanent entries
      if (runtime === 'netns' && seg.routerIp) {
        seg.routerMac = routerMac(t.name, seg.name);
        for (const n of members) n.underlayNeighbours!.push([seg.routerIp, seg.routerMac]);
        seg.routerNeighbours = members.map((o) => [o.ip, o.underlayMac]);
      }
    }
  }

  // large IPv4 segments: no IPv6 on the underlay links (its link-local multicasts are flooded to every port, N² on one host)
  const v6 = t.underlay?.ipv6LinkLocal ?? 'auto';
  for (const seg of segments) {
    if (seg.family === 6) {
      if (v6 === false) throw new SemanticError(['underlay', 'ipv6LinkLocal'], `segment ${seg.name} is IPv6 (${seg.cidr}): its links need IPv6; expected auto or true`);
      continue;
    }
    if (runtime !== 'netns') continue;
    const large = nodes.some((n) => n.segment === seg.name && n.underlayNeighbours);
    if (v6 === false || (v6 === 'auto' && large)) seg.ipv6Off = true;
  }

  // many pods: permanent pod neighbours (the shared neighbour table would overflow with their dynamic entries)
  const spn = t.overlay?.staticPodNeighbours ?? 'auto';
  if (spn === true && t.overlay?.cni) throw new SemanticError(['overlay', 'staticPodNeighbours'], 'overlay.cni attaches the pods, so vxlab writes no neighbour entries for them; expected auto or false with overlay.cni');
  if (!t.overlay?.cni && (spn === true || (spn === 'auto' && podDynamicNeighbours(nodes) > STATIC_POD_NEIGH_AUTO_ENTRIES))) staticPodNeighbours(t.name, nodes);

  const macs = new Map<string, string>();
  nodes.forEach((n, i) => {
    for (const v of vtepDevices(n)) {
      const other = macs.get(v.mac);
      const label = n.name;
      if (other) throw new SemanticError(['nodes', i], `VTEP MAC ${v.mac} of ${label} is also used by ${other}`);
      macs.set(v.mac, label);
    }
  });

  // faults refer to what the plan creates: known nodes and peers, links that exist in that node's namespace
  const faults = t.faults ?? [];
  const deleted = new Map<string, number>(); // kind/node/peer → index of the fault that deleted it
  const downVtep = new Map<string, number>(); // node → index of a link-down of its VTEP device
  const macChanged = new Map<string, number>(); // node → index of a vtep-mac-change of it
  faults.forEach((f, i) => {
    const node = nodes.find((n) => n.name === f.node);
    if (!node) throw new SemanticError(['faults', i, 'node'], `unknown node '${f.node}'; expected one of: ${nodes.map((n) => n.name).join(', ')}`);
    if ('peer' in f && !nodes.some((n) => n.name === f.peer && n.name !== f.node)) {
      throw new SemanticError(['faults', i, 'peer'], `unknown peer '${f.peer}'; expected another node: ${nodes.filter((n) => n !== node).map((n) => n.name).join(', ')}`);
    }
    if (f.kind === 'vtep' && node.vtep.kind !== 'userspace') {
      throw new SemanticError(['faults', i, 'kind'], `fault kind 'vtep' needs a userspace VTEP, but ${node.name} uses a kernel VTEP; kernel-VTEP faults: underlay-mtu, drop-udp-port, loss, vtep-mac-change, delete-route, delete-fdb, delete-neigh, link-down, tx-checksum`);
    }
    if (f.kind === 'link-down' || f.kind === 'tx-checksum') {
      const links = nodeLinks(node, !!ov.cni);
      if (!links.includes(f.link)) {
        throw new SemanticError(['faults', i, 'link'], `node ${node.name} has no link '${f.link}'; expected one of: ${links.join(', ')}`);
      }
      if (f.kind === 'link-down' && f.link === node.vtep.dev) downVtep.set(node.name, i);
    }
    if ((f.kind === 'delete-fdb' || f.kind === 'delete-neigh') && layout === 'flannel') {
      const peer = nodes.find((n) => n.name === f.peer);
      if (peer && routesDirect(node, peer)) throw new SemanticError(['faults', i, 'peer'], `${node.name} routes ${peer.name} directly (DirectRouting, same subnet ${node.segment}): flannel writes no ${f.kind === 'delete-fdb' ? 'FDB' : 'neighbour'} entry for it, so there is nothing to delete; delete-route removes its direct route`);
    }
    if (f.kind === 'vtep-mac-change') {
      const why = macProblem(f.mac);
      if (why) throw new SemanticError(['faults', i, 'mac'], `MAC ${f.mac} ${why}`);
      macChanged.set(f.node, i);
    }
    if ((f.kind === 'delete-route' || f.kind === 'delete-neigh') && f.family && !families.includes(f.family)) {
      throw new SemanticError(['faults', i, 'family'], `the pods have no IPv${f.family} subnets (pod families: ${families.map((x) => `IPv${x}`).join(', ')})`);
    }
    if (f.kind === 'delete-route' || f.kind === 'delete-fdb' || f.kind === 'delete-neigh') {
      // delete-route / delete-neigh act per pod family (default: every family); the FDB entry serves them all
      const fams = f.kind === 'delete-fdb' ? [''] : f.family ? [`/${f.family}`] : families.map((x) => `/${x}`);
      for (const fam of fams) {
        const before = deleted.get(`${f.kind}/${f.node}/${f.peer}${fam}`);
        if (before !== undefined) throw new SemanticError(['faults', i], `faults[${before}] already deleted this entry (${f.kind} on ${f.node} for ${f.peer}${fam ? `, IPv${fam.slice(1)}` : ''})`);
      }
      for (const fam of fams) deleted.set(`${f.kind}/${f.node}/${f.peer}${fam}`, i);
      const changed = macChanged.get(f.peer);
      if (f.kind === 'delete-fdb' && changed !== undefined) {
        throw new SemanticError(['faults', i], `faults[${changed}] changed ${f.peer}'s VTEP MAC, so ${f.node} has no FDB entry for its new MAC to delete; put delete-fdb before it`);
      }
      const down = downVtep.get(f.node);
      if (down !== undefined && f.kind !== 'delete-fdb') {
        throw new SemanticError(['faults', i], `faults[${down}] (link-down of ${node.vtep.dev}) already removed ${f.node}'s ${f.kind === 'delete-route' ? 'routes' : 'neighbours'} via ${node.vtep.dev}; put ${f.kind} before it`);
      }
    }
    if (f.kind === 'vtep') node.vtep.faults = { ...node.vtep.faults, ...stripFault(f) };
  });

  // external checks: their name is the id suffix, so two with one name would report under one id
  const checkNames = new Map<string, number>();
  (t.checks ?? []).forEach((c, i) => {
    const j = checkNames.get(c.name);
    if (j !== undefined) throw new SemanticError(['checks', i, 'name'], `duplicate check name '${c.name}' (also checks[${j}]); results appear as external/<name>/…, so names must be unique`);
    checkNames.set(c.name, i);
  });

  const fileDir = opts.file ? dirname(opts.file) : process.cwd();
  const cni = ov.cni
    ? {
        binDir: ov.cni.binDir ?? ['/usr/lib/cni', '/opt/cni/bin'],
        conflist: ov.cni.conflist ? resolve(fileDir, ov.cni.conflist) : undefined,
        config: ov.cni.config,
      }
    : undefined;
  if (ov.cni && !ov.cni.conflist && !ov.cni.config) throw new SemanticError(['overlay', 'cni'], 'expected conflist: FILE or config: {…}');
  if (ov.cni?.conflist && ov.cni.config) throw new SemanticError(['overlay', 'cni', 'config'], 'expected either conflist: FILE or config: {…}, not both');

  const resolved: ResolvedTopology = {
    name: t.name,
    file: opts.file,
    runId: opts.runId,
    prefix,
    runtime,
    layout,
    builder,
    routed,
    routerNs: routed ? `${base}-router` : undefined,
    family: underFamily,
    families,
    segments,
    overlay: { podCidr: pfs[0]!.cidr.text, nodeCidrSize: pfs[0]!.size, podCidrs: pfs.map((x) => x.cidr.text), nodeCidrSizes: pfs.map((x) => x.size), defaultVni, defaultPort, ...(ov.directRouting !== undefined ? { directRouting: ov.directRouting } : {}), ...(ov.vxlanMode ? { vxlanMode: ov.vxlanMode } : {}) },
    nodes,
    faults,
    expect: t.expect ?? {},
    checks: (t.checks ?? []).map((c) => ({ name: c.name, command: c.command, timeoutSec: c.timeoutSec ?? 60 })),
    cni,
  };
  rt.decorate(resolved, t); // segment namespaces or Docker networks, container names: the runtime's
  // steps: resolved against the nodes as they are at each step (an added node is normalized like any other)
  if (t.steps?.length) {
    resolved.steps = resolveSteps(t, resolved, (x) => normalizeInner(x, opts));
    resolved.control = resolveControl(t);
  }
  return resolved;
}

/** A node's distinct VTEP devices (dual-stack pods share one device: see normalize). */
export function vtepDevices(n: ResolvedNode): ResolvedVtep[] {
  return n.vteps.filter((v, i) => n.vteps.findIndex((x) => x.dev === v.dev) === i);
}

/** Links in a node's namespace that faults may name: loopback, underlay, VTEP, pod bridge and pod host sides. */
export function nodeLinks(n: ResolvedNode, cni: boolean): string[] {
  // with overlay.cni the plugin names the pods' host interfaces, so only the node-level links are known
  return ['lo', n.underlayIf, ...vtepDevices(n).map((v) => v.dev), ...(n.bridge ? [n.bridge.name] : []), ...(cni ? [] : n.pods.map((p) => p.hostIf))];
}

/** builder: external — the overlay is someone else's: vxlab runs their programs and reads what they built. */
function checkBuilder(t: Topology, builder: 'vxlab' | 'external'): void {
  const ov = t.overlay ?? {};
  if (builder !== 'external') {
    if (ov.setup) throw new SemanticError(['overlay', 'setup'], 'setup programs need overlay.builder: external (with builder: vxlab, vxlab programs the overlay itself)');
    t.nodes.forEach((n, i) => {
      if (n.setup) throw new SemanticError(['nodes', i, 'setup'], 'setup programs need overlay.builder: external (with builder: vxlab, vxlab programs the overlay itself)');
    });
    return;
  }
  if (!ov.setup?.length && !t.nodes.some((n) => n.setup?.length)) {
    throw new SemanticError(['overlay', 'builder'], 'builder: external expects at least one setup program (overlay.setup or nodes[].setup) to build the overlay');
  }
  if (ov.vtep === 'userspace') throw new SemanticError(['overlay', 'vtep'], "builder: external: the setup programs create the VTEP device; vtep: userspace (vxlab's own VTEP) cannot be combined with it");
  t.nodes.forEach((n, i) => {
    if (n.vtep === 'userspace') throw new SemanticError(['nodes', i, 'vtep'], "builder: external: the setup programs create the VTEP device; vtep: userspace cannot be combined with it");
    const mac = n.vtepMac ? 'vtepMac' : n.overlay?.vtepMac ? 'overlay' : undefined;
    if (mac) throw new SemanticError(['nodes', i, mac], 'builder: external: the VTEP MAC is chosen by the control plane and read from the live node after setup; remove vtepMac');
  });
}

/** Routing modes: flannel's DirectRouting and Calico's vxlanMode, each on its own layout, with kernel VTEPs and one family. */
function checkRoutingMode(t: Topology, layout: string): void {
  const ov = t.overlay ?? {};
  if (ov.directRouting !== undefined && layout !== 'flannel') throw new SemanticError(['overlay', 'directRouting'], `directRouting is flannel's (net-conf Backend.DirectRouting); layout ${layout} has no such setting — with layout: calico write vxlanMode: CrossSubnet`);
  if (ov.vxlanMode !== undefined && layout !== 'calico') throw new SemanticError(['overlay', 'vxlanMode'], `vxlanMode is a Calico IPPool setting; layout ${layout} has no such setting — with layout: flannel write directRouting: true`);
  t.nodes.forEach((n, i) => {
    if (n.overlay?.directRouting !== undefined && layout !== 'flannel') throw new SemanticError(['nodes', i, 'overlay', 'directRouting'], `directRouting is flannel's (each flanneld's net-conf); layout ${layout} sets its mode per IP pool: overlay.vxlanMode`);
  });
  const on = ov.vxlanMode === 'CrossSubnet' || ov.directRouting === true || t.nodes.some((n) => n.overlay?.directRouting === true);
  if (!on) return;
  const at: Path = ov.vxlanMode ? ['overlay', 'vxlanMode'] : ov.directRouting ? ['overlay', 'directRouting'] : ['nodes', t.nodes.findIndex((n) => n.overlay?.directRouting), 'overlay', 'directRouting'];
  const what = ov.vxlanMode ? 'vxlanMode: CrossSubnet' : 'directRouting';
  if (ov.vtep === 'userspace' || t.nodes.some((n) => n.vtep === 'userspace')) throw new SemanticError(at, `${what} needs kernel VTEPs (vtep: userspace keeps a static FDB of every peer)`);
  const pods = Array.isArray(ov.podCidr) ? ov.podCidr : [ov.podCidr ?? '10.244.0.0/16'];
  const under = t.underlay?.segments?.[0]?.cidr ?? '192.168.1.0/24';
  if (pods.length > 1 || pods[0]!.includes(':') !== under.includes(':')) throw new SemanticError(at, `${what}: a direct route is '<pod subnet> via <node IP>', so the pods need the underlay's family and one family (podCidr ${pods.join(', ')}, underlay ${under})`);
}

/** What a hostProfile writes: the distributions' reverse-path filter defaults. */
export function hostProfileSysctls(p: string | undefined): Record<string, string> {
  if (p === 'rp-filter-strict') return { 'net.ipv4.conf.all.rp_filter': '1', 'net.ipv4.conf.default.rp_filter': '1' };
  if (p === 'rp-filter-loose') return { 'net.ipv4.conf.all.rp_filter': '2', 'net.ipv4.conf.default.rp_filter': '2' };
  return {};
}

const str = (m: Record<string, string | number> | undefined) => Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, String(v)]));

function resolveStep(s: SetupStep): ResolvedSetupStep {
  return {
    command: s.command,
    daemon: s.daemon ?? false,
    timeoutSec: s.timeoutSec ?? 60,
    ...(s.ready ? { ready: { device: s.ready.device, command: s.ready.command, timeoutSec: s.ready.timeoutSec ?? 30 } } : {}),
  };
}

function stripFault(f: Record<string, unknown>): Record<string, unknown> {
  const { kind: _k, node: _n, ...rest } = f;
  return rest;
}

export { intToIp };
