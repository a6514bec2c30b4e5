// Suite: routes — the kernel's VXLAN state on every node against what the resolved topology implies.
import { fromDiffs, type CheckContext, type CheckDef, type SuiteDef } from '../harness/runner/check.ts';
import { allPods, routesDirect, type ResolvedNode, type ResolvedPod, type ResolvedTopology } from '../harness/topology/resolved.ts';
import { containsIp, hostAny, parseAnyCidr, sizeN, type Family } from '../harness/topology/ip.ts';
import { peerVtep } from '../harness/plan/plan.ts';
import type { ResolvedVtep } from '../harness/topology/resolved.ts';
import * as k from '../harness/probe/kernel.ts';
import { readVtepFdb } from '../harness/probe/vtep.ts';
import { freeCores, threadsForFreeCores } from '../harness/probe/icmp.ts';
import { pool } from '../harness/util/exec.ts';
import { existsSync } from 'node:fs';
import { runMemo } from '../harness/runner/evidence.ts';
import { BIG_NODES } from '../harness/runner/sample.ts';
import { CALICO_HOST_VETH_MAC, FELIX_PROTO, calicoVethSysctls, vtepSysctls } from '../harness/plan/plan.ts';

interface NodeState {
  links: k.LinkInfo[];
  routes: k.RouteInfo[];
  neigh: k.NeighInfo[];
  fdb: k.FdbInfo[];
  /**
   * why the FDB could not be read (a `bridge fdb` that failed, a userspace VTEP's control socket that did not answer):
   * then `fdb` is empty because nothing was read, not because the table is, and routes/fdb says so instead of calling
   * every entry missing (seen: a starved userspace VTEP at load 17 made three "missing FDB entry" false failures)
   */
  fdbError?: string;
  /** the kernel's answers to plan.qs, in order */
  answers: k.RouteAnswer[];
  /** routePlan(t, n), computed once per run (at 1,000 nodes a million routing questions: 10 s of CPU when made twice) */
  plan: RoutePlan;
}

/** Namespaces read at once (each read is one or two short processes; in-process reads run one at a time). */
export const READ_PARALLEL = 16;

/**
 * Every node's state, read once per run (routes and mtu share it): links, routes, the VTEP's neighbours, every routing
 * question of routes/remote-subnets and the VTEP's FDB (kernel VTEP), read in-process (harness/probe/kernel.ts: setns
 * and rtnetlink dumps, no process) — or, where the namespace cannot be entered so, one `ip -d -batch` process and one
 * `bridge fdb` per node; every entry is then compared in maps, not lists.
 */
export function observe(ctx: CheckContext): Promise<Map<string, NodeState>> {
  return runMemo(ctx.t, 'routes/state', async () => {
    const m = new Map<string, NodeState>();
    const fams = ctx.t.families ?? [4];
    const lookUp = ctx.t.nodes.length > NEIGH_DUMP_NODES;
    const cache: SampleCache = new Map();
    // a big topology of kernel VTEPs, read in-process, with two cores idle: a worker thread reads every other node
    if (ctx.t.nodes.length > BIG_NODES && ctx.t.nodes.every((n) => n.vtep.kind === 'kernel') && process.env.VXLAB_STATE_READ !== 'ip' && (await sharedReads())) {
      const plans = ctx.t.nodes.map((n) => routePlan(ctx.t, n, cache));
      const keys = ctx.t.nodes.map((n) => (lookUp ? neighbourKeys(ctx.t, n) : undefined));
      const jobs = ctx.t.nodes.map((n, i) => ({ ns: n.ns, req: k.snapshotRequest(n.vtep.dev, plans[i]!.qs.map((x) => x.q), keys[i], true) }));
      await k.readSharedInProcess(jobs, async (i, x) => {
        const n = ctx.t.nodes[i]!;
        const qs = plans[i]!.qs.map((q) => q.q);
        // a namespace the in-process reader cannot enter: its processes, as below
        const snap = await k.nodeSnapshot(n.ns, n.vtep.dev, fams, qs, keys[i], x);
        const fdb = x ? { entries: k.fdbOf(x, n.vtep.dev) } : await readFdb(ctx, n);
        const dev = snap.links.find((l) => l.ifname === n.vtep.dev);
        m.set(n.name, { links: snap.links, routes: snap.routes, neigh: dev ? snap.neigh : [], fdb: dev ? fdb.entries : [], fdbError: dev ? fdb.error : undefined, answers: snap.answers, plan: plans[i]! });
      });
      return m;
    }
    await pool(ctx.t.nodes, READ_PARALLEL, async (n) => {
      const plan = routePlan(ctx.t, n, cache);
      const qs = plan.qs.map((x) => x.q);
      const [snap, fdb] = await Promise.all([
        k.nodeSnapshot(n.ns, n.vtep.dev, fams, qs, lookUp ? neighbourKeys(ctx.t, n) : undefined),
        readFdb(ctx, n),
      ]);
      const dev = snap.links.find((l) => l.ifname === n.vtep.dev);
      m.set(n.name, { links: snap.links, routes: snap.routes, neigh: dev ? snap.neigh : [], fdb: dev ? fdb.entries : [], fdbError: dev ? fdb.error : undefined, answers: snap.answers, plan });
    });
    return m;
  });
}

/**
 * A node's VTEP FDB, or why it could not be read. The userspace VTEP answers on its control socket from the same
 * event loop that forwards packets: starved of CPU it can miss a short bound, so it is asked again with longer ones
 * (3, 10, 20 s; the wait ends at the answer). An error is kept, never read as an empty table.
 */
async function readFdb(ctx: CheckContext, n: ResolvedNode): Promise<{ entries: k.FdbInfo[]; error?: string }> {
  if (n.vtep.kind === 'kernel') return k.fdb(n.ns, n.vtep.dev).then((entries) => ({ entries }), (e) => ({ entries: [], error: errText(e) }));
  let error = '';
  for (const ms of [3000, 10_000, 20_000]) {
    try {
      return { entries: await readVtepFdb(ctx, n, ms) };
    } catch (e) {
      error = errText(e);
    }
  }
  return { entries: [], error };
}

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!;

/**
 * Whether the routes suite's reads are shared with a worker thread: VXLAB_READ_THREADS=1 never, =2 always; else when
 * the prober's rule (threadsForFreeCores) would give two threads for the cores free right now — one rule for both, so
 * that 1.5 free cores are not rounded down to one here while the matrix counts them as two (on a busy machine a second
 * reading thread only competes with the first).
 */
async function sharedReads(): Promise<boolean> {
  const env = process.env.VXLAB_READ_THREADS;
  if (env === '1') return false;
  if (env === '2') return true;
  const free = await freeCores();
  return free !== undefined && threadsForFreeCores(free) >= 2;
}

/**
 * Above this many nodes the VTEP's neighbours are looked up one by one (the peers' VTEP addresses, and those of
 * departed nodes), not dumped: the kernel's neighbour dump walks the host-wide table of every namespace — at 1,000
 * nodes two million entries, about a second per node — where a lookup is a hash probe. An entry for an address that is
 * no peer's (and no departed node's) is then not seen; routes/neighbours says so.
 */
export const NEIGH_DUMP_NODES = BIG_NODES;

/** The neighbour entries routes/neighbours expects on a node (every peer's VTEP address per family), and those departed nodes may have left behind. */
function neighbourKeys(t: ResolvedTopology, n: ResolvedNode): string[] {
  return [...new Set([...neighbourWant(t, n).keys(), ...(t.departed ?? []).map((d) => d.vtepIp)])];
}

/** Every node's sysctls that any check reads (node-sysctls, the pods' host side, the ephemeral port range), one process per node, once per run. */
export function observeSysctls(ctx: CheckContext): Promise<Map<string, Record<string, string | undefined>>> {
  return runMemo(ctx.t, 'routes/sysctls', async () => {
    const m = new Map<string, Record<string, string | undefined>>();
    const keysOf = (n: ResolvedNode) => [...new Set([...Object.keys(nodeSysctls(ctx.t, n)), ...n.pods.flatMap((p) => Object.keys(podSysctls(ctx.t, p))), 'net.ipv4.ip_local_port_range'])];
    // nodes in a named network namespace: read /proc/sys/net in-process from inside it (setns; no process per node)
    const local = ctx.t.nodes.filter((n) => existsSync(`/var/run/netns/${n.ns}`));
    if (local.length) {
      const { readSysctlsIn } = await import('./sysctl-read.ts');
      for (const n of local) m.set(n.name, readSysctlsIn(n.ns, keysOf(n)));
    }
    await pool(ctx.t.nodes.filter((n) => !m.has(n.name)), READ_PARALLEL, async (n) => {
      m.set(n.name, await k.sysctls(n.ns, keysOf(n)));
    });
    return m;
  });
}

const remotes = (t: ResolvedTopology, n: ResolvedNode) => t.nodes.filter((o) => o !== n);
/** Peers whose neighbour and FDB entries the node holds: all of them, except flannel's direct-routed peers (DirectRouting writes no ARP or FDB entry for those; felix writes every VTEP's) */
const vxlanPeers = (t: ResolvedTopology, n: ResolvedNode) => remotes(t, n).filter((r) => t.layout === 'calico' || !routesDirect(n, r));

/** One node's side of a check: what the topology implies, what the kernel shows, and every difference. */
interface NodeComparison {
  /** a function: made only when kept (a big topology keeps only the nodes that differ) */
  expected: unknown | (() => unknown);
  observed: unknown | (() => unknown);
  diffs: string[];
  /**
   * The node's diffs concern only entries nothing but a control plane writes (permanent ones, or wanted permanent
   * ones that are missing): the kernel neither creates, changes nor ages out a permanent entry, so without a write
   * they stay as they are. Unset: some diff could heal by itself (an extra dynamic entry ages out).
   */
  settled?: boolean;
}
const made = (v: unknown) => (typeof v === 'function' ? (v as () => unknown)() : v);

/** Above ROUTE_GET_ALL_NODES nodes, expected/observed keep only the nodes that differ (the full lists are N² lines). */
function bigExtra(t: ResolvedTopology, expected: Record<string, unknown>, observed: Record<string, unknown>) {
  const note = `${t.nodes.length} nodes: per-node lists kept only for nodes that differ`;
  return { expected: Object.keys(expected).length ? expected : note, observed: Object.keys(observed).length ? observed : note };
}

/** A check that compares every node's live state with the resolved topology, node by node. */
function perNodeCheck(id: string, title: string, okText: (t: ResolvedTopology) => string, compare: (n: ResolvedNode, st: NodeState, t: ResolvedTopology) => NodeComparison): CheckDef {
  return {
    id,
    title,
    reads: observe,
    async run(ctx) {
      const st = await observe(ctx);
      const big = ctx.t.nodes.length > ROUTE_GET_ALL_NODES;
      const diffs: string[] = [];
      const expected: Record<string, unknown> = {};
      const observed: Record<string, unknown> = {};
      let settled = true;
      for (const n of ctx.t.nodes) {
        const c = compare(n, st.get(n.name)!, ctx.t);
        if (!big || c.diffs.length) {
          expected[n.name] = made(c.expected);
          observed[n.name] = made(c.observed);
        }
        diffs.push(...c.diffs);
        if (c.diffs.length && !c.settled) settled = false;
      }
      const out = fromDiffs(diffs, okText(ctx.t), big ? bigExtra(ctx.t, expected, observed) : { expected, observed });
      return out.status === 'fail' && settled ? { ...out, settled: SETTLED_TABLES } : out;
    },
  };
}

/** Why a failing routes/neighbours or routes/fdb cannot change without a control plane's write (CheckResult.settled). */
export const SETTLED_TABLES = 'every difference is a permanent entry (or a missing one that must be permanent): the kernel neither creates, changes nor ages out permanent entries';

/** An entry a departed node (remove-node step) left behind on a peer: whose it was. */
function departedNote(t: ResolvedTopology, line: string): string {
  const d = t.departed?.find((x) => line.includes(` ${x.mac} `) || line.includes(` ${x.vtepIp} `) || line.includes(` ${x.podSubnet} `));
  return d ? ` — left behind by ${d.name} (${d.ip}), which departed at step ${d.step}` : '';
}

const show = (v: unknown) => (v === undefined || v === null ? 'absent' : JSON.stringify(v));

const device = perNodeCheck(
  'routes/vxlan-device',
  'VTEP device parameters (VNI, dstport, local, learning, MTU, MAC)',
  (t) => `${t.nodes.length} VTEP devices match`,
  (n, st) => {
    const l = st.links.find((x) => x.ifname === n.vtep.dev);
    const exp: Record<string, unknown> = { mac: n.vtep.mac, mtu: n.vtep.mtu, state: 'up' };
    if (n.vtep.kind === 'kernel') Object.assign(exp, { kind: 'vxlan', id: n.vtep.vni, port: n.vtep.port, local: n.ip, learning: n.vtep.learning, link: n.underlayIf });
    else Object.assign(exp, { kind: 'tun' });
    const expected = { dev: n.vtep.dev, ...exp };
    if (!l) return { expected, observed: null, diffs: [`${n.name}: ${n.vtep.dev} missing`] };
    const d = l.linkinfo?.info_data ?? {};
    const obs: Record<string, unknown> = { mac: l.address, mtu: l.mtu, state: l.flags.includes('UP') ? 'up' : 'down', kind: l.linkinfo?.info_kind };
    // ip -j reports an IPv6 local address as local6
    if (n.vtep.kind === 'kernel') Object.assign(obs, { id: d.id, port: d.port, local: d.local ?? d.local6, learning: d.learning, link: d.link });
    const diffs = Object.keys(exp)
      .filter((key) => obs[key] !== exp[key])
      .map((key) => `${n.name}: ${n.vtep.dev} ${key}: expected ${show(exp[key])}, observed ${show(obs[key])}`);
    // builder: external — the announced identity must follow the layout's rules too (e.g. flannel's .0/32 address)
    const id = n.vtep.observed;
    if (id) diffs.push(...id.problems);
    return { expected, observed: { dev: n.vtep.dev, ...obs, ...(id ? { addresses: id.addresses } : {}) }, diffs };
  },
);

/**
 * Above this many nodes, routes/remote-subnets asks the kernel about one address per remote subnet (its first pod's,
 * else its first host) instead of the first host, the last host and every pod: 999 questions per node at 1,000 nodes
 * instead of 2,997. The route tables themselves are compared entry by entry at every size.
 */
export const ROUTE_GET_ALL_NODES = BIG_NODES;

/** Addresses to ask the kernel about in a remote subnet: its first and last host, and every pod the topology puts there. */
function samples(r: ResolvedNode, subnet: string = r.podSubnet, few = false, cache?: SampleCache): string[] {
  if (cache) {
    const key = `${r.name}|${subnet}|${few}`;
    let x = cache.get(key);
    if (!x) cache.set(key, (x = samples(r, subnet, few)));
    return x;
  }
  const c = parseAnyCidr(subnet);
  if (few) return [r.pods.map((p) => podIp(p, c.family)).find((x): x is string => !!x) ?? hostAny(c, 1)];
  const first = hostAny(c, 1);
  const last = hostAny(c, sizeN(c) - 2n);
  return [...new Set([first, ...r.pods.map((p) => podIp(p, c.family)).filter((x): x is string => !!x), last])];
}

/** A pod's address of one family (the first family's is p.ip, which CNI attach may have replaced). */
export function podIp(p: ResolvedPod, f: Family): string | undefined {
  const i = p.addrs?.findIndex((a) => a.family === f) ?? -1;
  if (i === 0 || (i < 0 && !p.addrs?.length && f === 4)) return p.ip;
  return i > 0 ? p.addrs[i]!.ip : undefined;
}

/** Where a node's pod traffic enters the node: a local pod's address and interface (bridge or host veth), if it has pods. */
function localSource(n: ResolvedNode, f: Family = n.vtep.family ?? 4): { from?: string; iif?: string; label: string } {
  const p = n.pods[0];
  const ip = p && podIp(p, f);
  if (!p || !ip) return { label: `${n.name} (locally originated)` };
  const iif = n.bridge?.name ?? p.hostIf;
  return { from: ip, iif, label: `from ${p.node}/${p.name} (${ip}) iif ${iif}` };
}

const famOf = (ip: string): Family => (ip.includes(':') ? 6 : 4);
/** routes the kernel itself adds on the VTEP for IPv6: link-local, and the tunnel address's own /128 */
const kernelOwn = (n: ResolvedNode, r: k.RouteInfo) => (r as any).protocol === 'kernel' && (r.dst === 'fe80::/64' || (n.vteps ?? []).some((v) => v.family === 6 && (r.dst === v.ip || r.dst === `${v.ip}/128`)));

/** Why a route has its form, in a routing mode: which peers share the node's subnet. */
function modeWhy(t: ResolvedTopology, n: ResolvedNode, r: ResolvedNode): string {
  if (!n.directRouting) return '';
  const mode = t.layout === 'calico' ? 'vxlanMode CrossSubnet' : 'DirectRouting';
  return r.segment === n.segment ? ` (${mode}: same subnet ${n.segment})` : ` (${mode}: ${r.name} is in ${r.segment}, not ${n.segment})`;
}

/** Is a destination (a CIDR or an address) inside the cluster's pod CIDRs? */
function podCidrTest(t: ResolvedTopology): (dst: string) => boolean {
  const pcs = (t.overlay.podCidrs?.length ? t.overlay.podCidrs : [t.overlay.podCidr]).map((c) => parseAnyCidr(c, false));
  return (dst) => {
    try {
      return pcs.some((c) => containsIp(c, dst.split('/')[0]!));
    } catch {
      return false;
    }
  };
}

/** Why the kernel answered as it did, where vxlab can tell: the route that matched, a policy table, or no forwarding. */
async function cause(n: ResolvedNode, a: k.RouteAnswer): Promise<string> {
  const covering = await k.routesCovering(n.ns, a.q.dst);
  const fmt = (c: (typeof covering)[number]) => `${c.type && c.type !== 'unicast' ? `${c.type} ` : ''}${c.dst}${c.gateway ? ` via ${c.gateway}` : ''}${c.dev ? ` dev ${c.dev}` : ''}${c.table && c.table !== 'main' ? ` table ${c.table}` : ''}`;
  if (!a.error) {
    const table = a.route?.table ?? 'main';
    const m = covering.find((c) => (c.table ?? 'main') === table && c.dev === a.route?.dev);
    return ` (matching route: ${m ? fmt(m) : '?'}${table !== 'main' ? `; a policy rule selected table ${table}` : ''})`;
  }
  const cover = covering[0];
  if (cover && cover.dev === n.vtep.dev && (!cover.type || cover.type === 'unicast') && a.q.iif) {
    // the VTEP route is there, yet forwarded traffic is refused: the node does not forward
    const f = await k.sysctls(n.ns, a.q.dst.includes(':') ? ['net.ipv6.conf.all.forwarding', `net.ipv6.conf.${a.q.iif}.forwarding`] : ['net.ipv4.ip_forward', `net.ipv4.conf.${a.q.iif}.forwarding`]);
    return ` (the route ${cover.dst} via ${cover.gateway ?? '-'} dev ${cover.dev} exists, but the node does not forward: ${Object.entries(f).map(([x, v]) => `${x} = ${v ?? 'absent'}`).join(', ')})`;
  }
  if (!cover) return ' (no route covers it)';
  return ` (matching route: ${fmt(cover)})`;
}

/** A peer's sample addresses per subnet, shared by every node's plan of one run (each peer is every other node's remote). */
type SampleCache = Map<string, string[]>;
type RoutePlan = ReturnType<typeof routePlan>;

/** What routes/remote-subnets expects on node n, and the routing questions it asks the kernel (read with the node's snapshot). */
function routePlan(t: ResolvedTopology, n: ResolvedNode, cache?: SampleCache) {
  const rs = remotes(t, n);
  // every pod family: the peer's subnet of that family via the peer's VTEP address of that family
  const vts: ResolvedVtep[] = n.vteps ?? [n.vtep];
  const pairs = vts.flatMap((v) => rs.flatMap((r) => {
    const pv = r.vteps ? peerVtep(r, v) : { vtep: r.vtep, podSubnet: r.podSubnet };
    if (!pv) return [];
    // routing modes: a peer on the node's own subnet is routed plainly via its node IP on eth0, the others over VXLAN
    const direct = routesDirect(n, r);
    return [{ r, v, subnet: pv.podSubnet, direct, via: direct ? r.ip : pv.vtep.ip, dev: direct ? n.underlayIf : n.vtep.dev }];
  }));
  const srcs = new Map(vts.map((v) => [v.family ?? 4, localSource(n, v.family ?? 4)]));
  const few = t.nodes.length > ROUTE_GET_ALL_NODES;
  const qs = pairs.flatMap((x) => samples(x.r, x.subnet, few, cache).map((dst) => {
    const src = srcs.get(famOf(dst))!;
    return { r: x.r, via: x.via, dev: x.dev, direct: x.direct, subnet: x.subnet, src, q: { dst, from: src.from, iif: src.iif } };
  }));
  return { pairs, qs };
}

const remoteSubnets: CheckDef = {
  id: 'routes/remote-subnets',
  title: "every remote pod subnet goes via the VTEP (the kernel's own routing decision, all tables and rules); the VTEP routes in the layout's form",
  // after these, only comparisons — and, for a wrong answer, cause()'s reads of route tables (cached clones left out)
  // and sysctls, which no traffic changes
  reads: observe,
  async run(ctx) {
    const st = await observe(ctx);
    const diffs: string[] = [];
    const big = ctx.t.nodes.length > ROUTE_GET_ALL_NODES;
    const expected: Record<string, unknown> = {};
    const observed: Record<string, unknown> = {};
    let asked = 0;
    let expiring = false;
    const inPodCidr = podCidrTest(ctx.t);
    await pool(ctx.t.nodes, READ_PARALLEL, async (n) => {
      const s = st.get(n.name)!;
      const dev = n.vtep.dev;
      const { pairs, qs } = s.plan;
      const want = new Map(pairs.map((x) => [x.subnet, x]));
      const peer = new Map(pairs.map((x) => [x.subnet, x.r.name]));
      const own = new Set(n.podSubnets ?? [n.podSubnet]);
      const have = s.routes.filter((r) => r.dev === dev && !kernelOwn(n, r));
      // every route of the main table by destination (the wanted form may be on the VTEP or on eth0)
      const byDst = new Map<string, k.RouteInfo[]>();
      for (const r of s.routes) if (r.type !== 'blackhole') (byDst.get(r.dst) ?? byDst.set(r.dst, []).get(r.dst)!).push(r);
      const nd: string[] = [];
      const form = (x: (typeof pairs)[number]) => `${x.subnet} via ${x.via} dev ${x.dev}${x.direct ? '' : ' onlink'}${ctx.t.layout === 'calico' ? ` proto ${FELIX_PROTO}` : ''}`;
      const calico = ctx.t.layout === 'calico' && ctx.t.builder === 'vxlab';
      // 1. the routes in the main table, each in its form: VXLAN (via the peer's VTEP address, onlink) or direct
      for (const x of want.values()) {
        const { subnet } = x;
        const all = byDst.get(subnet) ?? [];
        const r = all.find((y) => y.dev === x.dev);
        const why = modeWhy(ctx.t, n, x.r);
        if (!r) {
          const other = all[0];
          if (other) nd.push(`${n.name}: route ${subnet} for ${x.r.name}: expected ${x.direct ? 'the direct route' : 'the VXLAN route'} ${form(x)}${why}, observed ${other.dst} via ${other.gateway ?? '-'} dev ${other.dev}${other.flags.includes('onlink') ? ' onlink' : ''} (${other.dev === dev ? 'VXLAN' : other.dev === n.underlayIf ? 'direct' : 'another device'})`);
          else nd.push(`${n.name}: missing route ${form(x)} for ${x.r.name}${why}`);
          continue;
        }
        if (r.gateway !== x.via) nd.push(`${n.name}: route ${subnet} for ${peer.get(subnet)}: expected via ${x.via}${x.direct ? ` (${x.r.name}'s node IP)` : ''}, observed via ${r.gateway ?? 'none'}`);
        if (!x.direct && !r.flags.includes('onlink')) nd.push(`${n.name}: route ${subnet} for ${peer.get(subnet)}: expected onlink flag, observed flags [${r.flags.join(',')}]`);
        // calico: felix writes its routes with its protocol; the VXLAN ones with the VXLAN MTU, the no-encap ones without
        if (calico) {
          if (r.protocol !== String(FELIX_PROTO)) nd.push(`${n.name}: route ${subnet} for ${peer.get(subnet)}: expected proto ${FELIX_PROTO} (felix), observed proto ${r.protocol ?? 'boot'}`);
          const mtu = r.metrics?.find((m) => m.mtu !== undefined)?.mtu;
          if (!x.direct && mtu !== n.vtep.mtu) nd.push(`${n.name}: route ${subnet} for ${peer.get(subnet)}: expected mtu ${n.vtep.mtu} (the VXLAN MTU, as felix writes it), observed ${mtu ?? 'none'}`);
          if (x.direct && mtu !== undefined) nd.push(`${n.name}: route ${subnet} for ${peer.get(subnet)}: expected no mtu (felix's no-encap route has none), observed mtu ${mtu}`);
        }
      }
      // calico: a blackhole (proto 80) for the node's own block, so an address of it without a pod is dropped here
      if (ctx.t.layout === 'calico' && ctx.t.builder === 'vxlab') {
        for (const ps of n.podSubnets ?? [n.podSubnet]) {
          const bh = s.routes.find((r) => r.dst === ps && r.type === 'blackhole');
          if (!bh) nd.push(`${n.name}: missing blackhole ${ps} proto ${FELIX_PROTO} for its own block (felix's)`);
          else if (bh.protocol !== String(FELIX_PROTO)) nd.push(`${n.name}: blackhole ${ps}: expected proto ${FELIX_PROTO}, observed proto ${bh.protocol ?? 'boot'}`);
        }
      }
      for (const r of have) {
        if (own.has(r.dst)) nd.push(`${n.name}: route to its own subnet ${r.dst} via ${dev} must not exist`);
        else if (!want.has(r.dst)) nd.push(`${n.name}: extra route ${r.dst} via ${r.gateway ?? '-'} dev ${dev}${departedNote(ctx.t, ` ${r.dst} `)}`);
      }
      // a departed peer's direct route stays on eth0: pod-CIDR routes there must be wanted ones
      for (const r of s.routes) {
        if (r.dev !== n.underlayIf || r.type === 'blackhole' || !inPodCidr(r.dst) || want.get(r.dst)?.direct) continue;
        if (!want.has(r.dst)) nd.push(`${n.name}: extra route ${r.dst} via ${r.gateway ?? '-'} dev ${r.dev}${departedNote(ctx.t, ` ${r.dst} `)}`);
      }
      // 2. what the kernel will actually do with pod traffic to each remote subnet (more specific routes, blackholes,
      //    policy rules and other tables included): ip route get <remote pod ip> from <local pod ip> iif <bridge/veth>,
      //    asked in the node's snapshot
      const answers = s.answers;
      asked += answers.length;
      // wrong answers grouped per remote subnet and answer: one line names the node, the peer, the addresses and the cause
      const wrong = new Map<string, { x: (typeof qs)[number]; a: k.RouteAnswer; dsts: string[] }>();
      for (const [i, a] of answers.entries()) {
        const x = qs[i]!;
        const ok = !a.error && a.route?.dev === x.dev && a.route?.gateway === x.via && (!a.route.type || a.route.type === 'unicast');
        if (ok) continue;
        const key = `${x.r.name}|${x.subnet}|${k.describeAnswer(a)}`;
        (wrong.get(key) ?? wrong.set(key, { x, a, dsts: [] }).get(key)!).dsts.push(a.q.dst);
      }
      for (const { x, a, dsts } of wrong.values()) {
        nd.push(`${n.name}: traffic to ${x.r.name}'s subnet ${x.subnet} (${dsts.join(', ')}) ${x.src.label}: expected via ${x.via} dev ${x.dev}${x.direct ? ' (direct)' : ''}, observed ${k.describeAnswer(a)}${await cause(n, a)}`);
      }
      // a big topology keeps the per-node expected/observed lists of the nodes that differ (a million lines otherwise)
      if (!big || nd.length) {
        expected[n.name] = [...want.values()].map(form);
        const shown = s.routes.filter((r) => (r.dev === dev && !kernelOwn(n, r)) || (r.dev === n.underlayIf && r.type !== 'blackhole' && inPodCidr(r.dst)));
        observed[n.name] = { routes: shown.map((r) => `${r.dst} via ${r.gateway ?? '-'} dev ${r.dev}${r.flags.includes('onlink') ? ' onlink' : ''}`), routeGet: answers.map((a) => `${a.q.dst}: ${k.describeAnswer(a)}`) };
      }
      diffs.push(...nd);
      // a route the kernel can drop by itself (learned from a router advertisement or a redirect: they expire) may
      // heal a difference without a control plane's write
      if (nd.length && s.routes.some((r) => r.protocol === 'ra' || r.protocol === 'redirect')) expiring = true;
    });
    const out = fromDiffs(diffs.sort(), `all remote pod subnets routed via the VTEP, nothing extra (${asked} kernel routing decisions asked${big ? `: one address per remote subnet above ${ROUTE_GET_ALL_NODES} nodes` : ''})`, big ? bigExtra(ctx.t, expected, observed) : { expected, observed });
    return out.status === 'fail' && !expiring ? { ...out, settled: SETTLED_ROUTES } : out;
  },
};

/**
 * Why a failing routes/remote-subnets cannot change without a control plane's write (CheckResult.settled): routes,
 * policy rules, forwarding sysctls and device state — all the kernel's routing answers depend on — are written, never
 * aged out (a route that expires, from a router advertisement or a redirect, makes the failure unsettled).
 */
export const SETTLED_ROUTES = 'every difference is in the routes, rules or forwarding settings, which the kernel neither creates, changes nor expires by itself (no route learned from a router advertisement or redirect)';

/** What a per-node table (neighbours, FDB) looks like to the comparison: entries keyed by one field, pointing at another. */
interface TableSpec<E> {
  /** 'neighbour', 'FDB entry' */
  noun: string;
  /** how the pointed-at value is written: 'lladdr', 'dst' */
  field: string;
  key(e: E): string;
  value(e: E): string | undefined;
  /** every other attribute the kernel reports for the entry (state, flags, port, vni, via, …), as words */
  attrs(e: E): Record<string, string>;
  show(e: E): string;
  /** entries that may exist beyond the wanted set (e.g. learned ones when learning is on) */
  tolerated?(e: E): boolean;
  /** what the kernel does instead when the entry for `key` is missing, if vxlab can tell */
  missingCause?(have: E[]): string;
  /** where the peer's VTEP MAC is: the key (FDB) or the value (neighbours); a wrong one there is a stale VTEP MAC */
  macIn: 'key' | 'value';
  /** the entry is permanent (only a control plane writes or removes it); undefined: the table's entries may change by themselves */
  permanent?(e: E): boolean;
}

interface Wanted {
  peer: string;
  value: string;
  attrs: Record<string, string>;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const staleMac = (peer: string, mac: string) => `${peer} announces VTEP MAC ${mac}, which this node does not use (stale VTEP MAC: ${peer}'s MAC changed and this node kept the old one)`;

/**
 * Missing, stale, extra entries and every attribute that differs, one line each, naming node, peer and value.
 * `healable`: set when a diff could vanish without a write — an extra entry that is not permanent (it ages out), or a
 * table whose entries the spec cannot call permanent. Every wanted entry is permanent, so a wanted entry that is
 * missing, or present with another value or attribute, stays a diff until a control plane writes it.
 */
export function compareTable<E>(node: string, want: Map<string, Wanted>, have: E[], spec: TableSpec<E>, out?: { healable?: boolean }): string[] {
  const diffs: string[] = [];
  if (out && !spec.permanent) out.healable = true;
  const explained = new Set<E>();
  // indexed once: a node of a 1,000-node topology has ~1,000 entries to match against ~1,000 wanted ones
  const byKey = new Map<string, E>();
  for (const x of have) if (!byKey.has(spec.key(x))) byKey.set(spec.key(x), x);
  let byValue: Map<string | undefined, E> | undefined;
  for (const [key, w] of want) {
    const e = byKey.get(key);
    if (!e) {
      // the peer's entry under an old key (an FDB entry for the peer's underlay IP with another MAC): a stale MAC
      if (spec.macIn === 'key' && !byValue) {
        byValue = new Map();
        for (const x of have) if (!want.has(spec.key(x)) && !byValue.has(spec.value(x))) byValue.set(spec.value(x), x);
      }
      const old = spec.macIn === 'key' && MAC_RE.test(key) ? byValue!.get(w.value) : undefined;
      if (old) {
        explained.add(old);
        diffs.push(`${node}: stale ${spec.noun} for ${w.peer}: ${spec.show(old)}, expected ${key} ${spec.field} ${w.value}: ${staleMac(w.peer, key)}`);
      } else diffs.push(`${node}: missing ${spec.noun} ${key} ${spec.field} ${w.value} (${w.peer})${spec.missingCause ? `: ${spec.missingCause(have)}` : ''}`);
    } else if (spec.value(e) === undefined && spec.macIn === 'value') {
      // an entry without a value (a neighbour INCOMPLETE or FAILED, no lladdr) is the kernel's own, made when traffic
      // asked for the address: the wanted entry is missing, whatever the state of that one (not a stale VTEP MAC)
      diffs.push(`${node}: missing ${spec.noun} ${key} ${spec.field} ${w.value} (${w.peer}): only the kernel's unresolved entry is there (${spec.show(e).trim()}), made when traffic asked for the address`);
    } else {
      if (spec.value(e) !== w.value) {
        const why = spec.macIn === 'value' && MAC_RE.test(w.value) ? ` — ${staleMac(w.peer, w.value)}` : '';
        diffs.push(`${node}: stale ${spec.noun} ${key}: expected ${spec.field} ${w.value} (${w.peer}), observed ${spec.value(e) ?? 'none'}${why}`);
      }
      const a = spec.attrs(e);
      // the common case first, without a set per entry (a million entries at 1,000 nodes): the same keys, equal values
      let same = true;
      let keys = 0;
      for (const attr in a) {
        keys++;
        if (a[attr] !== w.attrs[attr]) {
          same = false;
          break;
        }
      }
      if (same) for (const _ in w.attrs) keys--;
      if (same && keys === 0) continue;
      for (const attr of new Set([...Object.keys(w.attrs), ...Object.keys(a)])) {
        if (a[attr] !== w.attrs[attr]) diffs.push(`${node}: ${spec.noun} ${key} (${w.peer}): ${attr}: expected ${w.attrs[attr] ?? 'absent'}, observed ${a[attr] ?? 'absent'}`);
      }
    }
  }
  for (const e of have)
    if (!want.has(spec.key(e)) && !explained.has(e) && !spec.tolerated?.(e)) {
      diffs.push(`${node}: extra ${spec.noun} ${spec.show(e)}`);
      if (out && !spec.permanent?.(e)) out.healable = true;
    }
  return diffs;
}

function tableCheck<E>(
  id: string,
  title: string,
  okText: string | ((t: ResolvedTopology) => string),
  entries: (st: NodeState, n: ResolvedNode) => E[],
  want: (t: ResolvedTopology, n: ResolvedNode) => Map<string, Wanted>,
  spec: (n: ResolvedNode) => TableSpec<E>,
  /** why this node's table could not be read, if it could not: the node fails with that, no entry is judged */
  unread?: (st: NodeState) => string | undefined,
): CheckDef {
  return perNodeCheck(id, title, (t) => (typeof okText === 'string' ? okText : okText(t)), (n, st, t) => {
    const w = want(t, n);
    const sp = spec(n);
    const expected = () => [...w].map(([key, v]) => `${key} ${sp.field} ${v.value} ${Object.values(v.attrs).join(' ')}`.trim());
    const why = unread?.(st);
    if (why !== undefined) {
      const d = `${n.name}: the ${sp.noun.replace(/ entry$/, '')} could not be read (${why}), so no entry of it is judged`;
      return { expected, observed: () => [`unread: ${why}`], diffs: [d], settled: false };
    }
    const have = entries(st, n);
    const h: { healable?: boolean } = {};
    return {
      expected,
      observed: () => have.map(sp.show),
      diffs: compareTable(n.name, w, have, sp, h).map((d) => (d.includes(': extra ') ? d + departedNote(t, d) : d)),
      settled: !h.healable,
    };
  });
}

/** every pod family: the peer's VTEP address of that family → the peer's VTEP MAC */
function neighbourWant(t: ResolvedTopology, n: ResolvedNode): Map<string, Wanted> {
  return new Map(vxlanPeers(t, n).flatMap((r) => (n.vteps ?? [n.vtep]).flatMap((v) => {
    const pv = r.vteps ? peerVtep(r, v) : { vtep: r.vtep };
    return pv ? [[pv.vtep.ip, { peer: r.name, value: pv.vtep.mac, attrs: { state: 'PERMANENT' } }] as const] : [];
  })));
}

const neighboursCheck = tableCheck<k.NeighInfo>(
  'routes/neighbours',
  'one permanent neighbour per remote node and pod family: remote VTEP address → remote VTEP MAC',
  (t) => `neighbour entries complete and permanent${t.nodes.length > NEIGH_DUMP_NODES ? ` (above ${NEIGH_DUMP_NODES} nodes each expected entry is looked up, not dumped: entries for addresses that are no peer's are not listed)` : ''}`,
  (st, n) => st.neigh.filter((x) => x.dev === n.vtep.dev),
  (t, n) => neighbourWant(t, n),
  () => ({
    noun: 'neighbour',
    field: 'lladdr',
    macIn: 'value',
    key: (e) => e.dst,
    value: (e) => e.lladdr,
    attrs: (e) => ({ state: e.state.join(',') || 'none' }),
    show: (e) => `${e.dst} lladdr ${e.lladdr ?? '-'} ${e.state.join(',')}`,
    permanent: (e) => e.state.includes('PERMANENT'),
  }),
);

/** The attributes `bridge -j fdb` reports besides MAC, device and dst: port, vni, via, src_vni, nhid, flags, state… */
function fdbAttrs(e: k.FdbInfo): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(e)) {
    if (['mac', 'ifname', 'dst', 'ageSec', 'used', 'updated'].includes(key) || v === undefined) continue;
    if (key === 'flags') out.flags = [...(v as string[])].sort().join(',') || 'none';
    // bridge -j reports a dynamic (not permanent, not static) entry as state ""
    else if (key === 'state') out.state = (v as string) || 'dynamic';
    else out[key] = String(v);
  }
  if (!('state' in out)) out.state = 'dynamic';
  return out;
}

const fdbCheck = tableCheck<k.FdbInfo>(
  'routes/fdb',
  'one permanent FDB entry per remote node: remote VTEP MAC → remote node underlay IP, and no per-entry port, VNI or via',
  'FDB entries complete and permanent, no per-entry overrides',
  // the kernel lists the device's own address and multicast entries too; only entries with a dst are tunnel entries
  (st) => st.fdb.filter((f) => f.dst !== undefined),
  (t, n) => new Map(vxlanPeers(t, n).map((r) => [r.vtep.mac, { peer: r.name, value: r.ip, attrs: { flags: 'self', state: 'permanent' } }])),
  (n) => ({
    noun: 'FDB entry',
    field: 'dst',
    macIn: 'key',
    key: (e) => e.mac,
    value: (e) => e.dst,
    // the userspace VTEP's own FDB has no per-entry port/VNI/via: only its state is an attribute
    // (a netlink NUD_REACHABLE entry shows an empty state: a dynamic entry, aged out by the device)
    attrs: (e) => (n.vtep.kind === 'kernel' ? fdbAttrs(e) : { flags: 'self', state: e.state || 'dynamic' }),
    show: (e) => `${e.mac} dst ${e.dst} ${Object.entries(n.vtep.kind === 'kernel' ? fdbAttrs(e) : { state: e.state || 'dynamic' }).map(([a, v]) => `${a} ${v}`).join(' ')}`.trim(),
    tolerated: (e) => n.vtep.learning && e.state !== 'permanent',
    // a kernel VTEP's permanent entries change only by netlink writes; the userspace VTEP's table is its own process's
    permanent: n.vtep.kind !== 'kernel' ? undefined : (e) => e.state === 'permanent',
    // the kernel's answer (a userspace VTEP floods unknown unicast by head-end replication instead)
    missingCause: n.vtep.kind !== 'kernel' ? undefined : (have) => {
      const dflt = have.find((e) => e.mac === '00:00:00:00:00:00');
      return dflt ? `frames to it go to the default entry's dst ${dflt.dst} instead` : 'frames to it are dropped (no default entry)';
    },
  }),
  (st) => st.fdbError,
);

interface PodState {
  /** the pod's own interface (ip -j addr show dev eth0), undefined if missing */
  link?: { ifname: string; mtu: number; flags: string[]; operstate: string; addr_info?: { family: string; local: string; prefixlen: number }[] };
  defaults: { gateway?: string; dev?: string }[];
  /** IPv6 default routes (dual-stack and IPv6 pods) */
  defaults6: { gateway?: string; dev?: string }[];
}

/** Every address a pod should have, one per family; the first family's is p.ip (CNI attach may have replaced it). */
function podAddrs(p: ResolvedPod): { family: Family; ip: string; prefixLen: number; gateway: string }[] {
  const first = { family: (p.addrs?.[0]?.family ?? (p.ip.includes(':') ? 6 : 4)) as Family, ip: p.ip, prefixLen: p.prefixLen, gateway: p.gateway };
  return [first, ...(p.addrs ?? []).slice(1)];
}

/** Every pod's interface and default routes, read in-process (or one `ip -batch` process per pod), once per run (routes and mtu share it). */
export function observePods(ctx: CheckContext): Promise<Map<string, PodState>> {
  return runMemo(ctx.t, 'routes/pods', async () => {
    const m = new Map<string, PodState>();
    await pool(allPods(ctx.t), READ_PARALLEL, async (p) => {
      const { addrs, routes } = await k.addrsAndRoutes(p.ns).catch(() => ({ addrs: [] as any[], routes: [] as any[] }));
      const defaults = routes.filter((x) => x.dst === 'default' && (x.table ?? 'main') === 'main');
      const v6 = (x: { gateway?: string }) => Boolean(x.gateway?.includes(':'));
      m.set(`${p.node}/${p.name}`, { link: addrs.find((l) => l.ifname === p.ifname), defaults: defaults.filter((x) => !v6(x)), defaults6: defaults.filter(v6) });
    });
    return m;
  });
}

/**
 * Sysctls a pod's host side needs in the layout (calico: what the CNI plugin and felix set on cali*: proxy ARP
 * answers the pod's 169.254.1.1 gateway, route_localnet, forwarding, strict rp_filter, no router advertisements).
 */
function podSysctls(t: ResolvedTopology, p: ResolvedPod): Record<string, string> {
  if (t.layout !== 'calico' || t.cni || !podAddrs(p).some((a) => a.family === 4)) return {};
  return calicoVethSysctls(p.hostIf);
}

const isUp = (l: { flags: string[]; operstate: string }) => l.flags.includes('UP') && l.operstate === 'UP';

/**
 * How long a link that is admin up with carrier (LOWER_UP) but not yet operstate UP is read again before it is reported.
 * The kernel sets operstate from the carrier later, in its linkwatch work (a workqueue item): right after `up`, on a
 * loaded machine, a pod's veth has read "UP,LOWER_UP … state DOWN" (seen in a full `npm test` with 5 workers on 2
 * cores, 2026-11-30). A link that is admin down or has no carrier is reported at once; one that stays in such a state
 * (for example `ip link set dev v-pod1 mode dormant`: operstate DORMANT with carrier) is reported after this window.
 * One window per check run, opened by the first such link: however many links wait, the check waits at most this long.
 */
export const OPERSTATE_SETTLE_MS = 2000;
const operstatePending = (l: { flags: string[]; operstate: string }) => !isUp(l) && l.flags.includes('UP') && l.flags.includes('LOWER_UP');

/** `l` as it reads once linkwatch has caught up (or the window ended): flags and operstate read again every 50 ms. */
async function settledLink<L extends { flags: string[]; operstate: string }>(ns: string, dev: string, l: L, window: { until?: number }): Promise<{ link: L; waitedMs?: number }> {
  if (!operstatePending(l)) return { link: l };
  const t0 = Date.now();
  window.until ??= t0 + OPERSTATE_SETTLE_MS;
  let cur = l;
  // read again at least once (the window may have ended while other links were read), then until it ends
  do {
    if (Date.now() < window.until) await new Promise((r) => setTimeout(r, 50));
    const fresh = await k.link(ns, dev).catch(() => undefined);
    if (!fresh) break;
    cur = { ...cur, flags: fresh.flags, operstate: fresh.operstate };
  } while (operstatePending(cur) && Date.now() < window.until);
  return { link: cur, waitedMs: Date.now() - t0 };
}
const notUp = (l: { flags: string[]; operstate: string }, waitedMs?: number) =>
  `expected up, observed ${l.flags.includes('UP') ? '' : 'admin down, '}operstate ${l.operstate}${waitedMs !== undefined && !isUp(l) ? ` (admin up with carrier; still so at the end of the ${OPERSTATE_SETTLE_MS / 1000} s settle window)` : ''}`;

const podRoutes: CheckDef = {
  id: 'routes/pod-attachment',
  title: "pods attached on the node: both veth ends up; flannel: cni0 MTU, bridge port with hairpin; calico: /32 route, host veth MAC ee:ee:ee:ee:ee:ee and the cali* sysctls; the pod's address and default route",
  reads: (ctx) => Promise.all([observe(ctx), observePods(ctx), observeSysctls(ctx)]),
  async run(ctx) {
    const st = await observe(ctx);
    const pods = await observePods(ctx);
    const sysAll = await observeSysctls(ctx);
    const diffs: string[] = [];
    const observed: Record<string, unknown> = {};
    const settle: { until?: number } = {}; // the one OPERSTATE_SETTLE_MS window of this run
    await pool(ctx.t.nodes, READ_PARALLEL, async (n) => {
      const s = st.get(n.name)!;
      const sys = sysAll.get(n.name)!;
      // flannel: cni0 as the bridge plugin creates it, with the MTU flannel hands it (the pods')
      if (n.bridge && !ctx.t.cni) {
        const br = s.links.find((x) => x.ifname === n.bridge!.name);
        const mtu = n.pods[0]?.mtu ?? n.vtep.mtu;
        if (!br) diffs.push(`${n.name}: bridge ${n.bridge.name} missing`);
        else if (br.mtu !== mtu) diffs.push(`${n.name}: bridge ${n.bridge.name} MTU: expected ${mtu} (the MTU flannel gives the bridge plugin), observed ${br.mtu}`);
      }
      for (const p of n.pods) {
        const who = `${n.name}: pod ${p.name}`;
        const ps = pods.get(`${p.node}/${p.name}`)!;
        const hostRead = s.links.find((x) => x.ifname === p.hostIf);
        const host = hostRead ? await settledLink(n.ns, p.hostIf, hostRead, settle) : undefined;
        const l = host?.link;
        const podRead = ps.link ? await settledLink(p.ns, p.ifname, ps.link, settle) : undefined;
        const podLink = podRead?.link;
        const want = podAddrs(p);
        const inet = (f: Family) => ps.link?.addr_info?.filter((a) => a.family === (f === 6 ? 'inet6' : 'inet') && !a.local.startsWith('fe80:')) ?? [];
        const v4 = inet(4);
        observed[`${p.node}/${p.name}`] = {
          hostIf: l ? `${p.hostIf} ${l.operstate}${l.master ? ` master ${l.master}` : ''}` : null,
          podIf: podLink ? `${p.ifname} ${podLink.operstate} ${[...v4, ...inet(6)].map((a) => `${a.local}/${a.prefixlen}`).join(' ')}` : null,
          default: [...ps.defaults, ...ps.defaults6].map((d) => `via ${d.gateway ?? '-'} dev ${d.dev ?? '-'}`),
          // a link read again while its operstate caught up with its carrier (OPERSTATE_SETTLE_MS)
          ...(host?.waitedMs !== undefined ? { hostIfOperstateWaitMs: host.waitedMs } : {}),
          ...(podRead?.waitedMs !== undefined ? { podIfOperstateWaitMs: podRead.waitedMs } : {}),
        };
        if (!l) diffs.push(`${who}: host interface ${p.hostIf} missing`);
        else {
          if (!isUp(l)) diffs.push(`${who}: host interface ${p.hostIf}: ${notUp(l, host!.waitedMs)}`);
          if (n.bridge && l.master !== n.bridge.name) diffs.push(`${n.name}: ${p.hostIf}: expected master ${n.bridge.name}, observed ${l.master ?? 'none'}`);
          // flannel's bridge plugin config: hairpin ports (a pod reaches itself through a service); calico: ee:ee:…
          const hairpin = (l.linkinfo as any)?.info_slave_data?.hairpin;
          if (n.bridge && !ctx.t.cni && hairpin !== true) diffs.push(`${n.name}: ${p.hostIf}: expected hairpin on (bridge plugin hairpinMode), observed ${hairpin === false ? 'off' : 'absent'}`);
          if (!n.bridge && !ctx.t.cni && l.address !== CALICO_HOST_VETH_MAC) diffs.push(`${who}: host veth ${p.hostIf} MAC: expected ${CALICO_HOST_VETH_MAC} (Calico CNI), observed ${l.address}`);
          for (const a of want) {
            if (!n.bridge && !s.routes.some((r) => (r.dst === a.ip || r.dst === `${a.ip}/128`) && r.dev === p.hostIf)) diffs.push(`${n.name}: missing route ${a.ip} dev ${p.hostIf} (pod ${p.name}, IPv${a.family})`);
          }
        }
        if (!ps.link) diffs.push(`${who}: ${p.ifname} missing in ${p.ns}`);
        else {
          if (!isUp(podLink!)) diffs.push(`${who}: ${p.ifname}: ${notUp(podLink!, podRead!.waitedMs)}`);
          for (const a of want) {
            const got = inet(a.family);
            const fam = want.length > 1 || a.family === 6 ? ` (IPv${a.family})` : '';
            if (!got.some((x) => x.local === a.ip && x.prefixlen === a.prefixLen)) diffs.push(`${who}: ${p.ifname} address${fam}: expected ${a.ip}/${a.prefixLen}, observed ${got.map((x) => `${x.local}/${x.prefixlen}`).join(', ') || 'none'}`);
          }
        }
        for (const a of want) {
          const d = (a.family === 6 ? ps.defaults6 : ps.defaults)[0];
          const fam = want.length > 1 || a.family === 6 ? ` (IPv${a.family})` : '';
          if (!d || d.gateway !== a.gateway || d.dev !== p.ifname) diffs.push(`${who}: default route${fam}: expected via ${a.gateway} dev ${p.ifname}, observed ${d ? `via ${d.gateway ?? '-'} dev ${d.dev ?? '-'}` : 'none'}`);
        }
        for (const [key, v] of Object.entries(podSysctls(ctx.t, p))) if (sys[key] !== v) diffs.push(`${who}: ${key}: expected ${v}, observed ${sys[key] ?? 'absent'}`);
      }
    });
    const n = allPods(ctx.t).length;
    return fromDiffs(diffs.sort(), `${n} pods attached: links up, addresses and default routes in place${ctx.t.layout === 'calico' && !ctx.t.cni ? ', proxy ARP on' : ''}`, { observed });
  },
};

/** Node sysctls the layout needs: forwarding (pod traffic is routed between the VTEP and the pods); flannel: accept_ra=0 on its VXLAN device; the topology's sysctls / hostProfile. */
export function nodeSysctls(t: ResolvedTopology, n?: ResolvedNode): Record<string, string> {
  return { 'net.ipv4.ip_forward': '1', ...((t.families ?? [4]).includes(6) ? { 'net.ipv6.conf.all.forwarding': '1' } : {}), ...(n && t.builder === 'vxlab' ? vtepSysctls(t, n) : {}), ...n?.sysctls };
}

const nodeSysctlCheck: CheckDef = {
  id: 'routes/node-sysctls',
  title: 'node sysctls the layout needs: net.ipv4.ip_forward = 1, and net.ipv6.conf.all.forwarding = 1 with IPv6 pods (pod traffic is routed between the VTEP and the pods); flannel: accept_ra = 0 on its VXLAN device; sysctls: and hostProfile:',
  reads: observeSysctls,
  async run(ctx) {
    const diffs: string[] = [];
    const observed: Record<string, unknown> = {};
    const all = await observeSysctls(ctx);
    await pool(ctx.t.nodes, READ_PARALLEL, async (n) => {
      const want = nodeSysctls(ctx.t, n);
      const got = Object.fromEntries(Object.keys(want).map((key) => [key, all.get(n.name)![key]]));
      observed[n.name] = got;
      for (const [key, v] of Object.entries(want)) if (got[key] !== v) diffs.push(`${n.name}: ${key}: expected ${v}, observed ${got[key] ?? 'absent'}`);
    });
    const want = nodeSysctls(ctx.t);
    return fromDiffs(diffs.sort(), `${ctx.t.nodes.length} nodes: ${Object.entries(want).map(([a, v]) => `${a} = ${v}`).join(', ')}`, { expected: want, observed });
  },
};

export const routesSuite: SuiteDef = {
  name: 'routes',
  title: 'routes, neighbours and FDB',
  checks: [device, remoteSubnets, neighboursCheck, fdbCheck, podRoutes, nodeSysctlCheck],
  // only reads tables and sysctls: runs alongside the other suites; their traffic waits for its reads (each check's
  // `reads`), and its comparisons run alongside that traffic (runner.ts)
  readsOnly: true,
};
