// normalize: Topology → ResolvedTopology. Pure: decides every name, address, MAC and MTU.
import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { SemanticError, type Path } from './errors.ts';
import { contains, host, intToIp, ipToInt, isIPv4, nthSubnet, overlaps, parseCidr, size, type Cidr4 } from './ip.ts';
import type { DiscoveredNode, ResolvedNode, ResolvedPod, ResolvedSegment, ResolvedSetupStep, ResolvedTopology } from './resolved.ts';
import { STATIC_ARP_AUTO_NODES, SYSCTL_KEY_RE, type SetupStep, type Topology } from './schema.ts';
import { checkIfName } from './names.ts';
import { getRuntime } from '../runtime/registry.ts';
import { resolveControl, resolveSteps } from '../steps/resolve.ts';

export { checkIfName, IFNAMSIZ } from './names.ts';

export const VXLAN_OVERHEAD_V4 = 50;
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

function cidrAt(s: string, path: Path): Cidr4 {
  try {
    return parseCidr(s);
  } catch (e: any) {
    throw new SemanticError(path, `expected a valid IPv4 CIDR: ${e.message}`);
  }
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

export function normalize(t: Topology, opts: NormalizeOptions): ResolvedTopology {
  const r = normalizeInner(t, opts);
  sources.set(r, { t, opts });
  return r;
}

function normalizeInner(t: Topology, opts: NormalizeOptions): ResolvedTopology {
  if (!RUN_ID_RE.test(opts.runId)) throw new SemanticError([], `run id '${opts.runId}' must match ${RUN_ID_RE}`);
  const runtime = t.runtime ?? 'netns';
  const rt = getRuntime(runtime);
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
  const defaultVni = ov.vni ?? (layout === 'calico' ? 4096 : 1);
  const defaultPort = ov.port ?? 4789;
  const underMtu = t.underlay?.mtu ?? 1500;
  const podCidr = cidrAt(ov.podCidr ?? '10.244.0.0/16', ['overlay', 'podCidr']);
  const nodeCidrSize = ov.nodeCidrSize ?? 24;
  if (nodeCidrSize < podCidr.prefix) {
    throw new SemanticError(['overlay', 'nodeCidrSize'], `nodeCidrSize /${nodeCidrSize} is larger than podCidr ${podCidr.text}`);
  }

  // ---- underlay segments
  const segIn = t.underlay?.segments ?? [{ name: 'rack1', cidr: '192.168.1.0/24' }];
  const routed = segIn.length > 1;
  segIn.forEach((s, i) => {
    if (!routed && s.routerMtu !== undefined) throw new SemanticError(['underlay', 'segments', i, 'routerMtu'], 'routerMtu needs a routed underlay (two or more segments)');
  });
  const segNames = new Set<string>();
  const segCidrs: Cidr4[] = [];
  const segments: ResolvedSegment[] = segIn.map((s, i) => {
    const p: Path = ['underlay', 'segments', i];
    if (segNames.has(s.name)) throw new SemanticError([...p, 'name'], `duplicate segment name '${s.name}'`);
    segNames.add(s.name);
    const c = cidrAt(s.cidr, [...p, 'cidr']);
    if (c.prefix > 29) throw new SemanticError([...p, 'cidr'], `segment ${c.text} is too small; expected /29 or larger`);
    segCidrs.forEach((o, j) => {
      if (overlaps(o, c)) throw new SemanticError([...p, 'cidr'], `segment ${c.text} overlaps segment ${segIn[j]!.name} (${o.text})`);
    });
    segCidrs.push(c);
    const seg: ResolvedSegment = {
      name: s.name,
      cidr: c.text,
      prefixLen: c.prefix,
      mtu: s.mtu ?? underMtu,
      bridge: 'br0',
    };
    if (routed) {
      seg.routerIp = host(c, 1);
      seg.routerMtu = s.routerMtu ?? seg.mtu;
      seg.routerIf = checkIfName(`s-${s.name}`, [...p, 'name']);
      seg.segRouterIf = 'router';
    }
    return seg;
  });
  if (overlaps(podCidr, podCidr) && segCidrs.some((c) => overlaps(c, podCidr))) {
    const j = segCidrs.findIndex((c) => overlaps(c, podCidr));
    throw new SemanticError(['overlay', 'podCidr'], `podCidr ${podCidr.text} overlaps underlay segment ${segments[j]!.name} (${segments[j]!.cidr})`);
  }

  // ---- nodes
  const nodeNames = new Set<string>();
  const usedIps = new Map<string, Set<number>>(); // segment -> used host offsets
  // an address the runtime keeps for itself (docker: the bridge's gateway) is never handed to a node
  segments.forEach((s, j) => {
    const r = rt.reservedHost?.(size(segCidrs[j]!));
    if (r) usedIps.set(s.name, new Set([r.offset]));
  });
  const podSubnets: Cidr4[] = [];
  const maxSubnets = 2 ** (nodeCidrSize - podCidr.prefix);
  // first pass: explicit IPs are reserved before defaults are handed out
  t.nodes.forEach((n, i) => {
    const segName = n.segment ?? segments[0]!.name;
    const sIdx = segments.findIndex((s) => s.name === segName);
    if (sIdx < 0) throw new SemanticError(['nodes', i, 'segment'], `unknown segment '${segName}'; expected one of: ${segments.map((s) => s.name).join(', ')}`);
    if (n.ip) {
      if (!isIPv4(n.ip)) throw new SemanticError(['nodes', i, 'ip'], `expected an IPv4 address, got '${n.ip}'`);
      const c = segCidrs[sIdx]!;
      const ip = ipToInt(n.ip);
      const off = ip - c.net;
      if (!contains(c, ip) || off === 0 || off === size(c) - 1) {
        throw new SemanticError(['nodes', i, 'ip'], `node IP ${n.ip} is outside segment ${segName} (${c.text}) or not a host address`);
      }
      if (routed && off === 1) throw new SemanticError(['nodes', i, 'ip'], `node IP ${n.ip} is the router's address on ${segName}`);
      const res = rt.reservedHost?.(size(c));
      if (res && off === res.offset) throw new SemanticError(['nodes', i, 'ip'], `node IP ${n.ip} of segment ${segName} ${res.why}`);
      const used = usedIps.get(segName) ?? new Set<number>();
      if (used.has(off)) throw new SemanticError(['nodes', i, 'ip'], `node IP ${n.ip} is used twice`);
      used.add(off);
      usedIps.set(segName, used);
    }
  });

  const nodes: ResolvedNode[] = t.nodes.map((n, i) => {
    const p: Path = ['nodes', i];
    if (nodeNames.has(n.name)) throw new SemanticError([...p, 'name'], `duplicate node name '${n.name}'`);
    nodeNames.add(n.name);
    const segName = n.segment ?? segments[0]!.name;
    const seg = segments.find((s) => s.name === segName)!;
    const sc = segCidrs[segments.indexOf(seg)]!;
    let ip = n.ip;
    if (!ip) {
      const used = usedIps.get(segName) ?? new Set<number>();
      let off = 2;
      while (used.has(off)) off++;
      if (off >= size(sc) - 1) throw new SemanticError([...p], `segment ${segName} (${sc.text}) has no free address for node ${n.name}`);
      used.add(off);
      usedIps.set(segName, used);
      ip = host(sc, off);
    }
    // pod subnet
    let ps: Cidr4;
    if (n.podSubnet) {
      ps = cidrAt(n.podSubnet, [...p, 'podSubnet']);
      if (!overlaps(ps, podCidr) || ps.prefix < podCidr.prefix) {
        throw new SemanticError([...p, 'podSubnet'], `pod subnet ${ps.text} is not inside podCidr ${podCidr.text}`);
      }
    } else {
      const k = i + 1;
      if (k >= maxSubnets) {
        throw new SemanticError([...p], `more nodes than podCidr ${podCidr.text} holds: /${nodeCidrSize} subnets 1..${maxSubnets - 1} are available, node ${n.name} would need subnet ${k}`);
      }
      ps = nthSubnet(podCidr, nodeCidrSize, k);
    }
    if (ps.prefix > 30) throw new SemanticError([...p, 'podSubnet'], `pod subnet ${ps.text} is too small; expected /30 or larger`);
    podSubnets.forEach((o, j) => {
      if (overlaps(o, ps)) throw new SemanticError([...p, 'podSubnet'], `pod subnet ${ps.text} overlaps node ${t.nodes[j]!.name}'s ${o.text}`);
    });
    segCidrs.forEach((c, j) => {
      if (overlaps(c, ps)) throw new SemanticError([...p, 'podSubnet'], `pod subnet ${ps.text} overlaps underlay segment ${segments[j]!.name} (${c.text})`);
    });
    podSubnets.push(ps);

    const no = n.overlay ?? {};
    const vni = no.vni ?? defaultVni;
    const port = no.port ?? defaultPort;
    const underlayMtu = seg.mtu;
    const mtuSetting = no.mtu ?? ov.mtu ?? 'auto';
    const vtepMtu = mtuSetting === 'auto' ? underlayMtu - VXLAN_OVERHEAD_V4 : mtuSetting;
    const podMtuSetting = no.podMtu ?? ov.podMtu ?? 'auto';
    const podMtu = podMtuSetting === 'auto' ? vtepMtu : podMtuSetting;
    const mac = (no.vtepMac ?? n.vtepMac ?? (layout === 'calico' ? felixVtepMac(n.name) : defaultVtepMac(t.name, n.name))).toLowerCase();
    const macWhy = macProblem(mac);
    if (macWhy) throw new SemanticError(no.vtepMac ? [...p, 'overlay', 'vtepMac'] : [...p, 'vtepMac'], `VTEP MAC ${mac} ${macWhy}`);
    const dev = layout === 'calico' ? 'vxlan.calico' : `flannel.${vni}`;
    checkIfName(dev, [...p, 'overlay', 'vni']);
    const tunnelIp = layout === 'calico' ? host(ps, 0) : host(ps, 0);
    const podsIn = n.pods ?? 1;
    const podNames = typeof podsIn === 'number' ? Array.from({ length: podsIn }, (_, j) => `pod${j + 1}`) : podsIn;
    const seen = new Set<string>();
    const firstPodHost = layout === 'calico' ? 1 : 2;
    if (podNames.length + firstPodHost >= size(ps) - 1) {
      throw new SemanticError([...p, 'pods'], `${podNames.length} pods do not fit in pod subnet ${ps.text}`);
    }
    const pods: ResolvedPod[] = podNames.map((pn, j) => {
      const pp: Path = typeof podsIn === 'number' ? [...p, 'pods'] : [...p, 'pods', j];
      if (seen.has(pn)) throw new SemanticError(pp, `duplicate pod name '${pn}' on node ${n.name}`);
      seen.add(pn);
      const hostIf = checkIfName(layout === 'calico' ? `cali-${n.name.slice(0, 4)}${pn}`.slice(0, 15) : `v-${pn}`, pp);
      return {
        name: pn,
        node: n.name,
        ns: `${base}-${n.name}-${pn}`,
        ifname: 'eth0',
        ip: host(ps, firstPodHost + j),
        prefixLen: layout === 'calico' ? 32 : ps.prefix,
        mtu: podMtu,
        gateway: layout === 'calico' ? '169.254.1.1' : host(ps, 1),
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
      underlayIf: 'eth0',
      underlayMac: opts.discovered?.[n.name]?.underlayMac ?? underlayMac(t.name, n.name),
      segIf,
      underlayMtu,
      gateway: routed ? seg.routerIp : undefined,
      podSubnet: ps.text,
      podPrefixLen: ps.prefix,
      vtep: {
        kind: n.vtep ?? ov.vtep ?? 'kernel',
        dev,
        mac,
        ip: tunnelIp,
        vni,
        port,
        mtu: vtepMtu,
        learning: no.learning ?? ov.learning ?? false,
        df: no.df ?? ov.df ?? 'unset',
      },
      bridge: layout === 'flannel' ? { name: 'cni0', ip: host(ps, 1) } : undefined,
      pods,
      setup: builder === 'external' ? [...(ov.setup ?? []), ...(n.setup ?? [])].map(resolveStep) : [],
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
    }
  }

  const macs = new Map<string, string>();
  nodes.forEach((n, i) => {
    const other = macs.get(n.vtep.mac);
    if (other) throw new SemanticError(['nodes', i], `VTEP MAC ${n.vtep.mac} of ${n.name} is also used by ${other}`);
    macs.set(n.vtep.mac, n.name);
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
    if (f.kind === 'vtep-mac-change') {
      const why = macProblem(f.mac);
      if (why) throw new SemanticError(['faults', i, 'mac'], `MAC ${f.mac} ${why}`);
      macChanged.set(f.node, i);
    }
    if (f.kind === 'delete-route' || f.kind === 'delete-fdb' || f.kind === 'delete-neigh') {
      const key = `${f.kind}/${f.node}/${f.peer}`;
      const before = deleted.get(key);
      if (before !== undefined) throw new SemanticError(['faults', i], `faults[${before}] already deleted this entry (${f.kind} on ${f.node} for ${f.peer})`);
      deleted.set(key, i);
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
    segments,
    overlay: { podCidr: podCidr.text, nodeCidrSize, defaultVni, defaultPort },
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

/** Links in a node's namespace that faults may name: loopback, underlay, VTEP, pod bridge and pod host sides. */
export function nodeLinks(n: ResolvedNode, cni: boolean): string[] {
  // with overlay.cni the plugin names the pods' host interfaces, so only the node-level links are known
  return ['lo', n.underlayIf, n.vtep.dev, ...(n.bridge ? [n.bridge.name] : []), ...(cni ? [] : n.pods.map((p) => p.hostIf))];
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
