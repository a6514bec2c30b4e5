// #16: up applies sysctls and `bridge fdb add … self permanent` lines from its own process (setns + /proc/sys/net
// and rtnetlink, harness/runtime/netns/inns.ts) instead of one nsenter/bridge process per namespace. The kernel
// state must be exactly what the plan's commands build: the same topology is brought up both ways and every node's
// dumps are compared; the root namespace keeps its own values.
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { needsRoot } from '../helpers/root.ts';
import { testRunId } from '../helpers/topo.ts';
import { run, ipJson, bridgeJson } from '../../harness/util/exec.ts';
import { up, type Running } from '../../harness/runtime/lifecycle.ts';
import { plan } from '../../harness/plan/plan.ts';
import { normalize } from '../../harness/topology/normalize.ts';
import { TopologySchema } from '../../harness/topology/schema.ts';
import type { ResolvedTopology } from '../../harness/topology/resolved.ts';
import { addFdb, writeSysctls } from '../../harness/runtime/netns/inns.ts';

const SOMAXCONN = '/proc/sys/net/core/somaxconn';

function topo(runId: string, somaxconn: number, family: 'ipv4' | 'dual'): ResolvedTopology {
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

/** Every sysctl key the plan writes in a namespace, with its live value there. */
async function sysctlValues(t: ResolvedTopology, ns: string): Promise<Record<string, string>> {
  const keys = plan(t)
    .stages.flatMap((s) => s.steps.filter((x) => x.ns === ns))
    .flatMap((x) => x.ops)
    .flatMap((o) => (o.kind === 'sysctl' ? Object.keys(o.settings) : []));
  const out: Record<string, string> = {};
  for (const k of keys) out[k] = (await run(['nsenter', `--net=/var/run/netns/${ns}`, 'sysctl', '-n', k])).stdout.trim();
  return out;
}

/** A node's state as dumps, with ifindex-like and run-specific values left out. */
async function dumps(t: ResolvedTopology, nodeIx: number) {
  const n = t.nodes[nodeIx]!;
  const links = (await ipJson<any[]>(n.ns, ['-d', 'link', 'show'])).map((l) => ({ ifname: l.ifname, address: l.address, mtu: l.mtu, kind: l.linkinfo?.info_kind, data: l.linkinfo?.info_data, flags: l.flags, master: l.master }));
  // IPv6 link-local addresses and their routes are the kernel's autoconfiguration, added asynchronously after a link
  // comes up (DAD, addrconf): whether they exist yet at the moment of the dump depends on timing, not on how up
  // applied its plan, and vxlab programs none of them — left out of both sides
  const linkLocal = (x: string | undefined) => typeof x === 'string' && x.startsWith('fe80:');
  const addrs = (await ipJson<any[]>(n.ns, ['addr', 'show'])).map((l) => ({ ifname: l.ifname, addrs: l.addr_info.filter((a: any) => !linkLocal(a.local)).map((a: any) => `${a.local}/${a.prefixlen}`) }));
  const routes = [...(await ipJson<any[]>(n.ns, ['route', 'show', 'table', 'all'])), ...(await ipJson<any[]>(n.ns, ['-6', 'route', 'show', 'table', 'all']))].filter((r) => !linkLocal(r.dst));
  const neigh = await ipJson<any[]>(n.ns, ['neigh', 'show', 'nud', 'permanent']);
  const fdb = (await bridgeJson<any[]>(n.ns, ['fdb', 'show'])).map((x) => ({ ...x, ifindex: undefined }));
  // cni0, the veths' pod ends and host ends get kernel-random MACs (and link-local and solicited-node multicast
  // addresses from them): masked. The topology's MACs (underlay eth0, VTEPs) and the multicast groups stay as they are.
  const known = new Set(t.nodes.flatMap((x) => [x.underlayMac, ...x.vteps.map((v) => v.mac)]));
  const mask = (x: string) =>
    x
      .replace(/[0-9a-f]{2}(?::[0-9a-f]{2}){5}/g, (m) => (known.has(m) || /^(01:00:5e|33:33:00|01:80:c2|00:00:00)/.test(m) ? m : 'RANDOM-MAC'))
      .replace(/33:33:ff:[0-9a-f:]{8}/g, '33:33:ff:RANDOM')
      .replace(/fe80::[0-9a-f:]+/g, 'fe80::RANDOM')
      .replace(/"[a-z_]*_timer":[0-9.]+/g, '"timer":0')
      .replace(/"(bridge_id|root_id|designated_root|designated_bridge)":"[^"]*"/g, '"$1":"RANDOM"');
  const m = (xs: unknown[]) => xs.map((x) => mask(JSON.stringify(x))).sort();
  return {
    links: m(links),
    addrs: m(addrs),
    routes: m(routes),
    neigh: m(neigh),
    // learned (non-permanent) entries depend on traffic, not on up
    fdb: m(fdb.filter((f) => f.state === 'permanent')),
    sysctls: await sysctlValues(t, n.ns),
  } as {
    links: string[];
    addrs: string[];
    routes: string[];
    neigh: string[];
    fdb: string[];
    sysctls: Record<string, string>;
  };
}

describe.skipIf(needsRoot)('in-process apply (setns + /proc/sys/net + rtnetlink) equals the plan run by processes (root)', () => {
  const live: Running[] = [];
  afterEach(async () => {
    for (const r of live.splice(0).reverse()) await r.down();
  });

  for (const family of ['ipv4', 'dual'] as const) {
    it(`${family}: every node's links, addresses, routes, neighbours, FDB and sysctls are the same both ways; root untouched`, async () => {
      const rootBefore = readFileSync(SOMAXCONN, 'utf8').trim();
      const want = Number(rootBefore) + 7;
      const prev = process.env.VXLAB_APPLY;
      let viaProcs: Running;
      try {
        process.env.VXLAB_APPLY = 'processes';
        viaProcs = await up(topo(testRunId(), want, family), { ephemeral: true });
        live.push(viaProcs);
      } finally {
        if (prev === undefined) delete process.env.VXLAB_APPLY;
        else process.env.VXLAB_APPLY = prev;
      }
      const inproc = await up(topo(testRunId(), want, family), { ephemeral: true });
      live.push(inproc);
      for (let i = 0; i < inproc.topology.nodes.length; i++) {
        const a = await dumps(viaProcs.topology, i);
        const b = await dumps(inproc.topology, i);
        for (const k of Object.keys(a) as (keyof typeof a)[]) expect(b[k], `${inproc.topology.nodes[i]!.name}: ${k}`).toEqual(a[k]);
        // and it is what the topology asked for (so the comparison is not of two empty tables)
        expect(b.sysctls['net.core.somaxconn']).toBe(String(want));
        expect(b.sysctls['net.ipv4.ip_forward']).toBe('1');
        // flannel's accept_ra=0 on each VTEP device (a name with a dot: the sysctl key writes it as '/')
        expect(Object.entries(b.sysctls).filter(([k, v]) => /^net\.ipv6\.conf\.flannel.*\/1\.accept_ra$/.test(k) && v === '0').length).toBeGreaterThanOrEqual(1);
        const peers = inproc.topology.nodes.length - 1;
        // one permanent FDB entry per peer on each VTEP device (a device shared by both pod families has one)
        const devs = new Set(inproc.topology.nodes[i]!.vteps.map((v) => v.dev)).size;
        expect(b.fdb.filter((f) => f.includes('"ifname":"flannel') && f.includes('"dst"')).length).toBe(peers * devs);
      }
      expect(readFileSync(SOMAXCONN, 'utf8').trim()).toBe(rootBefore);
    });
  }

  it('errors name the namespace and the entry: a duplicate FDB entry (EEXIST), a missing device, an unknown sysctl; the thread is back home after each', async () => {
    const r = await up(topo(testRunId(), 1000, 'ipv4'), { ephemeral: true });
    live.push(r);
    const [a, b] = r.topology.nodes;
    const dup = { mac: b!.vtep.mac, dev: 'flannel.1', dst: b!.ip };
    expect(() => addFdb(a!.ns, [dup])).toThrow(new RegExp(`netns ${a!.ns}: fdb add ${dup.mac} dev flannel.1 dst ${b!.ip} self permanent: RTNETLINK answers: File exists`));
    expect(() => addFdb(a!.ns, [{ ...dup, dev: 'nosuch0' }])).toThrow(`netns ${a!.ns}: fdb add ${dup.mac} dev nosuch0 dst ${b!.ip} self permanent: Cannot find device "nosuch0"`);
    expect(() => writeSysctls(a!.ns, { 'net.ipv4.conf.nosuch0.forwarding': '1' })).toThrow(`netns ${a!.ns}: sysctl net.ipv4.conf.nosuch0.forwarding=1`);
    // back in the root namespace: the root's links are visible, not the node's
    const rootLinks = (await ipJson<any[]>(undefined, ['link', 'show'])).map((l) => l.ifname);
    expect(rootLinks).not.toContain('flannel.1');
    // a new FDB entry lands in the node only
    addFdb(a!.ns, [{ mac: '02:00:00:00:00:99', dev: 'flannel.1', dst: '192.168.7.99' }]);
    const fdb = await bridgeJson<any[]>(a!.ns, ['fdb', 'show', 'dev', 'flannel.1']);
    expect(fdb.find((f) => f.mac === '02:00:00:00:00:99')).toMatchObject({ dst: '192.168.7.99', state: 'permanent' });
    // a node of a 1,000-node topology: 999 entries in one call (acks overflowed the socket's buffer once: ENOBUFS)
    const many = Array.from({ length: 999 }, (_, k) => ({ mac: `02:00:00:01:${(k >> 8).toString(16).padStart(2, '0')}:${(k & 255).toString(16).padStart(2, '0')}`, dev: 'flannel.1', dst: `192.168.8.${(k % 250) + 1}` }));
    addFdb(b!.ns, many);
    const got = (await bridgeJson<any[]>(b!.ns, ['fdb', 'show', 'dev', 'flannel.1'])).filter((f) => f.mac.startsWith('02:00:00:01:'));
    expect(got.length).toBe(999);
  });
});
