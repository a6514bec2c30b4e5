// Live state for `vxlab graph --run-id`: read every namespace of a running topology with the ip -j / bridge -j
// readers (probe/kernel.ts) and the userspace VTEP's control socket, then mark the graph where it differs from the
// resolved topology. Reading is I/O; marking (markLive) is pure and unit-tested.
import { routesDirect, type ResolvedNode, type ResolvedTopology } from '../topology/resolved.ts';
import { addrs as readAddrs, fdb as readFdb, links as readLinks, neighbours as readNeigh, routes as readRoutes } from '../probe/kernel.ts';
import { nsExists } from '../runtime/netns/runtime.ts';
import { vtepPaths } from '../runtime/vtep-launch.ts';
import { pool } from '../util/exec.ts';
import { findTunnel, type GraphNode, type TopologyGraph } from './model.ts';

export interface LiveVtep {
  /** what the device is: a kernel vxlan device, the userspace VTEP's TAP, or something else */
  kind: 'kernel' | 'userspace' | 'other';
  mac?: string;
  mtu?: number;
  vni?: number;
  port?: number;
  local?: string;
  up: boolean;
}

export interface LiveNode {
  present: boolean;
  eth0?: { mtu: number; up: boolean; addrs: string[] };
  vtep?: LiveVtep;
  fdb: { mac: string; dst?: string }[];
  neigh: { dst: string; lladdr?: string }[];
  routes: { dst: string; gateway?: string; dev: string }[];
  /** a reader failed (e.g. the userspace VTEP did not answer) */
  errors: string[];
}

export interface LivePod {
  present: boolean;
  addrs: string[];
  mtu?: number;
}

export interface LiveSnapshot {
  segments: Record<string, boolean>;
  router?: boolean;
  nodes: Record<string, LiveNode>;
  /** keyed node/pod */
  pods: Record<string, LivePod>;
}

const globalAddrs = (ifc: any): string[] => (ifc?.addr_info ?? []).filter((a: any) => a.scope !== 'link' && a.scope !== 'host').map((a: any) => `${a.local}/${a.prefixlen}`);
const isUp = (l: { operstate?: string; flags?: string[] }) => l.operstate === 'UP' || l.operstate === 'UNKNOWN' ? (l.flags ?? ['UP']).includes('UP') : false;

async function readNode(n: ResolvedNode, families: Array<4 | 6>, workDir?: string): Promise<LiveNode> {
  const out: LiveNode = { present: nsExists(n.ns), fdb: [], neigh: [], routes: [], errors: [] };
  if (!out.present) return out;
  const [links, addrs] = await Promise.all([readLinks(n.ns), readAddrs(n.ns)]);
  const eth = links.find((l) => l.ifname === n.underlayIf);
  if (eth) out.eth0 = { mtu: eth.mtu, up: isUp(eth), addrs: globalAddrs(addrs.find((a: any) => a.ifname === n.underlayIf)) };
  const dev = links.find((l) => l.ifname === n.vtep.dev);
  if (dev) {
    const kind = dev.linkinfo?.info_kind === 'vxlan' ? 'kernel' : dev.linkinfo?.info_kind === 'tun' ? 'userspace' : 'other';
    const d = dev.linkinfo?.info_data ?? {};
    out.vtep = { kind, mac: dev.address, mtu: dev.mtu, up: isUp(dev), ...(kind === 'kernel' ? { vni: d.id, port: d.port, local: d.local } : {}) };
    // every pod family's neighbours and routes (dual-stack pods share the one device); routing modes: the direct
    // routes on the underlay link too
    const devs = new Set(n.vteps?.length ? n.vteps.map((x) => x.dev) : [n.vtep.dev]);
    for (const fam of families) {
      for (const d of devs) out.neigh.push(...(await readNeigh(n.ns, d, fam)).map((x) => ({ dst: x.dst, lladdr: x.lladdr })));
      out.routes.push(...(await readRoutes(n.ns, fam)).filter((r) => devs.has(r.dev) || (n.directRouting && r.dev === n.underlayIf && !!r.gateway)).map((r) => ({ dst: r.dst, gateway: r.gateway, dev: r.dev })));
    }
    if (kind === 'kernel') out.fdb = (await readFdb(n.ns, n.vtep.dev)).filter((f) => f.dst).map((f) => ({ mac: f.mac, dst: f.dst }));
    else if (kind === 'userspace' && workDir) {
      try {
        const { readVtepStats } = await import('../vtep/stats.ts');
        const s = await readVtepStats(vtepPaths(workDir, n.name).control);
        Object.assign(out.vtep, { vni: s.vni, port: s.port, local: s.local });
        out.fdb = s.fdb.filter((e: any) => e.dst).map((e: any) => ({ mac: e.mac, dst: e.dst }));
      } catch (e: any) {
        out.errors.push(`userspace VTEP did not answer: ${e?.message ?? e}`);
      }
    }
  }
  return out;
}

export async function readLive(t: ResolvedTopology, workDir?: string): Promise<LiveSnapshot> {
  const snap: LiveSnapshot = { segments: {}, nodes: {}, pods: {} };
  // docker/kind segments are Docker networks, not namespaces: only netns segments are checked
  for (const s of t.segments) if (s.ns) snap.segments[s.name] = nsExists(s.ns);
  if (t.routerNs) snap.router = nsExists(t.routerNs);
  await pool(t.nodes, 4, async (n) => {
    snap.nodes[n.name] = await readNode(n, t.families?.length ? t.families : [4], workDir);
  });
  const pods = t.nodes.flatMap((n) => n.pods);
  await pool(pods, 8, async (p) => {
    const present = nsExists(p.ns);
    const lp: LivePod = { present, addrs: [] };
    if (present) {
      const ifc = (await readAddrs(p.ns)).find((a: any) => a.ifname === p.ifname);
      lp.addrs = globalAddrs(ifc);
      lp.mtu = ifc?.mtu;
    }
    snap.pods[`${p.node}/${p.name}`] = lp;
  });
  return snap;
}

const lc = (s?: string) => s?.toLowerCase();

/**
 * Mark `g` (built from `t`) with what the live system shows: observed values replace expected ones in the picture,
 * and every difference is recorded where it is (segment, router, node, pod, tunnel) with the expected value.
 */
export function markLive(g: TopologyGraph, t: ResolvedTopology, snap: LiveSnapshot): TopologyGraph {
  g.live = true;
  for (const s of g.segments) if (snap.segments[s.name] === false) s.diffs.push('namespace gone');
  if (g.router && snap.router === false) g.router.diffs.push('namespace gone');
  // a vtep-mac-change fault changes the node's identity: the expected state follows the new MAC (as in the routes suite)
  const expMac = new Map(t.nodes.map((n) => [n.name, n.vtep.mac.toLowerCase()]));
  for (const f of t.faults) if (f.kind === 'vtep-mac-change') expMac.set(f.node, f.mac.toLowerCase());
  const macOwner = new Map([...expMac].map(([name, mac]) => [mac, name]));
  for (const n of t.nodes) {
    const gn = g.nodes.find((x) => x.name === n.name)!;
    const live = snap.nodes[n.name];
    if (!live?.present) {
      gn.diffs.push(`namespace ${n.ns} gone`);
      continue;
    }
    markNode(gn, n, live, expMac.get(n.name)!);
    for (const p of n.pods) {
      const gp = gn.pods.find((x) => x.name === p.name)!;
      const lp = snap.pods[`${n.name}/${p.name}`];
      if (!lp?.present) {
        gp.diffs.push('namespace gone');
        continue;
      }
      gp.ips = lp.addrs.map((a) => a.replace(/\/\d+$/, ''));
      for (const a of p.addrs?.length ? p.addrs : [p]) if (!lp.addrs.includes(`${a.ip}/${a.prefixLen}`)) gp.diffs.push(`eth0: expected ${a.ip}/${a.prefixLen}, observed ${lp.addrs.join(' ') || 'no address'}`);
      if (lp.mtu !== undefined && lp.mtu !== p.mtu) {
        gp.diffs.push(`MTU: expected ${p.mtu}, observed ${lp.mtu}`);
        gp.mtu = lp.mtu;
      }
    }
    // entries for MACs that belong to no node (e.g. a peer's MAC before it changed)
    for (const f of live.fdb) if (!macOwner.has(lc(f.mac)!) && lc(f.mac) !== '00:00:00:00:00:00') gn.diffs.push(`FDB entry ${f.mac} dst ${f.dst} belongs to no node (stale)`);
    for (const x of live.neigh) if (x.lladdr && !macOwner.has(lc(x.lladdr)!)) gn.diffs.push(`neighbour ${x.dst} lladdr ${x.lladdr} belongs to no node (stale)`);
    gn.diffs.push(...live.errors);
  }
  // tunnels: the overlay entries of each direction live on the sending node
  for (const a of t.nodes)
    for (const b of t.nodes) {
      if (a === b) continue;
      const tu = findTunnel(g, a.name, b.name);
      const live = snap.nodes[a.name];
      if (!tu || !live?.present || !live.vtep) continue;
      const mac = expMac.get(b.name)!;
      const dir = `${a.name}→${b.name}`;
      // routing modes: a same-subnet peer is routed via its node IP on eth0; flannel then writes no FDB or ARP entry
      if (routesDirect(a, b)) {
        const rt = live.routes.find((r) => r.dst === b.podSubnet);
        if (!rt) tu.diffs.push(`${dir}: no route ${b.podSubnet}`);
        else if (rt.gateway !== b.ip || rt.dev !== a.underlayIf) tu.diffs.push(`${dir}: route ${b.podSubnet} via ${rt.gateway ?? 'none'} dev ${rt.dev}, expected the direct route via ${b.ip} dev ${a.underlayIf}`);
        if (t.layout === 'flannel') continue;
      }
      const fdb = live.fdb.filter((f) => lc(f.mac) === mac);
      if (!fdb.length) tu.diffs.push(`${dir}: no FDB entry ${mac} dst ${b.ip}`);
      else if (!fdb.some((f) => f.dst === b.ip)) tu.diffs.push(`${dir}: FDB ${mac} dst ${fdb.map((f) => f.dst).join(',')}, expected ${b.ip}`);
      // per pod family: the neighbour for b's tunnel address of that family, the route to b's subnet of that family
      // (routing modes: a same-subnet peer's route is the direct one, checked above)
      const vteps = b.vteps?.length ? b.vteps : [b.vtep];
      for (const v of vteps) {
        const subnet = b.podSubnets?.find((x) => (x.includes(':') ? 6 : 4) === v.family) ?? b.podSubnet;
        const nb = live.neigh.find((x) => x.dst === v.ip);
        if (!nb) tu.diffs.push(`${dir}: no neighbour ${v.ip}`);
        else if (lc(nb.lladdr) !== mac) tu.diffs.push(`${dir}: neighbour ${v.ip} lladdr ${nb.lladdr ?? 'none'}, expected ${mac}`);
        if (routesDirect(a, b)) continue;
        const rt = live.routes.find((r) => r.dst === subnet);
        if (!rt) tu.diffs.push(`${dir}: no route ${subnet}`);
        else if (rt.gateway !== v.ip) tu.diffs.push(`${dir}: route ${subnet} via ${rt.gateway ?? 'none'}, expected via ${v.ip}`);
      }
    }
  return g;
}

function markNode(gn: GraphNode, n: ResolvedNode, live: LiveNode, mac: string): void {
  const e = live.eth0;
  if (!e) gn.diffs.push(`${n.underlayIf} missing`);
  else {
    if (!e.addrs.includes(`${n.ip}/${n.prefixLen}`)) gn.diffs.push(`${n.underlayIf}: expected ${n.ip}/${n.prefixLen}, observed ${e.addrs.join(' ') || 'no address'}`);
    if (e.mtu !== n.underlayMtu) {
      gn.diffs.push(`${n.underlayIf} MTU: expected ${n.underlayMtu}, observed ${e.mtu}`);
      gn.underlayMtu = e.mtu;
    }
    if (!e.up) gn.diffs.push(`${n.underlayIf} is down`);
  }
  const v = live.vtep;
  if (!v) {
    gn.diffs.push(`${n.vtep.dev} missing`);
    return;
  }
  const want = { kind: n.vtep.kind, mac, mtu: n.vtep.mtu, vni: n.vtep.vni, port: n.vtep.port, local: n.ip };
  if (v.kind !== want.kind) gn.diffs.push(`${n.vtep.dev}: expected a ${want.kind} VTEP, observed ${v.kind === 'other' ? 'another device kind' : v.kind}`);
  const cmp: [keyof typeof want, unknown][] = [
    ['mac', lc(v.mac)],
    ['mtu', v.mtu],
    ['vni', v.vni],
    ['port', v.port],
    ['local', v.local],
  ];
  for (const [k, obs] of cmp) {
    if (obs === undefined || obs === want[k]) continue;
    gn.diffs.push(`${n.vtep.dev} ${k}: expected ${want[k]}, observed ${obs}`);
    if (k === 'mac' || k === 'mtu' || k === 'vni' || k === 'port') (gn.vtep as any)[k] = obs;
  }
  if (!v.up) gn.diffs.push(`${n.vtep.dev} is down`);
}
