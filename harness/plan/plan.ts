// plan: ResolvedTopology → ordered operations per namespace. Pure and printable (`vxlab plan FILE`).
import type { ResolvedNode, ResolvedSetupStep, ResolvedTopology, ResolvedVtep } from '../topology/resolved.ts';
import { dirname } from 'node:path';
import { allPods, namespaces, routesDirect } from '../topology/resolved.ts';
import { getRuntime } from '../runtime/registry.ts';
import { CALICO_VETH_MAC as CALICO_HOST_VETH_MAC, vtepDevices, vxlanOverhead } from '../topology/normalize.ts';

export type Op =
  /** lines for one `ip -n NS -batch -` process */
  | { kind: 'ip'; lines: string[] }
  /** lines for one `bridge -n NS -batch -` process */
  | { kind: 'bridge'; lines: string[] }
  /** one `ip netns exec NS sysctl -qw k=v …` process */
  | { kind: 'sysctl'; settings: Record<string, string> }
  /** one `ip netns exec NS ethtool -K DEV feature on|off …` process */
  | { kind: 'ethtool'; dev: string; features: Record<string, 'on' | 'off'> }
  /** start the userspace VTEP of this node (creates its TAP device) and wait until it is ready */
  | { kind: 'vtep'; node: string }
  /** builder: external — run this node's setup programs (harness/overlay/external.ts) and wait until they are ready */
  | { kind: 'setup'; node: string; cwd: string; steps: ResolvedSetupStep[] };

export interface NsSteps {
  ns: string;
  /** run in order */
  ops: Op[];
}

export interface Stage {
  name: string;
  /** builder: external — the setup stage: every node at once (agents may wait for each other's announcements) */
  setup?: boolean;
  /** namespaces in one stage are independent and run concurrently */
  steps: NsSteps[];
}

export interface Plan {
  /** the underlay's family and the pods' families, with the VTEP overhead the MTUs were derived with */
  families?: { underlay: 4 | 6; pods: (4 | 6)[]; podCidrs: string[]; overhead: number };
  /** created first, in this order; removed in reverse */
  namespaces: string[];
  /** of those, the ones a container runtime provides (the container's namespace bound under vxlab's name) */
  attached?: string[];
  /** what the runtime does before the stages (docker: networks and containers; kind: the cluster config) */
  notes?: string;
  stages: Stage[];
  /** overlay.cni: pods attached by CNI ADD after the stages (harness/overlay/cni-attach.ts), in this order per node */
  cni?: { conflist: string; binDir: string[]; attach: { nodeNs: string; podNs: string; containerId: string; ifName: string }[] };
}

/** setup programs run in the topology file's directory */
export function setupCwd(t: ResolvedTopology): string {
  return t.file ? dirname(t.file) : process.cwd();
}

function remotes(t: ResolvedTopology, n: ResolvedNode): ResolvedNode[] {
  return t.nodes.filter((o) => o !== n);
}

/** kernel vxlan device, exactly as flannel's backend creates it (and calico's felix, with its own name); one per pod family */
export function vxlanLinkLine(n: ResolvedNode, v: ResolvedVtep = n.vtep): string {
  return `link add ${v.dev} address ${v.mac} mtu ${v.mtu} type vxlan id ${v.vni} local ${n.ip} dev ${n.underlayIf} dstport ${v.port} ${v.learning ? 'learning' : 'nolearning'} df ${v.df}`;
}

/** `addr add` of an address vxlab owns: IPv6 ones without duplicate address detection, so up never waits for DAD. */
export function addrLine(ip: string, prefixLen: number, dev: string): string {
  return `addr add ${ip}/${prefixLen} dev ${dev}${ip.includes(':') ? ' nodad' : ''}`;
}

/** The default route of one family (`default` alone would mean IPv4 to ip(8)). */
export function defaultDst(ip: string): string {
  return ip.includes(':') ? '::/0' : 'default';
}

/** The peer's VTEP of the same inner family as `v` (a dual-stack peer has one per family). */
export function peerVtep(r: ResolvedNode, v: ResolvedVtep): { vtep: ResolvedVtep; podSubnet: string } | undefined {
  const i = r.vteps.findIndex((x) => x.family === v.family);
  return i < 0 ? undefined : { vtep: r.vteps[i]!, podSubnet: r.podSubnets[i]! };
}

/**
 * A node's line for a peer reads the same in every node that has it (devices are named, not numbered): at N nodes
 * each is built N−1 times (4 million lines, ~4,000 distinct, at 1,000 nodes). They are built once per topology and
 * shared. The key is every part of the text (a topology changed by a step or fault gets the new text), so a line costs
 * one Map lookup (by the part that names the peer) and a few string comparisons instead of a new string, and the
 * in-process applier, which keeps each line's encoding (harness/runtime/netns/nl-apply.ts), looks up the same string
 * (its hash computed once). (A four-level Map per part cost 1.5–3.6 s of the first walk of 1,000 nodes' plan.)
 */
interface Shared {
  b: string;
  c: string;
  d: string;
  line: string;
}
const lineCaches = new WeakMap<ResolvedTopology, Map<string, Map<string, Shared[]>>>();
function sharedLine(t: ResolvedTopology, kind: string, a: string, b: string, c: string, d: string, build: () => string): string {
  let byKind = lineCaches.get(t);
  if (!byKind) lineCaches.set(t, (byKind = new Map()));
  let byA = byKind.get(kind);
  if (!byA) byKind.set(kind, (byA = new Map()));
  let vs = byA.get(a);
  if (!vs) byA.set(a, (vs = []));
  for (const v of vs) if (v.b === b && v.c === c && v.d === d) return v.line;
  const line = build();
  vs.push({ b, c, d, line });
  return line;
}

/** The per-remote-node overlay entries of node `n`, in the layout's form: every VTEP device (pod family), every peer. */
export function overlayEntries(t: ResolvedTopology, n: ResolvedNode): { neigh: string[]; fdb: string[]; routes: string[] } {
  const neigh: string[] = [];
  const fdb: string[] = [];
  const routes: string[] = [];
  const seen = new Set<string>();
  for (const v of n.vteps) {
    for (const r of remotes(t, n)) {
      const pv = peerVtep(r, v);
      if (!pv) continue;
      const direct = routesDirect(n, r);
      // flannel DirectRouting: a direct-routed peer gets its route only (no ARP, no FDB entry); felix programs every
      // VTEP's neighbour and FDB entry whatever the route (its VXLAN FDB is fed all VTEPs)
      if (!direct || t.layout === 'calico') {
        const { ip, mac } = pv.vtep;
        neigh.push(sharedLine(t, 'neigh', ip, mac, v.dev, '', () => `neigh add ${ip} lladdr ${mac} dev ${v.dev} nud permanent`));
        const f = sharedLine(t, 'fdb', mac, r.ip, v.dev, '', () => `fdb add ${mac} dev ${v.dev} dst ${r.ip} self permanent`);
        // a device shared by both pod families has one FDB entry per peer (a Set: a list scan made the plan O(N³))
        if (!seen.has(f)) {
          seen.add(f);
          fdb.push(f);
        }
      }
      const attrs = t.layout === 'calico' ? calicoRouteAttrs(v) : '';
      routes.push(direct ? directRouteLine(t, n, r, pv.podSubnet) : sharedLine(t, 'route', pv.podSubnet, pv.vtep.ip, v.dev, attrs, () => `route add ${pv.podSubnet} via ${pv.vtep.ip} dev ${v.dev} onlink${attrs}`));
    }
  }
  return { neigh, fdb, routes };
}

/**
 * The route to a peer on the node's own subnet in a routing mode: flannel DirectRouting writes `<subnet> via <peer IP>`
 * (the kernel picks eth0); felix's CrossSubnet "no-encap" route is `<block> via <peer IP> dev <data iface> proto 80`,
 * without the VXLAN MTU.
 */
export function directRouteLine(t: ResolvedTopology, n: ResolvedNode, r: ResolvedNode, subnet: string, verb: 'add' | 'replace' = 'add'): string {
  return `route ${verb} ${subnet} via ${r.ip} dev ${n.underlayIf}${t.layout === 'calico' ? ` proto ${FELIX_PROTO}` : ''}`;
}

/** felix's block routes: its route protocol (80) and the VXLAN MTU on every route (see README: what up builds) */
export const FELIX_PROTO = 80;
export const calicoRouteAttrs = (v: ResolvedVtep) => ` proto ${FELIX_PROTO} mtu ${v.mtu}`;
/** the Calico CNI plugin gives every host-side veth this MAC (the pod's gateway 169.254.1.1 answers with it) */
export { CALICO_HOST_VETH_MAC };

/** Sysctls every namespace with IPv6 gets first: no DAD on interfaces created from now on (inside vxlab's namespaces only). */
export function noDadSysctls(t: ResolvedTopology, devs: string[] = []): Record<string, string> {
  if (t.family !== 6 && !t.families.includes(6)) return {};
  const s: Record<string, string> = { 'net.ipv6.conf.all.accept_dad': '0', 'net.ipv6.conf.default.accept_dad': '0' };
  for (const d of devs) s[`net.ipv6.conf.${d}.accept_dad`] = '0';
  return s;
}

/** The first op in a node or the router: the runtime's own (docker: IPv6 back on), then no DAD; undefined when none. */
function preSysctls(t: ResolvedTopology, devs: string[], v6Off: string[] = []): Op | undefined {
  const settings = { ...getRuntime(t.runtime).nodeSysctls?.(t), ...noDadSysctls(t, devs), ...Object.fromEntries(v6Off.map((d) => [`net.ipv6.conf.${d}.disable_ipv6`, '1'])) };
  return Object.keys(settings).length ? { kind: 'sysctl', settings } : undefined;
}

/** Forwarding sysctls of a node or the router: IPv4 always (as before), IPv6 when the topology uses it. */
export function forwardSysctls(t: ResolvedTopology): Record<string, string> {
  return { 'net.ipv4.ip_forward': '1', ...(t.family === 6 || t.families.includes(6) ? { 'net.ipv6.conf.all.forwarding': '1' } : {}) };
}

/** The node side of the built-in pod attachment: cni0 and host veths (flannel), or cali veths and /32 routes (calico). */
function podAttachLines(t: ResolvedTopology, n: ResolvedNode): string[] {
  // overlay.cni: the plugin chain owns pod attachment (cni0 / host veths / pod routes), vxlab only the overlay
  const cni = !!t.cni;
  const b: string[] = [];
  if (n.bridge && !cni) {
    // as the bridge CNI plugin in flannel's manifest configures it: the MTU flannel hands it (the pods'), hairpin ports
    b.push(`link add ${n.bridge.name}${n.bridge.mac ? ` address ${n.bridge.mac}` : ''} mtu ${n.pods[0]?.mtu ?? n.vtep.mtu} type bridge`, ...n.bridge.addrs.map((a) => addrLine(a.ip, a.prefixLen, n.bridge!.name)), `link set ${n.bridge.name} up`);
  }
  // calico: every cali veth has the Calico CNI's MAC ee:ee:ee:ee:ee:ee (IPv6: its link-local is the pods' gateway fe80::ecee:eeff:feee:eeee)
  const caliMac = t.layout === 'calico' ? ` address ${CALICO_HOST_VETH_MAC}` : '';
  for (const p of cni ? [] : n.pods) {
    b.push(`link add ${p.hostIf}${n.bridge ? '' : caliMac} mtu ${p.mtu} type veth peer name ${p.ifname}${p.mac ? ` address ${p.mac}` : ''} mtu ${p.mtu} netns ${p.ns}`);
    if (n.bridge) b.push(`link set ${p.hostIf} master ${n.bridge.name} up`, `link set ${p.hostIf} type bridge_slave hairpin on`);
    else b.push(`link set ${p.hostIf} up`, ...p.addrs.map((a) => `route add ${a.ip}/${a.family === 6 ? 128 : 32} dev ${p.hostIf} scope link`));
  }
  // calico: pods resolve their gateway 169.254.1.1 by proxy ARP, which answers only for a destination the node routes
  // out of another interface. Real nodes have a default route for that; vxlab's nodes get a host route on lo.
  if (t.layout === 'calico' && t.families.includes(4) && n.pods.length && !cni) b.push(`route add ${n.pods[0]!.addrs[0]!.gateway}/32 dev lo`);
  // many pods: the node's entries for its pods are permanent (see normalize: staticPodNeighbours)
  if (!cni) for (const [ip, mac, dev] of n.podNeighbours ?? []) b.push(`neigh replace ${ip} lladdr ${mac} dev ${dev} nud permanent`);
  return b;
}

function podAttachSysctls(t: ResolvedTopology, n: ResolvedNode): Record<string, string> {
  const sys: Record<string, string> = {};
  if (t.layout === 'calico' && !t.cni && t.families.includes(4)) {
    for (const p of n.pods) {
      Object.assign(sys, calicoVethSysctls(p.hostIf));
    }
  }
  return sys;
}

/** What the Calico CNI plugin and felix set on every host-side cali* veth. */
export function calicoVethSysctls(hostIf: string): Record<string, string> {
  return {
    [`net.ipv4.conf.${hostIf}.route_localnet`]: '1',
    [`net.ipv4.conf.${hostIf}.proxy_arp`]: '1',
    [`net.ipv4.neigh.${hostIf}.proxy_delay`]: '0',
    [`net.ipv4.conf.${hostIf}.forwarding`]: '1',
    [`net.ipv4.conf.${hostIf}.rp_filter`]: '1',
    [`net.ipv6.conf.${hostIf}.accept_ra`]: '0',
  };
}

/** Sysctls of the node's VTEP device: flannel writes accept_ra=0 on its VXLAN device (sysctl writes a '.' in a name as '/'). */
export function vtepSysctls(t: ResolvedTopology, n: ResolvedNode): Record<string, string> {
  return t.layout === 'flannel' ? Object.fromEntries(vtepDevices(n).map((x) => [`net.ipv6.conf.${x.dev.replace(/\./g, '/')}.accept_ra`, '0'])) : {};
}

/** underlay.ipv6LinkLocal off on the node's segment: its eth0 gets no IPv6 (set before the link comes up) */
function underlayV6Off(t: ResolvedTopology, n: ResolvedNode): string[] {
  return t.segments.find((s) => s.name === n.segment)?.ipv6Off ? [n.underlayIf] : [];
}

function underlayLines(t: ResolvedTopology, n: ResolvedNode): string[] {
  // the node's underlay eth0 (netns: address and default route; docker: Docker assigned the address)
  const a: string[] = [...getRuntime(t.runtime).nodeUnderlay(t, n)];
  // a large L2 segment: the underlay neighbours are written permanently (see normalize: staticArp)
  if (n.underlayNeighbours) for (const [ip, mac] of n.underlayNeighbours) a.push(sharedLine(t, 'neigh-replace', ip, mac, n.underlayIf, '', () => `neigh replace ${ip} lladdr ${mac} dev ${n.underlayIf} nud permanent`));
  return a;
}

function nodeOps(t: ResolvedTopology, n: ResolvedNode): Op[] {
  const ops: Op[] = [];
  const v = n.vtep;
  // IPv6 anywhere: no DAD on what is created from here on (vxlab's own namespaces only; addresses also get nodad)
  const pre = preSysctls(t, [n.underlayIf], underlayV6Off(t, n));
  if (pre) ops.push(pre);
  const a = underlayLines(t, n);
  if (v.kind === 'kernel') for (const x of vtepDevices(n)) a.push(vxlanLinkLine(n, x));
  // a kernel VTEP exists once this batch ran, so the rest of the node goes into the same process;
  // a userspace VTEP must be started (it creates the TAP) before its address, neighbours and bridge follow
  let b: string[] = a;
  if (v.kind === 'userspace') {
    ops.push({ kind: 'ip', lines: a });
    ops.push({ kind: 'vtep', node: n.name });
    b = [];
  }
  const { neigh, fdb, routes } = overlayEntries(t, n);
  for (const x of n.vteps) b.push(addrLine(x.ip, x.prefixLen, x.dev));
  for (const x of vtepDevices(n)) b.push(`link set ${x.dev} up`);
  b.push(...podAttachLines(t, n));
  b.push(...neigh);
  ops.push({ kind: 'ip', lines: b });
  // the userspace VTEP keeps its FDB itself (static entries come from the topology)
  if (v.kind === 'kernel' && fdb.length) ops.push({ kind: 'bridge', lines: fdb });
  // A kernel VTEP leaves inner TCP/UDP checksums to "hardware" (CHECKSUM_PARTIAL), which a veth never completes.
  // Kernel peers accept that; a userspace VTEP receives the bytes as they are, and the segments are dropped.
  // So when any peer is userspace, the kernel device computes checksums in software, as a real NIC would.
  if (v.kind === 'kernel' && t.nodes.some((o) => o.vtep.kind === 'userspace')) for (const x of vtepDevices(n)) ops.push({ kind: 'ethtool', dev: x.dev, features: { tx: 'off' } });
  // calico: felix's blackhole for the node's own block(s) (pods are /32 or /128 routes inside)
  if (t.layout === 'calico') for (const ps of n.podSubnets) routes.push(`route add blackhole ${ps} proto ${FELIX_PROTO}`);
  if (routes.length) ops.push({ kind: 'ip', lines: routes });
  // the topology's sysctls / hostProfile come last: they may stage what a distribution ships
  const sys: Record<string, string> = { ...forwardSysctls(t), ...vtepSysctls(t, n), ...podAttachSysctls(t, n), ...n.sysctls };
  ops.push({ kind: 'sysctl', settings: sys });
  return ops;
}

/**
 * A step whose ops are computed on every read of `ops` (an enumerable getter: JSON.stringify, spreads and every
 * reader see plain ops). The plan is pure, so each read gives the same ops.
 */
export function lazySteps(ns: string, make: () => Op[]): NsSteps {
  return {
    ns,
    get ops() {
      return make();
    },
  };
}

export function plan(t: ResolvedTopology): Plan {
  const stages: Stage[] = [];
  // 1. underlay, in namespaces the runtime created (netns: a bridge per segment with veths to nodes and router)
  const rt = getRuntime(t.runtime);
  const under = rt.underlayStage(t);
  if (under) stages.push(under);
  // 2. nodes (and the router); builder: external — only the underlay and forwarding, then the setup programs, then pods
  const ext = t.builder === 'external';
  // A node's ops hold O(N) overlay lines (3 million at 1,000 nodes): they are generated when read (up runs a node's
  // ops and drops them; renderPlan streams them), never held for every node at once.
  const nodeSteps: NsSteps[] = t.nodes.map((n) =>
    lazySteps(n.ns, () => {
      if (!ext) return nodeOps(t, n);
      const pre = preSysctls(t, [n.underlayIf], underlayV6Off(t, n));
      return [...(pre ? [pre] : []), { kind: 'ip', lines: underlayLines(t, n) }, { kind: 'sysctl', settings: { ...forwardSysctls(t), ...n.sysctls } }];
    }),
  );
  if (t.routerNs) {
    const pre = preSysctls(t, t.segments.flatMap((s) => (s.routerIf ? [s.routerIf] : [])), t.segments.flatMap((s) => (s.routerIf && s.ipv6Off ? [s.routerIf] : [])));
    nodeSteps.unshift({ ns: t.routerNs, ops: [...(pre ? [pre] : []), { kind: 'ip', lines: rt.routerUnderlay(t) }, { kind: 'sysctl', settings: forwardSysctls(t) }] });
  }
  stages.push({ name: 'nodes', steps: nodeSteps });
  if (ext) {
    stages.push({ name: 'setup', setup: true, steps: t.nodes.map((n) => ({ ns: n.ns, ops: [{ kind: 'setup', node: n.name, cwd: setupCwd(t), steps: n.setup }] })) });
    const attach: NsSteps[] = t.nodes.map((n) => {
      const lines = podAttachLines(t, n);
      const sys = podAttachSysctls(t, n);
      return { ns: n.ns, ops: [...(lines.length ? [{ kind: 'ip', lines } as Op] : []), ...(Object.keys(sys).length ? [{ kind: 'sysctl', settings: sys } as Op] : [])] };
    });
    if (attach.some((s) => s.ops.length)) stages.push({ name: 'attach', steps: attach.filter((s) => s.ops.length) });
  }
  // 3. pods (with overlay.cni they are attached by CNI ADD after the stages: see harness/overlay/cni-attach.ts)
  if (!t.cni) stages.push({
    name: 'pods',
    steps: allPods(t).map((p) => {
      const lines = ['link set lo up', ...p.addrs.map((a) => addrLine(a.ip, a.prefixLen, p.ifname)), `link set ${p.ifname} up`];
      for (const a of p.addrs) {
        // calico IPv4: the gateway 169.254.1.1 is on-link by a host route; IPv6: the gateway is the cali veth's link-local
        if (t.layout === 'calico' && a.family === 4) lines.push(`route add ${a.gateway} dev ${p.ifname} scope link`);
        lines.push(`route add ${defaultDst(a.ip)} via ${a.gateway} dev ${p.ifname}`);
      }
      for (const [ip, mac] of p.neighbours ?? []) lines.push(`neigh replace ${ip} lladdr ${mac} dev ${p.ifname} nud permanent`);
      const dad = noDadSysctls(t, [p.ifname]);
      return { ns: p.ns, ops: [...(Object.keys(dad).length ? [{ kind: 'sysctl', settings: dad } as Op] : []), { kind: 'ip', lines }] };
    }),
  });
  // overlay.cni with IPv6 pods: the plugin creates the pods' interfaces, so their namespaces get accept_dad=0 first
  const podDad = noDadSysctls(t);
  if (t.cni && Object.keys(podDad).length) stages.push({ name: 'pods', steps: allPods(t).map((p) => ({ ns: p.ns, ops: [{ kind: 'sysctl', settings: podDad }] })) });
  const cni = t.cni
    ? {
        conflist: t.cni.conflist ?? '<overlay.cni.config>',
        binDir: t.cni.binDir,
        attach: allPods(t).map((p) => ({ nodeNs: t.nodes.find((n) => n.name === p.node)!.ns, podNs: p.ns, containerId: `${t.runId}-${p.node}-${p.name}`, ifName: p.ifname })),
      }
    : undefined;
  const attached = !rt.attachesNodes ? [] : [...(t.routerNs ? [t.routerNs] : []), ...t.nodes.map((n) => n.ns)];
  const notes = [rt.planNotes?.(t), scaleNotes(t)].filter(Boolean).join('\n') || undefined;
  const families = { underlay: t.family, pods: t.families, podCidrs: t.overlay.podCidrs, overhead: vxlanOverhead(t.family) };
  return { families, namespaces: namespaces(t), ...(attached.length ? { attached } : {}), ...(notes ? { notes } : {}), stages, ...(cni ? { cni } : {}) };
}

/**
 * What vxlab builds differently from a real cluster because every node shares one host (staticArp,
 * ipv6LinkLocal, staticPodNeighbours), said at the top of the plan; undefined when none applies.
 */
function scaleNotes(t: ResolvedTopology): string | undefined {
  const out: string[] = [];
  for (const s of t.segments) {
    const n = t.nodes.filter((x) => x.segment === s.name);
    if (n.some((x) => x.underlayNeighbours)) out.push(`# underlay.staticArp: segment ${s.name} (${n.length} nodes): the nodes' underlay neighbours${s.routerMac ? ' and the router\'s' : ''} are permanent, and its bridge has a static FDB entry per port (the host's neighbour table is shared by every namespace)`);
    if (s.ipv6Off) out.push(`# underlay.ipv6LinkLocal: segment ${s.name}: no IPv6 on its links (bridge, ports, the nodes' eth0${s.routerIf ? ', the router\'s port' : ''}); the overlay and the pods keep theirs`);
  }
  const pods = t.nodes.reduce((a, x) => a + x.pods.length, 0);
  if (t.nodes.some((x) => x.podNeighbours)) out.push(`# overlay.staticPodNeighbours: the pods' neighbour entries are permanent (${pods} pods; deterministic MACs on pod eth0${t.nodes.some((x) => x.bridge) ? ' and cni0' : ''})`);
  return out.length ? out.join('\n') : undefined;
}

/** Render as commands a person can paste (one `ip -n NS …` per line). */
export function renderPlan(p: Plan): string {
  return [...renderPlanChunks(p)].join('');
}

/**
 * The same text as renderPlan, one namespace's block at a time: `vxlab plan` writes a 1,000-node plan (3 million
 * lines) without building it as one string.
 */
export function* renderPlanChunks(p: Plan): Generator<string> {
  const head: string[] = [];
  if (p.notes) head.push(p.notes.trimEnd(), '');
  if (p.families) head.push(`# families: underlay IPv${p.families.underlay} (VXLAN overhead ${p.families.overhead}), pods ${p.families.pods.map((f) => `IPv${f}`).join(' + ')} (${p.families.podCidrs.join(', ')})`, '');
  head.push('# namespaces', ...p.namespaces.map((n) => (p.attached?.includes(n) ? `ip netns attach ${n} <pid of its container>` : `ip netns add ${n}`)));
  yield head.join('\n');
  for (const st of p.stages) {
    yield `\n\n# stage: ${st.name}`;
    for (const s of st.steps) {
      const out = [`## ${s.ns}`];
      for (const op of s.ops) for (const l of renderOp(s.ns, op)) out.push(l);
      yield '\n' + out.join('\n');
    }
  }
  const out: string[] = [];
  if (p.cni) {
    out.push('', `# stage: cni — CNI ADD of every pod with ${p.cni.conflist} (node subnet, MTU and a per-run IPAM dataDir filled in), plugins from ${p.cni.binDir.join(':')}`);
    for (const a of p.cni.attach) out.push(`# ip netns exec ${a.nodeNs} PLUGIN  (CNI_COMMAND=ADD CNI_CONTAINERID=${a.containerId} CNI_NETNS=/var/run/netns/${a.podNs} CNI_IFNAME=${a.ifName})`);
  }
  yield (out.length ? '\n' + out.join('\n') : '') + '\n';
}

export function renderOp(ns: string, op: Op): string[] {
  switch (op.kind) {
    case 'ip':
      return op.lines.map((l) => `ip -n ${ns} ${l}`);
    case 'bridge':
      return op.lines.map((l) => `bridge -n ${ns} ${l}`);
    case 'sysctl':
      return [`nsenter --net=/var/run/netns/${ns} sysctl -qw ${Object.entries(op.settings).map(([k, v]) => `${k}=${v}`).join(' ')}`];
    case 'ethtool':
      return [`nsenter --net=/var/run/netns/${ns} ethtool -K ${op.dev} ${Object.entries(op.features).map(([k, v]) => `${k} ${v}`).join(' ')}`];
    case 'vtep':
      return [`# start userspace VTEP for ${op.node} in ${ns} (vxlab vtep process; creates its TAP device)`];
    case 'setup':
      return [
        `# setup programs of ${op.node} (builder: external): cwd ${op.cwd}, VXLAB_NODE=${op.node} and the node's other facts in VXLAB_*`,
        ...op.steps.map((st) => {
          const what = st.daemon ? 'daemon' : `runs to exit 0 within ${st.timeoutSec} s`;
          const ready = st.ready ? `; ready when ${[st.ready.device && `device ${st.ready.device} exists`, st.ready.command && `${st.ready.command.join(' ')} exits 0`].filter(Boolean).join(' and ')} (within ${st.ready.timeoutSec} s)` : '';
          return `ip netns exec ${ns} ${st.command.join(' ')}   # ${what}${ready}`;
        }),
      ];
  }
}
