// plan: ResolvedTopology → ordered operations per namespace. Pure and printable (`vxlab plan FILE`).
import type { ResolvedNode, ResolvedSetupStep, ResolvedTopology } from '../topology/resolved.ts';
import { dirname } from 'node:path';
import { allPods, namespaces } from '../topology/resolved.ts';
import { getRuntime } from '../runtime/registry.ts';

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

/** kernel vxlan device, exactly as flannel's backend creates it (and calico's felix, with its own name) */
export function vxlanLinkLine(n: ResolvedNode): string {
  const v = n.vtep;
  return `link add ${v.dev} address ${v.mac} mtu ${v.mtu} type vxlan id ${v.vni} local ${n.ip} dev ${n.underlayIf} dstport ${v.port} ${v.learning ? 'learning' : 'nolearning'} df ${v.df}`;
}

/** The per-remote-node overlay entries of node `n`, in the layout's form. */
export function overlayEntries(t: ResolvedTopology, n: ResolvedNode): { neigh: string[]; fdb: string[]; routes: string[] } {
  const dev = n.vtep.dev;
  const neigh: string[] = [];
  const fdb: string[] = [];
  const routes: string[] = [];
  for (const r of remotes(t, n)) {
    neigh.push(`neigh add ${r.vtep.ip} lladdr ${r.vtep.mac} dev ${dev} nud permanent`);
    fdb.push(`fdb add ${r.vtep.mac} dev ${dev} dst ${r.ip} self permanent`);
    routes.push(`route add ${r.podSubnet} via ${r.vtep.ip} dev ${dev} onlink${t.layout === 'calico' ? calicoRouteAttrs(n) : ''}`);
  }
  return { neigh, fdb, routes };
}

/** felix's block routes: its route protocol (80) and the VXLAN MTU on every route (see README: what up builds) */
export const FELIX_PROTO = 80;
export const calicoRouteAttrs = (n: ResolvedNode) => ` proto ${FELIX_PROTO} mtu ${n.vtep.mtu}`;
/** the Calico CNI plugin gives every host-side veth this MAC (the pod's gateway 169.254.1.1 answers with it) */
export const CALICO_HOST_VETH_MAC = 'ee:ee:ee:ee:ee:ee';

/** The node side of the built-in pod attachment: cni0 and host veths (flannel), or cali veths and /32 routes (calico). */
function podAttachLines(t: ResolvedTopology, n: ResolvedNode): string[] {
  // overlay.cni: the plugin chain owns pod attachment (cni0 / host veths / pod routes), vxlab only the overlay
  const cni = !!t.cni;
  const b: string[] = [];
  if (n.bridge && !cni) {
    // as the bridge CNI plugin in flannel's manifest configures it: the MTU flannel hands it (the pods'), hairpin ports
    b.push(`link add ${n.bridge.name} mtu ${n.pods[0]?.mtu ?? n.vtep.mtu} type bridge`, `addr add ${n.bridge.ip}/${n.podPrefixLen} dev ${n.bridge.name}`, `link set ${n.bridge.name} up`);
  }
  for (const p of cni ? [] : n.pods) {
    b.push(`link add ${p.hostIf}${n.bridge ? '' : ` address ${CALICO_HOST_VETH_MAC}`} mtu ${p.mtu} type veth peer name ${p.ifname} mtu ${p.mtu} netns ${p.ns}`);
    if (n.bridge) b.push(`link set ${p.hostIf} master ${n.bridge.name} up`, `link set ${p.hostIf} type bridge_slave hairpin on`);
    else b.push(`link set ${p.hostIf} up`, `route add ${p.ip}/32 dev ${p.hostIf} scope link`);
  }
  // calico: pods resolve their gateway 169.254.1.1 by proxy ARP, which answers only for a destination the node routes
  // out of another interface. Real nodes have a default route for that; vxlab's nodes get a host route on lo.
  if (t.layout === 'calico' && n.pods.length && !cni) b.push(`route add ${n.pods[0]!.gateway}/32 dev lo`);
  return b;
}

function podAttachSysctls(t: ResolvedTopology, n: ResolvedNode): Record<string, string> {
  const sys: Record<string, string> = {};
  if (t.layout === 'calico' && !t.cni) {
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
  return t.layout === 'flannel' ? { [`net.ipv6.conf.${n.vtep.dev.replace(/\./g, '/')}.accept_ra`]: '0' } : {};
}

function underlayLines(t: ResolvedTopology, n: ResolvedNode): string[] {
  // the node's underlay eth0 (netns: address and default route; docker: Docker assigned the address)
  const a: string[] = [...getRuntime(t.runtime).nodeUnderlay(t, n)];
  // a large L2 segment: the underlay neighbours are written permanently (see normalize: staticArp)
  if (n.underlayNeighbours) for (const [ip, mac] of n.underlayNeighbours) a.push(`neigh replace ${ip} lladdr ${mac} dev ${n.underlayIf} nud permanent`);
  return a;
}

function nodeOps(t: ResolvedTopology, n: ResolvedNode): Op[] {
  const ops: Op[] = [];
  const v = n.vtep;
  const a = underlayLines(t, n);
  if (v.kind === 'kernel') a.push(vxlanLinkLine(n));
  // a kernel VTEP exists once this batch ran, so the rest of the node goes into the same process;
  // a userspace VTEP must be started (it creates the TAP) before its address, neighbours and bridge follow
  let b: string[] = a;
  if (v.kind === 'userspace') {
    ops.push({ kind: 'ip', lines: a });
    ops.push({ kind: 'vtep', node: n.name });
    b = [];
  }
  const { neigh, fdb, routes } = overlayEntries(t, n);
  b.push(`addr add ${v.ip}/32 dev ${v.dev}`, `link set ${v.dev} up`);
  b.push(...podAttachLines(t, n));
  b.push(...neigh);
  ops.push({ kind: 'ip', lines: b });
  // the userspace VTEP keeps its FDB itself (static entries come from the topology)
  if (v.kind === 'kernel' && fdb.length) ops.push({ kind: 'bridge', lines: fdb });
  // A kernel VTEP leaves inner TCP/UDP checksums to "hardware" (CHECKSUM_PARTIAL), which a veth never completes.
  // Kernel peers accept that; a userspace VTEP receives the bytes as they are, and the segments are dropped.
  // So when any peer is userspace, the kernel device computes checksums in software, as a real NIC would.
  if (v.kind === 'kernel' && t.nodes.some((o) => o.vtep.kind === 'userspace')) ops.push({ kind: 'ethtool', dev: v.dev, features: { tx: 'off' } });
  // calico: felix's blackhole for the node's own block (pods are /32 routes inside it)
  if (t.layout === 'calico') routes.push(`route add blackhole ${n.podSubnet} proto ${FELIX_PROTO}`);
  if (routes.length) ops.push({ kind: 'ip', lines: routes });
  // the topology's sysctls / hostProfile come last: they may stage what a distribution ships
  const sys: Record<string, string> = { 'net.ipv4.ip_forward': '1', ...vtepSysctls(t, n), ...podAttachSysctls(t, n), ...n.sysctls };
  ops.push({ kind: 'sysctl', settings: sys });
  return ops;
}

export function plan(t: ResolvedTopology): Plan {
  const stages: Stage[] = [];
  // 1. underlay, in namespaces the runtime created (netns: a bridge per segment with veths to nodes and router)
  const rt = getRuntime(t.runtime);
  const under = rt.underlayStage(t);
  if (under) stages.push(under);
  // 2. nodes (and the router); builder: external — only the underlay and forwarding, then the setup programs, then pods
  const ext = t.builder === 'external';
  const nodeSteps: NsSteps[] = t.nodes.map((n) => ({
    ns: n.ns,
    ops: ext ? [{ kind: 'ip', lines: underlayLines(t, n) }, { kind: 'sysctl', settings: { 'net.ipv4.ip_forward': '1', ...n.sysctls } }] : nodeOps(t, n),
  }));
  if (t.routerNs) {
    nodeSteps.unshift({ ns: t.routerNs, ops: [{ kind: 'ip', lines: rt.routerUnderlay(t) }, { kind: 'sysctl', settings: { 'net.ipv4.ip_forward': '1' } }] });
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
      const lines = ['link set lo up', `addr add ${p.ip}/${p.prefixLen} dev ${p.ifname}`, `link set ${p.ifname} up`];
      if (t.layout === 'calico') lines.push(`route add ${p.gateway} dev ${p.ifname} scope link`);
      lines.push(`route add default via ${p.gateway} dev ${p.ifname}`);
      return { ns: p.ns, ops: [{ kind: 'ip', lines }] };
    }),
  });
  const cni = t.cni
    ? {
        conflist: t.cni.conflist ?? '<overlay.cni.config>',
        binDir: t.cni.binDir,
        attach: allPods(t).map((p) => ({ nodeNs: t.nodes.find((n) => n.name === p.node)!.ns, podNs: p.ns, containerId: `${t.runId}-${p.node}-${p.name}`, ifName: p.ifname })),
      }
    : undefined;
  const attached = !rt.attachesNodes ? [] : [...(t.routerNs ? [t.routerNs] : []), ...t.nodes.map((n) => n.ns)];
  const notes = rt.planNotes?.(t);
  return { namespaces: namespaces(t), ...(attached.length ? { attached } : {}), ...(notes ? { notes } : {}), stages, ...(cni ? { cni } : {}) };
}

/** Render as commands a person can paste (one `ip -n NS …` per line). */
export function renderPlan(p: Plan): string {
  const out: string[] = [];
  if (p.notes) out.push(p.notes.trimEnd(), '');
  out.push('# namespaces', ...p.namespaces.map((n) => (p.attached?.includes(n) ? `ip netns attach ${n} <pid of its container>` : `ip netns add ${n}`)));
  for (const st of p.stages) {
    out.push('', `# stage: ${st.name}`);
    for (const s of st.steps) {
      out.push(`## ${s.ns}`);
      for (const op of s.ops) out.push(...renderOp(s.ns, op));
    }
  }
  if (p.cni) {
    out.push('', `# stage: cni — CNI ADD of every pod with ${p.cni.conflist} (node subnet, MTU and a per-run IPAM dataDir filled in), plugins from ${p.cni.binDir.join(':')}`);
    for (const a of p.cni.attach) out.push(`# ip netns exec ${a.nodeNs} PLUGIN  (CNI_COMMAND=ADD CNI_CONTAINERID=${a.containerId} CNI_NETNS=/var/run/netns/${a.podNs} CNI_IFNAME=${a.ifName})`);
  }
  return out.join('\n') + '\n';
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
