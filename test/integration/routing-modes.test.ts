// Routing modes on live topologies: flannel DirectRouting and calico vxlanMode CrossSubnet pass every suite, and the
// auditor's hand-breaks — a direct route swapped for a VXLAN one and the reverse, with ip/bridge inside the run's own
// namespaces — make the owning checks fail naming node, peer and value.
import { describe, expect } from 'vitest';
import { expectOwnersFail } from '../helpers/breaks.ts';
import { needsRoot } from '../helpers/root.ts';
import { test, TOPO } from '../helpers/topo.ts';
import { runSuites } from '../../harness/runner/runner.ts';
import { SUITES } from '../../suites/index.ts';
import type { ResolvedTopology } from '../../harness/topology/resolved.ts';
import { run } from '../../harness/util/exec.ts';
import { topologyGraph } from '../../harness/graph/index.ts';

/** every difference the live graph draws in red (nodes, tunnels, segments) */
const graphDiffs = async (t: ResolvedTopology, workDir: string) => {
  const g = await topologyGraph(t, { live: { workDir } });
  return JSON.stringify(g).match(/"diffs":\[[^\]]+\]/g) ?? [];
};

const node = (t: ResolvedTopology, name: string) => t.nodes.find((n) => n.name === name)!;
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const ip = (ns: string, ...argv: string[]) => run(['ip', ...argv], { ns });

describe.skipIf(needsRoot)('routing modes (root)', () => {
  for (const f of ['flannel-directrouting.yaml', 'calico-crosssubnet.yaml']) {
    test(`${f}: routes, encapsulation, mtu and connectivity pass; routing-mode judges plain and tunnelled pairs`, async ({ bringUp }) => {
      const r = await bringUp(TOPO(f));
      const { results } = await runSuites(r.topology, ['routes', 'encapsulation', 'mtu', 'connectivity'].map((s) => SUITES[s]!), { workDir: r.state.workDir });
      expect(results.filter((x) => x.status === 'fail').map((x) => `${x.id}: ${x.message}`)).toEqual([]);
      const rm = results.find((x) => x.id === 'encapsulation/routing-mode')!;
      expect(rm.status).toBe('pass');
      // node1 <-> node2 share rack1 (plain), each of them <-> node3 across the router (VXLAN)
      expect(rm.message).toMatch(/6 node pairs in .*: 2 crossed plain \(same subnet\), 4 over VXLAN/);
    });
  }

  test('flannel DirectRouting: node1 routes node2 over VXLAN instead (route, ARP, FDB by hand): remote-subnets and routing-mode fail naming the pair', async ({ bringUp }) => {
    const r = await bringUp(TOPO('flannel-directrouting.yaml'));
    const t = r.topology;
    const [n1, n2] = [node(t, 'node1'), node(t, 'node2')];
    await ip(n1.ns, 'neigh', 'replace', n2.vtep.ip, 'lladdr', n2.vtep.mac, 'dev', n1.vtep.dev, 'nud', 'permanent');
    await run(['bridge', 'fdb', 'append', n2.vtep.mac, 'dev', n1.vtep.dev, 'dst', n2.ip, 'self', 'permanent'], { ns: n1.ns });
    await ip(n1.ns, 'route', 'replace', n2.podSubnet, 'via', n2.vtep.ip, 'dev', n1.vtep.dev, 'onlink');
    await expectOwnersFail(t, r.state.workDir, ['routes/remote-subnets'], new RegExp(`node1: route ${esc(n2.podSubnet)} for node2: expected the direct route ${esc(n2.podSubnet)} via ${esc(n2.ip)} dev eth0 \\(DirectRouting: same subnet rack1\\), observed ${esc(n2.podSubnet)} via ${esc(n2.vtep.ip)} dev flannel\\.1 onlink \\(VXLAN\\)`));
    await expectOwnersFail(t, r.state.workDir, ['encapsulation/routing-mode'], /node1 -> node2: expected plain pod traffic \(DirectRouting: same subnet rack1\), observed \d+ VXLAN-encapsulated packets/);
    // flannel writes no ARP or FDB entry for a direct-routed peer: the ones added by hand are extra
    await expectOwnersFail(t, r.state.workDir, ['routes/neighbours', 'routes/fdb'], new RegExp(`node1: extra (neighbour ${esc(n2.vtep.ip)}|FDB entry ${esc(n2.vtep.mac)})`));
  });

  test('flannel DirectRouting: node1 routes node3 (another subnet) plainly through the router: remote-subnets, routing-mode and no-plain-pod-traffic fail', async ({ bringUp }) => {
    const r = await bringUp(TOPO('flannel-directrouting.yaml'));
    const t = r.topology;
    const [n1, n3] = [node(t, 'node1'), node(t, 'node3')];
    const gw = n1.gateway!;
    await ip(n1.ns, 'route', 'replace', n3.podSubnet, 'via', gw, 'dev', 'eth0');
    // the router learns both pod subnets, so the plain packets reach node3 and its answers come back
    await ip(t.routerNs!, 'route', 'replace', n3.podSubnet, 'via', n3.ip);
    await ip(t.routerNs!, 'route', 'replace', n1.podSubnet, 'via', n1.ip);
    await expectOwnersFail(t, r.state.workDir, ['routes/remote-subnets'], new RegExp(`node1: route ${esc(n3.podSubnet)} for node3: expected the VXLAN route ${esc(n3.podSubnet)} via ${esc(n3.vtep.ip)} dev flannel\\.1 onlink \\(DirectRouting: node3 is in rack2, not rack1\\), observed ${esc(n3.podSubnet)} via ${esc(gw)} dev eth0 \\(direct\\)`));
    await expectOwnersFail(t, r.state.workDir, ['encapsulation/routing-mode'], /node1 -> node3: expected VXLAN \(DirectRouting: rack1 → rack2, a different subnet\), observed \d+ plain pod packets/);
    await expectOwnersFail(t, r.state.workDir, ['encapsulation/no-plain-pod-traffic'], /unencapsulated pod-CIDR packets on the underlay/);
  });

  test('live graph: a DirectRouting topology draws no difference; a deleted direct route is drawn on its tunnel', async ({ bringUp }) => {
    const r = await bringUp(TOPO('flannel-directrouting.yaml'));
    const t = r.topology;
    expect(await graphDiffs(t, r.state.workDir)).toEqual([]);
    await ip(node(t, 'node1').ns, 'route', 'del', node(t, 'node2').podSubnet);
    expect((await graphDiffs(t, r.state.workDir)).join('\n')).toMatch(new RegExp(`node1→node2: no route ${esc(node(t, 'node2').podSubnet)}`));
  });

  test('calico CrossSubnet: node1 tunnels to node2 (same subnet) through vxlan.calico: remote-subnets and routing-mode fail naming the pair', async ({ bringUp }) => {
    const r = await bringUp(TOPO('calico-crosssubnet.yaml'));
    const t = r.topology;
    const [n1, n2] = [node(t, 'node1'), node(t, 'node2')];
    // felix's neighbour and FDB entries for node2 exist (it writes every VTEP's): only the route changes form
    await ip(n1.ns, 'route', 'replace', n2.podSubnet, 'via', n2.vtep.ip, 'dev', n1.vtep.dev, 'onlink', 'proto', '80', 'mtu', String(n1.vtep.mtu));
    await expectOwnersFail(t, r.state.workDir, ['routes/remote-subnets'], new RegExp(`node1: route ${esc(n2.podSubnet)} for node2: expected the direct route ${esc(n2.podSubnet)} via ${esc(n2.ip)} dev eth0 proto 80 \\(vxlanMode CrossSubnet: same subnet rack1\\), observed .* dev vxlan\\.calico onlink \\(VXLAN\\)`));
    await expectOwnersFail(t, r.state.workDir, ['encapsulation/routing-mode'], /node1 -> node2: expected plain pod traffic \(vxlanMode CrossSubnet: same subnet rack1\), observed \d+ VXLAN-encapsulated packets/);
  });

  test('calico CrossSubnet: a no-encap route with the VXLAN MTU on it, and a node whose neighbour for a same-subnet peer is gone', async ({ bringUp }) => {
    const r = await bringUp(TOPO('calico-crosssubnet.yaml'));
    const t = r.topology;
    const [n1, n2] = [node(t, 'node1'), node(t, 'node2')];
    await ip(n1.ns, 'route', 'replace', n2.podSubnet, 'via', n2.ip, 'dev', 'eth0', 'proto', '80', 'mtu', '1450');
    await ip(n2.ns, 'neigh', 'del', n1.vtep.ip, 'dev', n2.vtep.dev);
    await expectOwnersFail(t, r.state.workDir, ['routes/remote-subnets'], new RegExp(`node1: route ${esc(n2.podSubnet)} for node2: expected no mtu \\(felix's no-encap route has none\\), observed mtu 1450`));
    await expectOwnersFail(t, r.state.workDir, ['routes/neighbours'], new RegExp(`node2: missing neighbour ${esc(n1.vtep.ip)} lladdr ${esc(n1.vtep.mac)} \\(node1\\)`));
  });
});
