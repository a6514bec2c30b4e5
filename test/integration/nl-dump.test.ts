// The in-process state reader (#16) held to iproute2, node by node: on live flannel and calico topologies (IPv4,
// dual-stack, IPv6-only), with state added by hand that the suites' readers must get right (the all-zeros default FDB
// entry, FDB entries with a port, VNI, via and a dynamic state, neighbours that are stale, router-flagged or NOARP,
// blackhole / unreachable / prohibit routes, onlink with mtu and advmss metrics, a multipath route, a policy rule to
// another table, a veth whose peer is down, a peer address), every namespace's links, addresses, routes, neighbours,
// FDB and `route get` answers read in-process are compared field by field with `ip -d -j` / `bridge -j` — first at the
// reader's level (the raw JSON), then at the level the suites use (harness/probe/kernel.ts, in-process against
// VXLAB_STATE_READ=ip). Then hand breaks in a node's namespace: the routes suite, reading in-process, names node, peer
// and value.
import { afterEach, describe, expect } from 'vitest';
import { needsRoot } from '../helpers/root.ts';
import { tempTopology, test, TOPO } from '../helpers/topo.ts';
import { runSuites } from '../../harness/runner/runner.ts';
import { SUITES } from '../../suites/index.ts';
import { NEIGH_DUMP_NODES } from '../../suites/routes.ts';
import { scaleTopologyYaml } from '../../bench/scale-run.ts';
import { expectOwnersFail } from '../helpers/breaks.ts';
import { run } from '../../harness/util/exec.ts';
import { readState, type ReadResult } from '../../harness/runtime/netns/nl-dump-read.ts';
import * as k from '../../harness/probe/kernel.ts';
import { allPods, type ResolvedNode, type ResolvedTopology } from '../../harness/topology/resolved.ts';

const ip = async (ns: string, args: string[]) => (await run(['ip', ...args], { ns, netOnly: true })).stdout;
const json = (s: string) => (s.trim() ? JSON.parse(s) : []);

/** `ip -d -j -force -batch`: one JSON answer or error text per line, as the process readers see them */
async function ipLines(ns: string, lines: string[]): Promise<({ json: any } | { error: string })[]> {
  return (await k.ipBatch(ns, lines, true)).map((r) => (r.error !== undefined ? { error: r.error } : { json: r.json }));
}

// the keys the reader models, per object (what vxlab's readers use, and the neighbouring keys ip prints the same way)
const LINK_KEYS = ['ifindex', 'link', 'link_index', 'ifname', 'flags', 'mtu', 'master', 'operstate', 'address', 'link_netnsid'];
const VXLAN_KEYS = ['id', 'remote', 'group', 'local', 'local6', 'link', 'port', 'learning', 'ttl', 'df', 'ageing'];
const ROUTE_KEYS = ['type', 'dst', 'from', 'nhid', 'gateway', 'via', 'dev', 'table', 'protocol', 'scope', 'prefsrc', 'metric', 'flags', 'metrics', 'iif', 'nexthops', 'pref'];
const ADDR_KEYS = ['family', 'local', 'address', 'prefixlen', 'scope', 'label'];

const pick = (o: any, keys: string[]) => Object.fromEntries(keys.filter((x) => o?.[x] !== undefined).map((x) => [x, o[x]]));

function linkView(l: any) {
  const o: any = pick(l, LINK_KEYS);
  const li = l.linkinfo;
  if (li) {
    o.linkinfo = pick(li, ['info_kind', 'info_slave_kind']);
    if (li.info_kind === 'vxlan') o.linkinfo.info_data = pick(li.info_data, VXLAN_KEYS);
    if (li.info_slave_kind === 'bridge') o.linkinfo.info_slave_data = pick(li.info_slave_data, ['hairpin']);
  }
  return o;
}
const routeView = (r: any) => pick(r, ROUTE_KEYS);
const addrView = (l: any) => ({ ...pick(l, LINK_KEYS), addr_info: (l.addr_info ?? []).map((a: any) => pick(a, ADDR_KEYS)) });
/** metrics ip prints as times or strings (rtt, rttvar, rto_min, congctl, features) are not modelled: routes here carry none */
const metricsKnown = (r: any) => !r.metrics || Object.keys(r.metrics[0] ?? {}).every((m) => ['mtu', 'window', 'ssthresh', 'cwnd', 'advmss', 'reordering', 'hoplimit', 'initcwnd', 'initrwnd', 'quickack', 'fastopen_no_cookie'].includes(m));

/** Every namespace of the topology: its nodes (with their VTEP device) and pods. */
function namespaces(t: ResolvedTopology): { ns: string; dev?: string; node?: ResolvedNode }[] {
  return [...t.nodes.map((n) => ({ ns: n.ns, dev: n.vtep.dev, node: n })), ...allPods(t).map((p) => ({ ns: p.ns }))];
}

/** The routing questions asked in a namespace: every pod address from the node's first pod (iif its bridge/veth), every pod address plainly, and the hand-made routes' targets. */
function questions(t: ResolvedTopology, n: ResolvedNode | undefined, extra: string[]): { dst: string; from?: string; iif?: string }[] {
  const pods = allPods(t);
  const qs: { dst: string; from?: string; iif?: string }[] = [];
  const addrsOf = (p: (typeof pods)[number]) => [p.ip, ...(p.addrs ?? []).map((a) => a.ip)].filter((x, i, a) => a.indexOf(x) === i);
  for (const p of pods) for (const a of addrsOf(p)) qs.push({ dst: a });
  const own = n?.pods[0];
  if (n && own) {
    const iif = n.bridge?.name ?? own.hostIf;
    for (const p of pods) if (p.node !== n.name) for (const a of addrsOf(p)) {
      const from = addrsOf(own).find((x) => x.includes(':') === a.includes(':'));
      if (from) qs.push({ dst: a, from, iif });
    }
  }
  for (const d of extra) qs.push({ dst: d });
  return qs;
}
const getLine = (q: { dst: string; from?: string; iif?: string }) => `route get ${q.dst}${q.from ? ` from ${q.from}` : ''}${q.iif ? ` iif ${q.iif}` : ''}`;

/** Compare one namespace: returns every difference as a line naming the namespace, the object and the key. */
async function differences(ns: string, dev: string | undefined, qs: { dst: string; from?: string; iif?: string }[]): Promise<{ diffs: string[]; counts: Record<string, number> }> {
  const mine: ReadResult = readState(ns, { addrs: true, routes: [4, 6], neigh: { dev: dev ?? null }, fdb: { dev: dev ?? null }, gets: qs });
  const [links, routes, neigh, addrs, ...gets] = await ipLines(ns, ['link show', 'route show table all', `neigh show${dev ? ` dev ${dev}` : ''}`, 'addr show', ...qs.map(getLine)]);
  const fdbOut = json((await run(['bridge', '-j', 'fdb', 'show', ...(dev ? ['dev', dev] : [])], { ns, netOnly: true })).stdout);
  const diffs: string[] = [];
  const same = (what: string, a: any[], b: any[], view: (x: any) => any, key: (x: any) => string) => {
    if (a.length !== b.length) diffs.push(`${ns}: ${what}: ${a.length} in-process, ${b.length} from iproute2`);
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const x = JSON.stringify(view(a[i]));
      const y = JSON.stringify(view(b[i]));
      if (x !== y) diffs.push(`${ns}: ${what} ${key(b[i] ?? a[i])}: in-process ${x}, iproute2 ${y}`);
    }
  };
  same('link', mine.links, (links as any).json, linkView, (l) => l?.ifname);
  const theirRoutes = (routes as any).json as any[];
  expect(theirRoutes.every(metricsKnown), `${ns}: a route with metrics the reader does not model`).toBe(true);
  same('route', mine.routes!, theirRoutes, routeView, (r) => `${r?.table} ${r?.dst}`);
  same('neighbour', mine.neigh as any[], (neigh as any).json, (x) => x, (x) => x?.dst);
  same('address', mine.addrs!, (addrs as any).json, addrView, (l) => l?.ifname);
  same('fdb entry', mine.fdb as any[], fdbOut, (x) => x, (x) => `${x?.mac} ${x?.ifname ?? ''} ${x?.dst ?? ''}`);
  qs.forEach((q, i) => {
    const a = mine.answers![i]!; // asked: gets is non-empty here
    const b = gets[i] as any;
    const x = a.error !== undefined ? `error: ${a.error}` : JSON.stringify(routeView(a.route));
    const y = b.error !== undefined ? `error: ${b.error}` : JSON.stringify(routeView(b.json[0]));
    if (x !== y) diffs.push(`${ns}: ${getLine(q)}: in-process ${x}, iproute2 ${y}`);
  });
  return { diffs, counts: { links: mine.links.length, routes: mine.routes!.length, neigh: (mine.neigh as any[]).length, fdb: (mine.fdb as any[]).length, gets: qs.length, errors: (mine.answers ?? []).filter((a) => a.error).length } };
}

/** What harness/probe/kernel.ts hands the suites, in-process and through the processes (VXLAB_STATE_READ=ip). */
async function suiteView(t: ResolvedTopology, n: ResolvedNode, qs: { dst: string; from?: string; iif?: string }[]) {
  const fams = t.families ?? [4];
  const snap = await k.nodeSnapshot(n.ns, n.vtep.dev, fams, qs);
  const pod = n.pods[0];
  return {
    links: snap.links.map(linkView),
    routes: snap.routes.map(routeView),
    neigh: snap.neigh,
    answers: snap.answers.map((a) => ({ q: a.q, error: a.error, route: a.route && routeView(a.route) })),
    fdb: await k.fdb(n.ns, n.vtep.dev),
    v4: (await k.routes(n.ns, 4)).map(routeView),
    v6: (await k.routes(n.ns, 6)).map(routeView),
    neigh4: await k.neighbours(n.ns, n.vtep.dev, 4),
    neigh6: await k.neighbours(n.ns, n.underlayIf, 6),
    covering: await k.routesCovering(n.ns, qs[0]!.dst),
    addrs: (await k.addrs(n.ns)).map(addrView),
    pod: pod && (await k.addrsAndRoutes(pod.ns).then((x) => ({ addrs: x.addrs.map(addrView), routes: x.routes.map(routeView) }))),
  };
}

afterEach(() => {
  delete process.env.VXLAB_STATE_READ;
});

/** state the topology's builders never write, added by hand on node1: what the reader must render as ip does */
async function extras(t: ResolvedTopology): Promise<string[]> {
  const n1 = t.nodes[0]!;
  const n2 = t.nodes[1]!;
  const v6u = n1.ip.includes(':');
  const dev = n1.vtep.dev;
  const cmds: string[][] = [
    ['bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', dev, 'dst', n2.ip, 'self', 'permanent'],
    ['bridge', 'fdb', 'add', '02:00:00:00:00:aa', 'dev', dev, 'dst', n2.ip, 'port', '8472', 'vni', '7', 'self', 'permanent'],
    ['bridge', 'fdb', 'add', '02:00:00:00:00:ab', 'dev', dev, 'dst', n2.ip, 'via', n1.underlayIf, 'self', 'permanent'],
    ['bridge', 'fdb', 'add', '02:00:00:00:00:ac', 'dev', dev, 'dst', n2.ip, 'self', 'dynamic'],
    ['ip', 'neigh', 'add', '10.99.0.9', 'lladdr', '02:00:00:00:01:09', 'dev', n1.underlayIf, 'nud', 'stale'],
    ['ip', 'neigh', 'add', '10.99.0.10', 'lladdr', '02:00:00:00:01:0a', 'dev', n1.underlayIf, 'nud', 'noarp'],
    ['ip', 'neigh', 'add', '10.99.0.11', 'lladdr', '02:00:00:00:01:0b', 'dev', n1.underlayIf, 'nud', 'reachable'],
    ['ip', '-6', 'neigh', 'add', 'fd00:99::9', 'lladdr', '02:00:00:00:01:99', 'dev', n1.underlayIf, 'router', 'nud', 'permanent'],
    ['ip', 'route', 'add', 'blackhole', '10.250.0.0/24'],
    ['ip', 'route', 'add', 'unreachable', '10.251.0.0/24'],
    ['ip', 'route', 'add', 'prohibit', '10.252.0.0/24', 'proto', '80', 'metric', '7'],
    ['ip', '-6', 'route', 'add', 'blackhole', 'fd00:98::/64'],
    ['ip', 'link', 'add', 'vxt0', 'type', 'veth', 'peer', 'name', 'vxt1'],
    ['ip', 'link', 'set', 'vxt0', 'up'],
    ['ip', 'addr', 'add', '10.98.0.1', 'peer', '10.98.0.2/32', 'dev', 'vxt0'],
    ['ip', 'route', 'add', '10.200.0.0/24', 'dev', 'vxt0', 'table', '100'],
    ['ip', 'rule', 'add', 'to', '10.200.0.0/24', 'table', '100'],
  ];
  if (!v6u) {
    cmds.push(
      ['ip', 'route', 'add', '10.253.0.0/24', 'via', n2.ip, 'dev', n1.underlayIf, 'onlink', 'mtu', '1400', 'advmss', '1360'],
      ['ip', 'route', 'add', '10.249.0.0/24', 'nexthop', 'via', n2.ip, 'dev', n1.underlayIf, 'weight', '2', 'nexthop', 'via', '10.96.0.1', 'dev', n1.underlayIf, 'onlink'],
    );
  } else cmds.push(['ip', '-6', 'route', 'add', 'fd00:97::/64', 'via', n2.ip, 'dev', n1.underlayIf, 'mtu', '1300', 'pref', 'high']);
  for (const c of cmds) await run(c, { ns: n1.ns, netOnly: true });
  return ['10.250.0.5', '10.251.0.5', '10.252.0.5', '10.200.0.5', '10.253.0.5', '10.249.0.5', '10.98.0.2', '10.7.7.7', 'fd00:98::5', 'fd00:97::5', 'fd00:96::1'];
}

const TOPOLOGIES = ['dual-stack-3node.yaml', 'calico-3node.yaml', 'ipv6-only-calico.yaml', 'flannel-directrouting.yaml'];

describe.skipIf(needsRoot)('in-process state reads against iproute2 (root)', () => {
  for (const file of TOPOLOGIES) {
    test(`${file}: every namespace's links, addresses, routes, neighbours, FDB and route get answers, field by field`, async ({ bringUp }) => {
      const r = await bringUp(TOPO(file));
      const t = r.topology;
      const extra = await extras(t);
      // IPv6 addresses still in duplicate address detection get their local route when DAD ends (seen: eth0's
      // link-local appeared between the two reads): wait, bounded, until no namespace has a tentative address
      const deadline = Date.now() + 15_000;
      for (const x of namespaces(t)) {
        while (Date.now() < deadline && (await run(['ip', '-6', 'addr', 'show', 'tentative'], { ns: x.ns, netOnly: true, reject: false })).stdout.trim()) await new Promise((res) => setTimeout(res, 100));
      }
      const all: string[] = [];
      const total: Record<string, number> = {};
      for (const x of namespaces(t)) {
        // a dynamic neighbour may change state between the two reads (REACHABLE → STALE): a difference is read again once
        const again = async (dev: string | undefined, qs: Parameters<typeof differences>[2]) => {
          const first = await differences(x.ns, dev, qs);
          return first.diffs.length ? differences(x.ns, dev, qs) : first;
        };
        const { diffs, counts } = await again(x.dev, questions(t, x.node, x.node ? extra : []));
        all.push(...diffs);
        for (const [key, v] of Object.entries(counts)) total[key] = (total[key] ?? 0) + v;
        // and every device's neighbours and FDB, unfiltered (diagnosis reads those)
        if (x.dev) all.push(...(await again(undefined, [])).diffs);
      }
      // neighbours looked up one by one (routes/neighbours above 64 nodes, diagnosis): what show lists of them, and
      // nothing for an address without an entry or with one show hides (NOARP)
      for (const n of t.nodes) {
        for (const dev of [n.vtep.dev, n.underlayIf]) {
          const shown = json(await ip(n.ns, ['-j', 'neigh', 'show', 'dev', dev])) as any[];
          const only = [...shown.map((x) => x.dst), '10.99.0.10', '10.77.0.1', 'fd00:77::1'];
          const again = async () => readState(n.ns, { neigh: { dev, only } }).neigh as any[];
          let got = await again();
          const want = [...shown].sort((a, b) => only.indexOf(a.dst) - only.indexOf(b.dst));
          if (JSON.stringify(got) !== JSON.stringify(want)) got = await again();
          if (JSON.stringify(got) !== JSON.stringify(want)) all.push(`${n.ns}: neigh get on ${dev}: in-process ${JSON.stringify(got)}, ip neigh show ${JSON.stringify(want)}`);
          total.looked = (total.looked ?? 0) + got.length;
        }
      }
      expect(all, all.join('\n')).toEqual([]);
      expect(total.looked).toBeGreaterThan(0);
      // the comparison saw what it is about: VTEP FDB entries, neighbours, routes, answers and errors
      expect(total.fdb).toBeGreaterThan(0);
      expect(total.neigh).toBeGreaterThan(0);
      expect(total.routes).toBeGreaterThan(10);
      expect(total.errors).toBeGreaterThan(0);
      // what the suites get from harness/probe/kernel.ts is the same in-process as through the processes
      for (const n of t.nodes) {
        const qs = questions(t, n, extra);
        const both = async () => {
          const inproc = await suiteView(t, n, qs);
          process.env.VXLAB_STATE_READ = 'ip';
          const procs = await suiteView(t, n, qs).finally(() => delete process.env.VXLAB_STATE_READ);
          return [inproc, procs];
        };
        let [inproc, procs] = await both();
        if (JSON.stringify(inproc) !== JSON.stringify(procs)) [inproc, procs] = await both();
        expect(inproc, n.name).toEqual(procs);
      }
    });
  }

  test('the reader visits the namespace: a missing namespace is left to the processes, a missing device is the error ip gives', async ({ bringUp }) => {
    const r = await bringUp(TOPO('flannel-3node.yaml'));
    const n = r.topology.nodes[0]!;
    expect(await k.readInProcess(`${n.ns}-none`, {})).toBeUndefined();
    const x = await k.readInProcess(n.ns, { neigh: { dev: 'nosuch0' }, fdb: { dev: 'nosuch0' }, gets: [{ dst: '10.244.2.2', iif: 'nosuch0' }] });
    expect(x!.neigh).toEqual({ error: 'Cannot find device "nosuch0"' });
    expect(x!.fdb).toEqual({ error: 'Cannot find device "nosuch0"' });
    expect(x!.answers![0]!.error).toBe('Cannot find device "nosuch0"');
    await expect(ip(n.ns, ['neigh', 'show', 'dev', 'nosuch0'])).rejects.toThrow(/Cannot find device "nosuch0"/);
  });

  test('a chain of in-process reads gives the event loop a turn between reads (a capture starting meanwhile sees its output)', async ({ bringUp }) => {
    const r = await bringUp(TOPO('flannel-3node.yaml'));
    const nss = r.topology.nodes.map((n) => n.ns);
    // 60 reads chained through promises only, as a pool of suite readers chains them; a timer due at once must fire
    // in between, not after the whole chain (at 1,000 nodes the chain held the loop for 44 s and a tcpdump's
    // "listening on" was read only after its 20 s bound had fired)
    let fired = 0;
    let readsBeforeFirst = -1;
    let reads = 0;
    const t = setTimeout(() => {
      fired++;
      readsBeforeFirst = reads;
    }, 0);
    for (let i = 0; i < 60; i++) {
      expect(await k.readInProcess(nss[i % nss.length]!, { addrs: true })).toBeDefined();
      reads++;
    }
    clearTimeout(t);
    expect(fired).toBe(1);
    expect(readsBeforeFirst).toBeLessThan(60);
  });

  // hand breaks, read in-process: the owning routes check names node, peer and value
  const FL = () => TOPO('flannel-3node.yaml');
  const node = (t: ResolvedTopology, name: string) => t.nodes.find((x) => x.name === name)!;
  const BREAKS: { name: string; topology: () => string; cmd: (t: ResolvedTopology) => [string, string[]]; owner: string; fragment: (t: ResolvedTopology) => RegExp }[] = [
    { name: 'a route deleted', topology: FL, cmd: (t) => [node(t, 'node1').ns, ['ip', 'route', 'del', node(t, 'node2').podSubnet]], owner: 'routes/remote-subnets', fragment: (t) => new RegExp(`node1: missing route ${node(t, 'node2').podSubnet.replace(/\./g, '\\.')} via ${node(t, 'node2').vtep.ip.replace(/\./g, '\\.')} dev flannel\\.1 onlink for node2`) },
    { name: 'an FDB entry deleted', topology: FL, cmd: (t) => [node(t, 'node1').ns, ['bridge', 'fdb', 'del', node(t, 'node3').vtep.mac, 'dev', 'flannel.1', 'dst', node(t, 'node3').ip, 'self']], owner: 'routes/fdb', fragment: (t) => new RegExp(`node1: missing FDB entry ${node(t, 'node3').vtep.mac} dst ${node(t, 'node3').ip.replace(/\./g, '\\.')} \\(node3\\)`) },
    { name: 'a neighbour deleted', topology: FL, cmd: (t) => [node(t, 'node2').ns, ['ip', 'neigh', 'del', node(t, 'node1').vtep.ip, 'dev', 'flannel.1']], owner: 'routes/neighbours', fragment: (t) => new RegExp(`node2: missing neighbour ${node(t, 'node1').vtep.ip.replace(/\./g, '\\.')} lladdr ${node(t, 'node1').vtep.mac} \\(node1\\)`) },
    { name: 'an IPv6 neighbour made stale (calico, IPv6)', topology: () => TOPO('ipv6-only-calico.yaml'), cmd: (t) => [node(t, 'node1').ns, ['ip', 'neigh', 'replace', node(t, 'node3').vtep.ip, 'lladdr', '02:00:00:00:00:99', 'dev', node(t, 'node1').vtep.dev, 'nud', 'permanent']], owner: 'routes/neighbours', fragment: (t) => new RegExp(`node1: stale neighbour ${node(t, 'node3').vtep.ip}: expected lladdr ${node(t, 'node3').vtep.mac} \\(node3\\), observed 02:00:00:00:00:99`) },
  ];
  test('hand break above 64 nodes (neighbours looked up one by one): a deleted and a stale neighbour, named by node, peer and value', { timeout: 600_000 }, async ({ bringUp }) => {
    const n = NEIGH_DUMP_NODES + 2;
    const r = await bringUp(tempTopology(scaleTopologyYaml(n, `nl-${n}`)));
    const t = r.topology;
    const [a, b, c, d] = [node(t, 'n7'), node(t, 'n40'), node(t, 'n20'), node(t, 'n55')];
    await run(['ip', 'neigh', 'del', b.vtep.ip, 'dev', a.vtep.dev], { ns: a.ns, netOnly: true });
    await run(['ip', 'neigh', 'replace', d.vtep.ip, 'lladdr', '02:00:00:00:00:55', 'dev', c.vtep.dev, 'nud', 'permanent'], { ns: c.ns, netOnly: true });
    const suites = [{ ...SUITES.routes!, checks: SUITES.routes!.checks.filter((x) => x.id === 'routes/neighbours') }];
    const { results } = await runSuites(t, suites, { workDir: r.state.workDir });
    const x = results.find((y) => y.id === 'routes/neighbours')!;
    expect(x.status).toBe('fail');
    expect([...(x.diffs ?? [])].sort()).toEqual([
      `n20: stale neighbour ${d.vtep.ip}: expected lladdr ${d.vtep.mac} (n55), observed 02:00:00:00:00:55 — n55 announces VTEP MAC ${d.vtep.mac}, which this node does not use (stale VTEP MAC: n55's MAC changed and this node kept the old one)`,
      `n7: missing neighbour ${b.vtep.ip} lladdr ${b.vtep.mac} (n40)`,
    ]);
    // repaired, the check passes and says how it read
    await run(['ip', 'neigh', 'add', b.vtep.ip, 'lladdr', b.vtep.mac, 'dev', a.vtep.dev, 'nud', 'permanent'], { ns: a.ns, netOnly: true });
    await run(['ip', 'neigh', 'replace', d.vtep.ip, 'lladdr', d.vtep.mac, 'dev', c.vtep.dev, 'nud', 'permanent'], { ns: c.ns, netOnly: true });
    const again = (await runSuites(t, suites, { workDir: r.state.workDir })).results.find((y) => y.id === 'routes/neighbours')!;
    expect(again.status, again.message).toBe('pass');
    expect(again.message).toMatch(/each expected entry is looked up, not dumped/);
  });

  for (const b of BREAKS) {
    test(`hand break, read in-process: ${b.name}`, async ({ bringUp }) => {
      const r = await bringUp(b.topology());
      const t = r.topology;
      // every node of the run is read in-process (no fallback to the processes)
      for (const n of t.nodes) expect(await k.readInProcess(n.ns, {}), n.ns).toBeDefined();
      const [ns, argv] = b.cmd(t);
      await run(argv, { ns });
      await expectOwnersFail(t, r.state.workDir, [b.owner], b.fragment(t));
    });
  }
});
