// Shared by the in-process apply tests (test/integration/inproc-*.test.ts): the topologies, the namespace dumps
// compared between `up` run by processes (VXLAB_APPLY=processes) and `up` in-process, and the steps topology.
// Split over several files so that vitest runs them in parallel workers (each file's run ids come from its own
// worker's pid: testRunId).
import { run, ipJson, bridgeJson, pool } from '../../harness/util/exec.ts';
import { loadTopology } from '../../harness/topology/load.ts';
import { plan } from '../../harness/plan/plan.ts';
import { normalize } from '../../harness/topology/normalize.ts';
import { TopologySchema } from '../../harness/topology/schema.ts';
import type { ResolvedTopology } from '../../harness/topology/resolved.ts';
import { expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { up, type Running } from '../../harness/runtime/lifecycle.ts';
import { tempTopology, testRunId, TOPO } from './topo.ts';

export const SOMAXCONN = '/proc/sys/net/core/somaxconn';

export function topo(runId: string, somaxconn: number, family: 'ipv4' | 'dual'): ResolvedTopology {
  const v6 = family === 'dual';
  return normalize(
    TopologySchema.parse({
      name: v6 ? 'inproc6' : 'inproc',
      underlay: { mtu: 1500, segments: [{ name: 'rack1', cidr: v6 ? 'fd00:0:7::/64' : '192.168.7.0/24' }] },
      overlay: { layout: 'flannel', vtep: 'kernel', vni: 1, port: 4789, ...(v6 ? { podCidr: ['10.244.0.0/16', 'fd00:10:244::/56'], nodeCidrSize: [24, 64] } : {}) },
      // a per-netns sysctl the root namespace has with another value: it must land in the nodes only
      sysctls: { 'net.core.somaxconn': String(somaxconn), 'net.ipv4.conf.all.rp_filter': '2' },
      nodes: [{ name: 'a', pods: 1 }, { name: 'b', pods: 1 }, { name: 'c', pods: 2 }],
    }),
    { runId },
  );
}

/** Every sysctl key the plan writes in a namespace, with its live value there (one `sysctl -n k1 k2 …` process). */
async function sysctlValues(t: ResolvedTopology, ns: string): Promise<Record<string, string>> {
  const keys = [
    ...new Set(
      plan(t)
        .stages.flatMap((s) => s.steps.filter((x) => x.ns === ns))
        .flatMap((x) => x.ops)
        .flatMap((o) => (o.kind === 'sysctl' ? Object.keys(o.settings) : [])),
    ),
  ];
  const out: Record<string, string> = {};
  if (keys.length === 0) return out;
  // sysctl -n prints one line per key, in the order asked (a key it cannot read fails the command: run throws)
  const values = (await run(['nsenter', `--net=/var/run/netns/${ns}`, 'sysctl', '-n', ...keys])).stdout.replace(/\n$/, '').split('\n');
  if (values.length !== keys.length) throw new Error(`${ns}: sysctl -n ${keys.join(' ')}: ${values.length} values for ${keys.length} keys`);
  keys.forEach((k, i) => (out[k] = values[i]!.trim()));
  return out;
}

export type Dumps = {
  links: string[];
  addrs: string[];
  routes: string[];
  neigh: string[];
  fdb: string[];
  sysctls: Record<string, string>;
};

/**
 * A namespace's state as dumps, with ifindex-like and run-specific values left out. `linkState: false` keeps of each
 * link only what is programmed (name, MAC, MTU, kind and attributes, flags without carrier, master): carrier
 * (LOWER_UP / NO-CARRIER) and operstate are set by linkwatch up to a second after a link comes up, whoever created it
 * — timing, not programming. The step comparison dumps right after each step that way; up's waits to settle instead.
 * The seven reads run concurrently (they only read).
 */
export async function dumps(t: ResolvedTopology, ns: string, opts: { linkState?: boolean } = {}): Promise<Dumps> {
  const [rawLinks, rawAddrs, routes4, routes6, neigh, rawFdb, sysctls] = await Promise.all([
    ipJson<any[]>(ns, ['-d', 'link', 'show']),
    ipJson<any[]>(ns, ['addr', 'show']),
    ipJson<any[]>(ns, ['route', 'show', 'table', 'all']),
    ipJson<any[]>(ns, ['-6', 'route', 'show', 'table', 'all']),
    ipJson<any[]>(ns, ['neigh', 'show', 'nud', 'permanent']),
    bridgeJson<any[]>(ns, ['fdb', 'show']),
    sysctlValues(t, ns),
  ]);
  // everything `ip -d link` says: kind, info_data (vxlan id/local/link/port/learning/df/ttl…, bridge options),
  // slave data (bridge port: hairpin, state…), flags, MTU, master, operstate
  const carrier = new Set(['LOWER_UP', 'NO-CARRIER', 'M-DOWN']);
  const links = rawLinks.map((l) =>
    opts.linkState === false
      ? { ifname: l.ifname, address: l.address, mtu: l.mtu, kind: l.linkinfo?.info_kind, data: l.linkinfo?.info_data, flags: (l.flags as string[]).filter((f) => !carrier.has(f)), master: l.master }
      : { ...l, ifindex: undefined, link_index: undefined, link_netnsid: undefined },
  );
  // IPv6 link-local addresses and their routes are the kernel's autoconfiguration, added asynchronously after a link
  // comes up (DAD, addrconf): whether they exist yet at the moment of the dump depends on timing, not on how up
  // applied its plan, and vxlab programs none of them — left out of both sides
  const linkLocal = (x: string | undefined) => typeof x === 'string' && x.startsWith('fe80:');
  const addrs = rawAddrs.map((l) => ({ ifname: l.ifname, addrs: l.addr_info.filter((a: any) => !linkLocal(a.local)).map((a: any) => ({ ...a, valid_life_time: undefined, preferred_life_time: undefined })) }));
  const routes = [...routes4, ...routes6].filter((r) => !linkLocal(r.dst));
  const fdb = rawFdb.map((x) => ({ ...x, ifindex: undefined }));
  // cni0, the veths' pod ends and host ends get kernel-random MACs (and link-local and solicited-node multicast
  // addresses from them): masked. The topology's MACs (underlay eth0, VTEPs) and the multicast groups stay as they are.
  const known = new Set(t.nodes.flatMap((x) => [x.underlayMac, ...x.vteps.map((v) => v.mac)]));
  const mask = (x: string) =>
    x
      .replaceAll(t.runId, 'RUN')
      .replace(/[0-9a-f]{2}(?::[0-9a-f]{2}){5}/g, (m) => (known.has(m) || /^(01:00:5e|33:33:00|01:80:c2|00:00:00|ee:ee:ee)/.test(m) ? m : 'RANDOM-MAC'))
      .replace(/33:33:ff:[0-9a-f:]{8}/g, '33:33:ff:RANDOM')
      .replace(/fe80::[0-9a-f:]+/g, 'fe80::RANDOM')
      .replace(/"[a-z_]*_timer":[0-9.]+/g, '"timer":0')
      .replace(/"(bridge_id|root_id|designated_root|designated_bridge|id)":"[^"]*"/g, '"$1":"RANDOM"');
  const m = (xs: unknown[]) => xs.map((x) => mask(JSON.stringify(x))).sort();
  return {
    links: m(links),
    addrs: m(addrs),
    routes: m(routes),
    neigh: m(neigh),
    // learned (non-permanent) entries depend on traffic, not on up
    fdb: m(fdb.filter((f) => f.state === 'permanent')),
    sysctls,
  };
}

/**
 * The dumps of many namespaces once the kernel's asynchronous link state has settled: carrier and operstate of a
 * link that was just set up are updated by linkwatch up to a second later (and a bridge's carrier follows its
 * ports'), so two dumps of a namespace a second apart must agree (bounded: 15 tries each). All namespaces are dumped
 * in the same rounds (a round waits 1 s once, not once per namespace); results in input order.
 */
export async function settledAll(items: { t: ResolvedTopology; ns: string }[]): Promise<Dumps[]> {
  const out: (Dumps | undefined)[] = new Array(items.length);
  let prev = await pool(items, 4, ({ t, ns }) => dumps(t, ns).then((d) => JSON.stringify(d)));
  let open = items.map((_, i) => i);
  for (let round = 0; round < 15 && open.length > 0; round++) {
    await new Promise((r) => setTimeout(r, 1000));
    const cur = await pool(open, 4, (i) => dumps(items[i]!.t, items[i]!.ns).then((d) => JSON.stringify(d)));
    const still: number[] = [];
    open.forEach((i, k) => {
      if (cur[k] === prev[i]) out[i] = JSON.parse(cur[k]!) as Dumps;
      else {
        prev[i] = cur[k]!;
        still.push(i);
      }
    });
    open = still;
  }
  if (open.length > 0) throw new Error(`${open.map((i) => items[i]!.ns).join(', ')}: link state did not settle within 15 s`);
  return out as Dumps[];
}

export function shipped(file: string, runId: string): ResolvedTopology {
  const l = loadTopology(new URL(`../../topologies/${file}`, import.meta.url).pathname);
  return normalize(l.topology, { runId, file: l.file });
}

/** the plan's `ip`/`bridge` lines in a namespace, so a comparison is known not to be of two empty tables */
export function planLines(t: ResolvedTopology, ns: string): string[] {
  return plan(t).stages.flatMap((s) => s.steps.filter((x) => x.ns === ns)).flatMap((x) => x.ops).flatMap((o) => (o.kind === 'ip' || o.kind === 'bridge' ? o.lines : []));
}

/** Under VXLAB_APPLY=processes (restored after). */
export async function viaProcesses<T>(fn: () => Promise<T>): Promise<T> {
  const prev = process.env.VXLAB_APPLY;
  process.env.VXLAB_APPLY = 'processes';
  try {
    return await fn();
  } finally {
    if (prev === undefined) delete process.env.VXLAB_APPLY;
    else process.env.VXLAB_APPLY = prev;
  }
}

// every action; node2 leaves and comes straight back under its name (its old underlay port must be gone first)
export const STEPS = `steps:
  - { action: remove-node, node: node2 }
  - { action: add-node, node: { name: node2, segment: rack1, ip: 192.168.10.77, pods: 1 } }
  - { action: restart-node, node: node3, newMac: "02:aa:bb:cc:dd:03" }
  - { action: add-node, node: { name: node4, segment: rack1, pods: 2 } }
  - { action: change-node-ip, node: node1, ip: 192.168.10.50 }
  - { action: remove-node, node: node3 }
`;

export function stepTopo(file: string, extra: string, runId: string): ResolvedTopology {
  const l = loadTopology(tempTopology(`extends: ${TOPO(file)}\n${extra}${STEPS}`));
  return normalize(l.topology, { runId, file: l.file });
}

/** What the root namespace has of a topology: routes, neighbours, FDB entries and links naming its addresses or MACs. */
export async function rootTraces(ts: ResolvedTopology[]): Promise<string[]> {
  const marks = new Set<string>();
  for (const t of ts) {
    for (const n of [...t.nodes, ...(t.steps ?? []).flatMap((s) => (s.action === 'add-node' ? [s.node] : []))]) {
      marks.add(n.ip).add(n.underlayMac).add(n.podSubnet);
      for (const v of n.vteps) marks.add(v.mac).add(v.ip);
    }
    for (const s of t.steps ?? []) if (s.action === 'restart-node' && s.newMac) marks.add(s.newMac);
    for (const s of t.steps ?? []) if (s.action === 'change-node-ip') marks.add(s.ip);
  }
  const dump = [
    ...(await ipJson<any[]>(undefined, ['route', 'show', 'table', 'all'])),
    ...(await ipJson<any[]>(undefined, ['neigh', 'show'])),
    ...(await ipJson<any[]>(undefined, ['link', 'show'])),
    ...(await bridgeJson<any[]>(undefined, ['fdb', 'show'])),
  ].map((x) => JSON.stringify(x));
  return dump.filter((d) => [...marks].some((m) => d.includes(`"${m}"`)));
}


/** up's cases: the same topology brought up both ways. */
export const UP_CASES: [string, (runId: string, somaxconn: number) => ResolvedTopology][] = [
  ['flannel IPv4 (sysctls)', (id, x) => topo(id, x, 'ipv4')],
  ['flannel dual-stack (sysctls)', (id, x) => topo(id, x, 'dual')],
  ['calico-3node (cali veths with a MAC, /32 routes, blackhole, proto 80 + mtu routes)', (id) => shipped('calico-3node.yaml', id)],
  ['ipv6-underlay-3node (vxlan local6, nodad addresses)', (id) => shipped('ipv6-underlay-3node.yaml', id)],
  ['flannel-directrouting (router namespace, two segments, direct routes)', (id) => shipped('flannel-directrouting.yaml', id)],
  ['calico-crosssubnet (router, proto 80 direct routes)', (id) => shipped('calico-crosssubnet.yaml', id)],
];

export const upTitle = (what: string) => `${what}: every namespace's links (ip -d), addresses, routes, neighbours, FDB and sysctls are the same both ways; root untouched`;

/** One of UP_CASES: up by processes and in-process, every namespace compared; the runs go into `live` (torn down by the caller). */
export async function compareUp(what: string, make: (runId: string, somaxconn: number) => ResolvedTopology, live: Running[]): Promise<void> {
  const rootBefore = readFileSync(SOMAXCONN, 'utf8').trim();
  const want = Number(rootBefore) + 7;
  const viaProcs = await viaProcesses(() => up(make(testRunId(), want), { ephemeral: true }));
  live.push(viaProcs);
  const inproc = await up(make(testRunId(), want), { ephemeral: true });
  live.push(inproc);
  const t = inproc.topology;
  const names = [viaProcs.plan.namespaces, inproc.plan.namespaces];
  expect(names[1]!.length).toBe(names[0]!.length);
  // both sides' namespaces settle in the same rounds
  const all = await settledAll([...names[0]!.map((ns) => ({ t: viaProcs.topology, ns })), ...names[1]!.map((ns) => ({ t, ns }))]);
  for (let i = 0; i < names[1]!.length; i++) {
    const a = all[i]!;
    const b = all[names[0]!.length + i]!;
    for (const k of Object.keys(a) as (keyof typeof a)[]) expect(b[k], `${names[1]![i]}: ${k}`).toEqual(a[k]);
    // the namespace has what the plan wrote (so the comparison is not of two empty tables)
    const lines = planLines(t, names[1]![i]!);
    if (lines.some((l) => l.startsWith('link add'))) expect(b.links.length, `${names[1]![i]}: links`).toBeGreaterThan(1);
    if (lines.some((l) => l.startsWith('route add'))) expect(b.routes.length, `${names[1]![i]}: routes`).toBeGreaterThan(0);
  }
  for (let i = 0; i < t.nodes.length; i++) {
    const b = await dumps(t, t.nodes[i]!.ns);
    expect(b.sysctls['net.ipv4.ip_forward']).toBe('1');
    if (what.includes('sysctls')) {
      expect(b.sysctls['net.core.somaxconn']).toBe(String(want));
      // flannel's accept_ra=0 on each VTEP device (a name with a dot: the sysctl key writes it as '/')
      expect(Object.entries(b.sysctls).filter(([k, v]) => /^net\.ipv6\.conf\.flannel.*\/1\.accept_ra$/.test(k) && v === '0').length).toBeGreaterThanOrEqual(1);
      const peers = t.nodes.length - 1;
      // one permanent FDB entry per peer on each VTEP device (a device shared by both pod families has one)
      const devs = new Set(t.nodes[i]!.vteps.map((v) => v.dev)).size;
      expect(b.fdb.filter((f) => f.includes('"ifname":"flannel') && f.includes('"dst"')).length).toBe(peers * devs);
    }
    // the VTEP as the plan asked: VNI, local address, underlay device, port, no learning
    const v = t.nodes[i]!.vtep;
    if (v.kind === 'kernel') {
      const [l] = await ipJson<any[]>(t.nodes[i]!.ns, ['-d', 'link', 'show', 'dev', v.dev]);
      expect(l.linkinfo.info_data).toMatchObject({ id: v.vni, port: v.port, learning: v.learning, link: t.nodes[i]!.underlayIf });
      expect(l.linkinfo.info_data.local ?? l.linkinfo.info_data.local6).toBe(t.nodes[i]!.ip);
      expect(l).toMatchObject({ mtu: v.mtu, address: v.mac });
    }
  }
  expect(readFileSync(SOMAXCONN, 'utf8').trim()).toBe(rootBefore);
}
