// overlay.staticPodNeighbours on a live topology: the pods' and nodes' neighbour entries are the permanent ones the
// plan wrote (deterministic MACs on eth0 and cni0 match), every suite passes over them, and the suites' traffic —
// the full matrix included — resolves nothing by ARP/ND: afterwards no pod holds a dynamic entry and no node a
// dynamic entry for a pod. That is what keeps a 1,000-node run inside the kernel's shared gc_thresh3 (1,024 by
// default), which this test cannot lower (a root-namespace sysctl): the bench's 1,000-node run shows that part.
import { describe, expect } from 'vitest';
import { needsRoot } from '../helpers/root.ts';
import { test, tempTopology } from '../helpers/topo.ts';
import { runSuites } from '../../harness/runner/runner.ts';
import { SUITES } from '../../suites/index.ts';
import { ipJson, run } from '../../harness/util/exec.ts';
import type { ResolvedTopology } from '../../harness/topology/resolved.ts';

type Neigh = { dst: string; dev: string; lladdr?: string; state?: string[] };
const neighs = (ns: string) => ipJson<Neigh[]>(ns, ['neigh', 'show', 'nud', 'all']);
const key = (e: Neigh) => `${e.dst} ${e.lladdr ?? '-'} ${(e.state ?? []).join(',')}`;

async function suitesPassOverPermanentEntries(t: ResolvedTopology, workDir: string) {
  // the MACs the plan chose are the devices' own
  for (const n of t.nodes) {
    if (n.bridge) expect((await ipJson<{ address: string }[]>(n.ns, ['link', 'show', 'cni0']))[0]!.address, `${n.name} cni0`).toBe(n.bridge.mac);
    for (const p of n.pods) expect((await ipJson<{ address: string }[]>(p.ns, ['link', 'show', 'eth0']))[0]!.address, `${p.ns} eth0`).toBe(p.mac);
  }
  const { results } = await runSuites(t, Object.values(SUITES), { workDir });
  const bad = results.filter((x) => x.status === 'fail').map((x) => `${x.id}: ${x.message}`);
  expect(bad).toEqual([]);
  expect(results.find((x) => x.id === 'connectivity/full-mesh')!.status).toBe('pass');
  for (const n of t.nodes) {
    for (const p of n.pods) {
      // every entry of the pod is one the plan wrote, permanent; the matrix made none of its own
      const want = p.neighbours!.map(([ip, mac]) => `${ip} ${mac} PERMANENT`).sort();
      // (multicast entries are NOARP: never resolved, a fixed few per interface)
      const have = (await neighs(p.ns)).filter((e) => !(e.state ?? []).includes('NOARP'));
      expect(have.map(key).sort(), `${p.ns}: neighbours after every suite`).toEqual(want);
    }
    const podIps = new Set(n.pods.flatMap((p) => p.addrs.map((a) => a.ip)));
    const nodeHave = (await neighs(n.ns)).filter((e) => podIps.has(e.dst));
    expect(nodeHave.map((e) => `${e.dst} ${e.lladdr} ${e.dev} ${(e.state ?? []).join(',')}`).sort(), `${n.name}: entries for its pods`).toEqual(
      n.podNeighbours!.map(([ip, mac, dev]) => `${ip} ${mac} ${dev} PERMANENT`).sort(),
    );
  }
}

describe.skipIf(needsRoot)('overlay.staticPodNeighbours on live topologies', { timeout: 240_000 }, () => {
  test('flannel dual-stack, 2 nodes × 3 pods: cni0 and eth0 MACs, permanent entries, every suite passes, no dynamic entry made', async ({ bringUp }) => {
    const f = tempTopology(
      `name: spnf\nunderlay: { segments: [{ name: rack1, cidr: 192.168.70.0/24 }] }\n` +
        `overlay: { layout: flannel, podCidr: [10.71.0.0/16, "fd00:71::/48"], nodeCidrSize: [24, 64], staticPodNeighbours: true }\n` +
        `nodes: [{ name: n1, pods: 3 }, { name: n2, pods: 3 }]\n`,
    );
    const r = await bringUp(f);
    expect(r.topology.nodes[0]!.pods[0]!.neighbours).toHaveLength(2 + 2 * 2);
    await suitesPassOverPermanentEntries(r.topology, r.state.workDir);
  });

  test('calico IPv4, 2 nodes × 2 pods: the gateway 169.254.1.1 at ee:ee:ee:ee:ee:ee, the node\'s entries on the cali veths', async ({ bringUp }) => {
    const f = tempTopology(
      `name: spnc\nunderlay: { segments: [{ name: rack1, cidr: 192.168.72.0/24 }] }\n` +
        `overlay: { layout: calico, podCidr: 10.73.0.0/16, staticPodNeighbours: true }\n` +
        `nodes: [{ name: n1, pods: 2 }, { name: n2, pods: 2 }]\n`,
    );
    const r = await bringUp(f);
    expect(r.topology.nodes[0]!.pods[0]!.neighbours).toEqual([['169.254.1.1', 'ee:ee:ee:ee:ee:ee']]);
    await suitesPassOverPermanentEntries(r.topology, r.state.workDir);
  });

  test('underlay.staticArp on a routed underlay: the router and its nodes hold each other permanently; every suite passes; no dynamic underlay entry is made', async ({ bringUp }) => {
    const f = tempTopology(
      `name: spnr\nunderlay: { staticArp: true, segments: [{ name: r1, cidr: 192.168.74.0/24 }, { name: r2, cidr: 192.168.75.0/24 }] }\n` +
        `overlay: { layout: calico, podCidr: 10.76.0.0/16 }\n` +
        `nodes: [{ name: a1, segment: r1, pods: 1 }, { name: a2, segment: r1, pods: 1 }, { name: b1, segment: r2, pods: 1 }]\n`,
    );
    const r = await bringUp(f);
    const t = r.topology;
    for (const s of t.segments) expect((await ipJson<{ address: string }[]>(t.routerNs!, ['link', 'show', s.routerIf!]))[0]!.address).toBe(s.routerMac);
    // each segment bridge knows its ports' MACs from the start (static FDB entries: no first frame is flooded)
    for (const s of t.segments) {
      const fdb = JSON.parse((await run(['bridge', '-j', 'fdb', 'show', 'br', s.bridge], { ns: s.ns })).stdout) as { mac: string; ifname: string; state?: string }[];
      const want = [...t.nodes.filter((n) => n.segment === s.name).map((n) => `${n.underlayMac} ${n.segIf} static`), `${s.routerMac} ${s.segRouterIf} static`].sort();
      expect(fdb.filter((e) => e.state === 'static').map((e) => `${e.mac} ${e.ifname} ${e.state}`).sort(), `${s.name}: static FDB`).toEqual(want);
    }
    const { results } = await runSuites(t, Object.values(SUITES), { workDir: r.state.workDir });
    expect(results.filter((x) => x.status === 'fail').map((x) => `${x.id}: ${x.message}`)).toEqual([]);
    expect(results.find((x) => x.id === 'connectivity/full-mesh')!.status).toBe('pass');
    const nodeIps = new Set(t.nodes.map((n) => n.ip));
    const router = (await neighs(t.routerNs!)).filter((e) => nodeIps.has(e.dst));
    expect(router.map((e) => `${e.dst} ${e.lladdr} ${(e.state ?? []).join(',')}`).sort()).toEqual(t.nodes.map((n) => `${n.ip} ${n.underlayMac} PERMANENT`).sort());
    for (const n of t.nodes) {
      const s = t.segments.find((x) => x.name === n.segment)!;
      const under = (await neighs(n.ns)).filter((e) => e.dev === 'eth0' && !(e.state ?? []).includes('NOARP'));
      expect(under.map(key).sort(), `${n.name}: underlay neighbours`).toEqual(n.underlayNeighbours!.map(([ip, mac]) => `${ip} ${mac} PERMANENT`).sort());
      expect(under.map((e) => e.dst)).toContain(s.routerIp);
    }
  });

  test('underlay.ipv6LinkLocal: false on an IPv4 underlay: no IPv6 on eth0, the segment bridge or its ports; dual-stack pods and the VTEP keep theirs; every suite passes for both families', async ({ bringUp }) => {
    const f = tempTopology(
      `name: v6ll\nunderlay: { ipv6LinkLocal: false, segments: [{ name: rack1, cidr: 192.168.78.0/24 }] }\n` +
        `overlay: { layout: flannel, podCidr: [10.79.0.0/16, "fd00:79::/48"], nodeCidrSize: [24, 64] }\n` +
        `nodes: [{ name: n1, pods: 1 }, { name: n2, pods: 1 }, { name: n3, pods: 1 }]\n`,
    );
    const r = await bringUp(f);
    const t = r.topology;
    const seg = t.segments[0]!;
    expect(seg.ipv6Off).toBe(true);
    const v6 = async (ns: string, dev?: string) => (await ipJson<{ ifname: string; addr_info?: unknown[] }[]>(ns, ['-6', 'addr', 'show', ...(dev ? ['dev', dev] : [])])).filter((l) => (l.addr_info ?? []).length).map((l) => l.ifname);
    expect(await v6(seg.ns!), 'segment namespace: bridge and ports').toEqual([]);
    for (const n of t.nodes) {
      expect(await v6(n.ns, 'eth0'), `${n.name} eth0`).toEqual([]);
      // the overlay keeps IPv6: the VTEP's IPv6 address, cni0's, the pods'
      expect(await v6(n.ns), `${n.name}: IPv6 still on the overlay`).toEqual(expect.arrayContaining([n.vtep.dev, 'cni0']));
      expect(await v6(n.pods[0]!.ns, 'eth0')).toEqual(['eth0']);
    }
    const { results } = await runSuites(t, Object.values(SUITES), { workDir: r.state.workDir });
    expect(results.filter((x) => x.status === 'fail').map((x) => `${x.id}: ${x.message}`)).toEqual([]);
    expect(results.find((x) => x.id === 'connectivity/full-mesh')!.message).toMatch(/IPv6: 6 directed pairs reachable/);
  });
});
