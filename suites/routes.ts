// Suite: routes — the kernel's VXLAN state on every node against what the resolved topology implies.
import { fromDiffs, type CheckContext, type CheckDef, type SuiteDef } from '../harness/runner/check.ts';
import type { ResolvedNode, ResolvedTopology } from '../harness/topology/resolved.ts';
import * as k from '../harness/probe/kernel.ts';
import { readVtepFdb } from '../harness/probe/vtep.ts';
import { pool } from '../harness/util/exec.ts';

interface NodeState {
  links: k.LinkInfo[];
  routes: k.RouteInfo[];
  neigh: k.NeighInfo[];
  fdb: k.FdbInfo[];
}

async function observe(ctx: CheckContext): Promise<Map<string, NodeState>> {
  return ctx.memo('routes/state', async () => {
    const m = new Map<string, NodeState>();
    await pool(ctx.t.nodes, 8, async (n) => {
      const links = await k.links(n.ns);
      const dev = links.find((l) => l.ifname === n.vtep.dev);
      const [routes, neigh, fdb] = await Promise.all([
        k.routes(n.ns),
        dev ? k.neighbours(n.ns, n.vtep.dev) : Promise.resolve([]),
        !dev ? Promise.resolve([]) : n.vtep.kind === 'kernel' ? k.fdb(n.ns, n.vtep.dev) : readVtepFdb(ctx, n),
      ]);
      m.set(n.name, { links, routes, neigh, fdb });
    });
    return m;
  });
}

const remotes = (t: ResolvedTopology, n: ResolvedNode) => t.nodes.filter((o) => o !== n);

/** One node's side of a check: what the topology implies, what the kernel shows, and every difference. */
interface NodeComparison {
  expected: unknown;
  observed: unknown;
  diffs: string[];
}

/** A check that compares every node's live state with the resolved topology, node by node. */
function perNodeCheck(id: string, title: string, okText: (t: ResolvedTopology) => string, compare: (n: ResolvedNode, st: NodeState, t: ResolvedTopology) => NodeComparison): CheckDef {
  return {
    id,
    title,
    async run(ctx) {
      const st = await observe(ctx);
      const diffs: string[] = [];
      const expected: Record<string, unknown> = {};
      const observed: Record<string, unknown> = {};
      for (const n of ctx.t.nodes) {
        const c = compare(n, st.get(n.name)!, ctx.t);
        expected[n.name] = c.expected;
        observed[n.name] = c.observed;
        diffs.push(...c.diffs);
      }
      return fromDiffs(diffs, okText(ctx.t), { expected, observed });
    },
  };
}

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
    if (n.vtep.kind === 'kernel') Object.assign(obs, { id: d.id, port: d.port, local: d.local, learning: d.learning, link: d.link });
    const diffs = Object.keys(exp)
      .filter((key) => obs[key] !== exp[key])
      .map((key) => `${n.name}: ${n.vtep.dev} ${key}: expected ${JSON.stringify(exp[key])}, observed ${JSON.stringify(obs[key])}`);
    // builder: external — the announced identity must follow the layout's rules too (e.g. flannel's .0/32 address)
    const id = n.vtep.observed;
    if (id) diffs.push(...id.problems);
    return { expected, observed: { dev: n.vtep.dev, ...obs, ...(id ? { addresses: id.addresses } : {}) }, diffs };
  },
);

const remoteSubnets = perNodeCheck(
  'routes/remote-subnets',
  "one route per remote pod subnet, in the layout's form; none to the own subnet via the VTEP",
  () => 'all remote pod subnets routed via the VTEP, nothing extra',
  (n, st, t) => {
    const dev = n.vtep.dev;
    const want = new Map(remotes(t, n).map((r) => [r.podSubnet, r.vtep.ip]));
    const peer = new Map(remotes(t, n).map((r) => [r.podSubnet, r.name]));
    const have = st.routes.filter((r) => r.dev === dev);
    const diffs: string[] = [];
    for (const [subnet, via] of want) {
      const r = have.find((x) => x.dst === subnet);
      if (!r) diffs.push(`${n.name}: missing route ${subnet} via ${via} dev ${dev} onlink for ${peer.get(subnet)}`);
      else {
        if (r.gateway !== via) diffs.push(`${n.name}: route ${subnet} for ${peer.get(subnet)}: expected via ${via}, observed via ${r.gateway ?? 'none'}`);
        if (!r.flags.includes('onlink')) diffs.push(`${n.name}: route ${subnet} for ${peer.get(subnet)}: expected onlink flag, observed flags [${r.flags.join(',')}]`);
      }
    }
    for (const r of have) {
      if (r.dst === n.podSubnet) diffs.push(`${n.name}: route to its own subnet ${n.podSubnet} via ${dev} must not exist`);
      else if (!want.has(r.dst)) diffs.push(`${n.name}: extra route ${r.dst} via ${r.gateway ?? '-'} dev ${dev}`);
    }
    return {
      expected: [...want].map(([sub, via]) => `${sub} via ${via} dev ${dev} onlink`),
      observed: have.map((r) => `${r.dst} via ${r.gateway ?? '-'} dev ${r.dev}${r.flags.includes('onlink') ? ' onlink' : ''}`),
      diffs,
    };
  },
);

/** What a per-node table (neighbours, FDB) looks like to the comparison: entries keyed by one field, pointing at another. */
interface TableSpec<E> {
  /** 'neighbour', 'FDB entry' */
  noun: string;
  /** how the pointed-at value is written: 'lladdr', 'dst' */
  field: string;
  key(e: E): string;
  value(e: E): string | undefined;
  /** the entry's state word if it is not permanent; undefined when permanent (or not checked) */
  notPermanent(e: E): string | undefined;
  show(e: E): string;
  /** entries that may exist beyond the wanted set (e.g. learned ones when learning is on) */
  tolerated?(e: E): boolean;
  /** where the peer's VTEP MAC is: the key (FDB) or the value (neighbours); a wrong one there is a stale VTEP MAC */
  macIn: 'key' | 'value';
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const staleMac = (peer: string, mac: string) => `${peer} announces VTEP MAC ${mac}, which this node does not use (stale VTEP MAC: ${peer}'s MAC changed and this node kept the old one)`;

/** Missing, stale, non-permanent and extra entries of one node's table, one line each, naming the peer. */
function compareTable<E>(node: string, want: Map<string, string>, peers: Map<string, string>, have: E[], spec: TableSpec<E>): string[] {
  const diffs: string[] = [];
  const explained = new Set<E>();
  for (const [key, value] of want) {
    const peer = peers.get(key)!;
    const e = have.find((x) => spec.key(x) === key);
    if (!e) {
      // the peer's entry under an old key (an FDB entry for the peer's underlay IP with another MAC): a stale MAC
      const old = spec.macIn === 'key' && MAC_RE.test(key) ? have.find((x) => !want.has(spec.key(x)) && spec.value(x) === value) : undefined;
      if (old) {
        explained.add(old);
        diffs.push(`${node}: stale ${spec.noun} for ${peer}: ${spec.show(old)}, expected ${key} ${spec.field} ${value}: ${staleMac(peer, key)}`);
      } else diffs.push(`${node}: missing ${spec.noun} ${key} ${spec.field} ${value} for ${peer}`);
    } else {
      if (spec.value(e) !== value) {
        const why = spec.macIn === 'value' && MAC_RE.test(value) ? ` — ${staleMac(peer, value)}` : '';
        diffs.push(`${node}: stale ${spec.noun} ${key}: expected ${spec.field} ${value} (${peer}), observed ${spec.value(e) ?? 'none'}${why}`);
      }
      const np = spec.notPermanent(e);
      if (np !== undefined) diffs.push(`${node}: ${spec.noun} ${key} for ${peer}: expected permanent, observed ${np}`);
    }
  }
  for (const e of have) if (!want.has(spec.key(e)) && !explained.has(e) && !spec.tolerated?.(e)) diffs.push(`${node}: extra ${spec.noun} ${spec.show(e)}`);
  return diffs;
}

function tableCheck<E>(
  id: string,
  title: string,
  okText: string,
  entries: (st: NodeState, n: ResolvedNode) => E[],
  /** the entry a node should hold for one remote node: [key, value] */
  want: (r: ResolvedNode) => [string, string],
  spec: (n: ResolvedNode) => TableSpec<E>,
): CheckDef {
  return perNodeCheck(id, title, () => okText, (n, st, t) => {
    const w = new Map(remotes(t, n).map(want));
    const peers = new Map(remotes(t, n).map((r) => [want(r)[0], r.name]));
    const have = entries(st, n);
    const sp = spec(n);
    return {
      expected: [...w].map(([key, v]) => `${key} ${sp.field} ${v} permanent`),
      observed: have.map(sp.show),
      diffs: compareTable(n.name, w, peers, have, sp),
    };
  });
}

const neighboursCheck = tableCheck<k.NeighInfo>(
  'routes/neighbours',
  'one permanent neighbour per remote node: remote VTEP address → remote VTEP MAC',
  'neighbour entries complete and permanent',
  (st, n) => st.neigh.filter((x) => x.dev === n.vtep.dev),
  (r) => [r.vtep.ip, r.vtep.mac],
  () => ({
    noun: 'neighbour',
    field: 'lladdr',
    macIn: 'value',
    key: (e) => e.dst,
    value: (e) => e.lladdr,
    notPermanent: (e) => (e.state.includes('PERMANENT') ? undefined : e.state.join(',')),
    show: (e) => `${e.dst} lladdr ${e.lladdr ?? '-'} ${e.state.join(',')}`,
  }),
);

const fdbCheck = tableCheck<k.FdbInfo>(
  'routes/fdb',
  'one permanent FDB entry per remote node: remote VTEP MAC → remote node underlay IP',
  'FDB entries complete and permanent',
  // the kernel lists the device's own address and multicast entries too; only entries with a dst are tunnel entries
  (st) => st.fdb.filter((f) => f.dst !== undefined),
  (r) => [r.vtep.mac, r.ip],
  (n) => ({
    noun: 'FDB entry',
    field: 'dst',
    macIn: 'key',
    key: (e) => e.mac,
    value: (e) => e.dst,
    // the userspace VTEP's static entries are permanent by construction
    // (a netlink NUD_REACHABLE entry shows an empty state: a dynamic entry, aged out by the device)
    notPermanent: (e) => (n.vtep.kind !== 'kernel' || e.state === 'permanent' ? undefined : e.state || 'dynamic'),
    show: (e) => `${e.mac} dst ${e.dst} ${e.state ?? ''}`.trim(),
    tolerated: (e) => n.vtep.learning && e.state !== 'permanent',
  }),
);

const podRoutes: CheckDef = {
  id: 'routes/pod-attachment',
  title: 'pod interfaces attached on the node: bridge ports (flannel) or /32 routes (calico)',
  async run(ctx) {
    const st = await observe(ctx);
    const diffs: string[] = [];
    for (const n of ctx.t.nodes) {
      const s = st.get(n.name)!;
      for (const p of n.pods) {
        const l = s.links.find((x) => x.ifname === p.hostIf);
        if (!l) {
          diffs.push(`${n.name}: pod ${p.name}: host interface ${p.hostIf} missing`);
          continue;
        }
        if (n.bridge && l.master !== n.bridge.name) diffs.push(`${n.name}: ${p.hostIf}: expected master ${n.bridge.name}, observed ${l.master ?? 'none'}`);
        if (!n.bridge && !s.routes.some((r) => r.dst === p.ip && r.dev === p.hostIf)) diffs.push(`${n.name}: missing route ${p.ip} dev ${p.hostIf}`);
      }
    }
    return fromDiffs(diffs, 'every pod attached');
  },
};

export const routesSuite: SuiteDef = {
  name: 'routes',
  title: 'routes, neighbours and FDB',
  checks: [device, remoteSubnets, neighboursCheck, fdbCheck, podRoutes],
};
