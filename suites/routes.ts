// Suite: routes — the kernel's VXLAN state on every node against what the resolved topology implies.
import { fail, fromDiffs, pass, type CheckContext, type CheckDef, type SuiteDef } from '../harness/runner/check.ts';
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

const device: CheckDef = {
  id: 'routes/vxlan-device',
  title: 'VTEP device parameters (VNI, dstport, local, learning, MTU, MAC)',
  async run(ctx) {
    const st = await observe(ctx);
    const diffs: string[] = [];
    const expected: Record<string, unknown> = {};
    const observed: Record<string, unknown> = {};
    for (const n of ctx.t.nodes) {
      const l = st.get(n.name)!.links.find((x) => x.ifname === n.vtep.dev);
      const exp: Record<string, unknown> = { mac: n.vtep.mac, mtu: n.vtep.mtu, state: 'up' };
      if (n.vtep.kind === 'kernel') Object.assign(exp, { kind: 'vxlan', id: n.vtep.vni, port: n.vtep.port, local: n.ip, learning: n.vtep.learning, link: n.underlayIf });
      else Object.assign(exp, { kind: 'tun' });
      expected[n.name] = { dev: n.vtep.dev, ...exp };
      if (!l) {
        diffs.push(`${n.name}: ${n.vtep.dev} missing`);
        observed[n.name] = null;
        continue;
      }
      const d = l.linkinfo?.info_data ?? {};
      const obs: Record<string, unknown> = { mac: l.address, mtu: l.mtu, state: l.flags.includes('UP') ? 'up' : 'down', kind: l.linkinfo?.info_kind };
      if (n.vtep.kind === 'kernel') Object.assign(obs, { id: d.id, port: d.port, local: d.local, learning: d.learning, link: d.link });
      observed[n.name] = { dev: n.vtep.dev, ...obs };
      for (const key of Object.keys(exp)) {
        if (obs[key] !== exp[key]) diffs.push(`${n.name}: ${n.vtep.dev} ${key}: expected ${JSON.stringify(exp[key])}, observed ${JSON.stringify(obs[key])}`);
      }
    }
    return fromDiffs(diffs, `${ctx.t.nodes.length} VTEP devices match`, { expected, observed });
  },
};

const remoteSubnets: CheckDef = {
  id: 'routes/remote-subnets',
  title: 'one route per remote pod subnet, in the layout\'s form; none to the own subnet via the VTEP',
  async run(ctx) {
    const st = await observe(ctx);
    const diffs: string[] = [];
    const expected: Record<string, string[]> = {};
    const observed: Record<string, string[]> = {};
    for (const n of ctx.t.nodes) {
      const dev = n.vtep.dev;
      const want = new Map(remotes(ctx.t, n).map((r) => [r.podSubnet, r.vtep.ip]));
      const have = st.get(n.name)!.routes.filter((r) => r.dev === dev);
      expected[n.name] = [...want].map(([s, via]) => `${s} via ${via} dev ${dev} onlink`);
      observed[n.name] = have.map((r) => `${r.dst} via ${r.gateway ?? '-'} dev ${r.dev}${r.flags.includes('onlink') ? ' onlink' : ''}`);
      for (const [subnet, via] of want) {
        const r = have.find((x) => x.dst === subnet);
        if (!r) diffs.push(`${n.name}: missing route ${subnet} via ${via} dev ${dev} onlink`);
        else {
          if (r.gateway !== via) diffs.push(`${n.name}: route ${subnet}: expected via ${via}, observed via ${r.gateway ?? 'none'}`);
          if (!r.flags.includes('onlink')) diffs.push(`${n.name}: route ${subnet}: expected onlink flag, observed flags [${r.flags.join(',')}]`);
        }
      }
      for (const r of have) {
        if (r.dst === n.podSubnet) diffs.push(`${n.name}: route to its own subnet ${n.podSubnet} via ${dev} must not exist`);
        else if (!want.has(r.dst)) diffs.push(`${n.name}: extra route ${r.dst} via ${r.gateway ?? '-'} dev ${dev}`);
      }
    }
    return fromDiffs(diffs, 'all remote pod subnets routed via the VTEP, nothing extra', { expected, observed });
  },
};

const neighboursCheck: CheckDef = {
  id: 'routes/neighbours',
  title: 'one permanent neighbour per remote node: remote VTEP address → remote VTEP MAC',
  async run(ctx) {
    const st = await observe(ctx);
    const diffs: string[] = [];
    const expected: Record<string, string[]> = {};
    const observed: Record<string, string[]> = {};
    for (const n of ctx.t.nodes) {
      const want = new Map(remotes(ctx.t, n).map((r) => [r.vtep.ip, r.vtep.mac]));
      const have = st.get(n.name)!.neigh.filter((x) => x.dev === n.vtep.dev);
      expected[n.name] = [...want].map(([ip, mac]) => `${ip} lladdr ${mac} PERMANENT`);
      observed[n.name] = have.map((x) => `${x.dst} lladdr ${x.lladdr ?? '-'} ${x.state.join(',')}`);
      for (const [ip, mac] of want) {
        const e = have.find((x) => x.dst === ip);
        if (!e) diffs.push(`${n.name}: missing neighbour ${ip} lladdr ${mac}`);
        else {
          if (e.lladdr !== mac) diffs.push(`${n.name}: stale neighbour ${ip}: expected lladdr ${mac}, observed ${e.lladdr ?? 'none'}`);
          if (!e.state.includes('PERMANENT')) diffs.push(`${n.name}: neighbour ${ip}: expected PERMANENT, observed ${e.state.join(',')}`);
        }
      }
      for (const e of have) if (!want.has(e.dst)) diffs.push(`${n.name}: extra neighbour ${e.dst} lladdr ${e.lladdr ?? '-'} ${e.state.join(',')}`);
    }
    return fromDiffs(diffs, 'neighbour entries complete and permanent', { expected, observed });
  },
};

const fdbCheck: CheckDef = {
  id: 'routes/fdb',
  title: 'one permanent FDB entry per remote node: remote VTEP MAC → remote node underlay IP',
  async run(ctx) {
    const st = await observe(ctx);
    const diffs: string[] = [];
    const expected: Record<string, string[]> = {};
    const observed: Record<string, string[]> = {};
    for (const n of ctx.t.nodes) {
      const want = new Map(remotes(ctx.t, n).map((r) => [r.vtep.mac, r.ip]));
      // the kernel lists the device's own address and multicast entries too; only unicast entries with a dst are tunnel entries
      const have = st.get(n.name)!.fdb.filter((f) => f.dst !== undefined);
      expected[n.name] = [...want].map(([mac, ip]) => `${mac} dst ${ip} permanent`);
      observed[n.name] = have.map((f) => `${f.mac} dst ${f.dst} ${f.state ?? ''}`.trim());
      for (const [mac, ip] of want) {
        const e = have.find((f) => f.mac === mac);
        if (!e) diffs.push(`${n.name}: missing FDB entry ${mac} dst ${ip}`);
        else {
          if (e.dst !== ip) diffs.push(`${n.name}: stale FDB entry ${mac}: expected dst ${ip}, observed dst ${e.dst}`);
          if (n.vtep.kind === 'kernel' && e.state !== 'permanent') diffs.push(`${n.name}: FDB entry ${mac}: expected permanent, observed ${e.state ?? 'dynamic'}`);
        }
      }
      for (const e of have) if (!want.has(e.mac) && !(n.vtep.learning && e.state !== 'permanent')) diffs.push(`${n.name}: extra FDB entry ${e.mac} dst ${e.dst} ${e.state ?? ''}`.trim());
    }
    return fromDiffs(diffs, 'FDB entries complete and permanent', { expected, observed });
  },
};

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
void fail;
void pass;
