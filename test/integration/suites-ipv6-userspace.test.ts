// The userspace VTEP over an IPv6 underlay, through every suite:
// - ipv6-mixed-userspace.yaml: node2's userspace VTEP on UDP6 sockets (TAP MTU 1500 − 70) carrying IPv6 pod traffic
//   between kernel vxlan devices;
// - dual-stack-userspace.yaml: two userspace VTEPs and one kernel device carrying IPv4 and IPv6 pods on one TAP each
//   (user↔user and user↔kernel, both grids), and hand breaks on a userspace node: the check owning each broken thing
//   fails and names node, peer and value.
import { describe, expect } from 'vitest';
import { needsRoot } from '../helpers/root.ts';
import { test, byId, failed } from '../helpers/session.ts';
import { test as topoTest, TOPO } from '../helpers/topo.ts';
import { expectOwnersFail } from '../helpers/breaks.ts';
import { run } from '../../harness/util/exec.ts';
import { vtepFor } from '../../suites/encapsulation.ts';
import type { ResolvedNode, ResolvedTopology } from '../../harness/topology/resolved.ts';

const ALL = ['routes', 'encapsulation', 'mtu', 'connectivity'];

describe.skipIf(needsRoot)('IPv6 underlay, kernel and userspace VTEPs mixed (root)', () => {
  test('ipv6-mixed-userspace.yaml: all four suites pass', async ({ vxrun }) => {
    const r = await vxrun(TOPO('ipv6-mixed-userspace.yaml'));
    expect(failed(r)).toEqual([]);
    expect(r.exitCode).toBe(0);
    const suites = new Set(r.report.results.filter((x) => x.status === 'pass').map((x) => x.suite));
    expect([...suites].sort()).toEqual([...ALL].sort());
    const ids = byId(r);
    for (const id of ['routes/fdb', 'encapsulation/outer-addresses', 'encapsulation/inner-addresses', 'mtu/vtep-mtu', 'mtu/df-boundary', 'mtu/tcp-transfer', 'connectivity/full-mesh']) expect(ids[id], id).toBe('pass');
    const vm = r.report.results.find((x) => x.id === 'mtu/vtep-mtu')!;
    expect(vm.message).toMatch(/overhead 70 \(IPv6 underlay\)/);
    expect(JSON.stringify(vm.observed)).toMatch(/"node2":\{"underlay":1500,"flannel-v6\.1":1430\}/);
  });

  test('dual-stack-userspace.yaml: userspace VTEPs carry both pod families; every suite passes per family', async ({ vxrun }) => {
    const r = await vxrun(TOPO('dual-stack-userspace.yaml'));
    expect(failed(r)).toEqual([]);
    expect(r.exitCode).toBe(0);
    const ids = byId(r);
    for (const id of ['routes/remote-subnets', 'routes/neighbours', 'routes/fdb', 'encapsulation/outer-addresses', 'encapsulation/inner-addresses', 'mtu/vtep-mtu', 'mtu/df-boundary', 'mtu/tcp-transfer', 'connectivity/full-mesh'])
      expect(ids[id], id).toBe('pass');
    const msg = (id: string) => r.report.results.find((x) => x.id === id)!.message ?? '';
    expect(msg('mtu/df-boundary')).toMatch(/IPv4 and IPv6/);
    expect(msg('mtu/tcp-transfer')).toMatch(/IPv4: .*IPv6: /);
    expect(msg('connectivity/full-mesh')).toMatch(/IPv4: 6 directed pairs reachable.*IPv6: 6 directed pairs reachable/);
    const vm = r.report.results.find((x) => x.id === 'mtu/vtep-mtu')!;
    for (const n of ['node2', 'node3']) expect(JSON.stringify(vm.observed)).toContain(`"${n}":{"underlay":1500,"flannel-v6.1":1430}`);
  });
});

type Cmd = [ns: string, argv: string[]];
const node = (t: ResolvedTopology, name: string): ResolvedNode => t.nodes.find((n) => n.name === name)!;
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

interface Break {
  name: string;
  steps: (t: ResolvedTopology) => Cmd[];
  owner: string[];
  fragment: (t: ResolvedTopology) => RegExp;
}

// every break is made on node2, whose VTEP is the userspace one (a TAP, flannel-v6.1, both pod families)
const BREAKS: Break[] = [
  {
    name: "userspace node2 loses its IPv6 route to node3's pods (IPv4 keeps working)",
    steps: (t) => [[node(t, 'node2').ns, ['ip', '-6', 'route', 'del', node(t, 'node3').podSubnets.find((s) => s.includes(':'))!]]],
    owner: ['routes/remote-subnets', 'connectivity/full-mesh'],
    fragment: (t) =>
      new RegExp(`^(node2: missing route ${esc(node(t, 'node3').podSubnets.find((s) => s.includes(':'))!)} via .* for node3|IPv6: node2/pod1 \\(\\S+\\) -> node3/pod1 \\(\\S+\\): expected reachable, observed unreachable)`),
  },
  {
    name: "userspace node2's IPv6 neighbour for node1's VTEP has a wrong MAC (the VTEP floods it to every peer)",
    steps: (t) => [[node(t, 'node2').ns, ['ip', '-6', 'neigh', 'replace', vtepFor(node(t, 'node1'), 6).ip, 'lladdr', '02:00:00:00:66:99', 'dev', vtepFor(node(t, 'node2'), 6).dev, 'nud', 'permanent']]],
    owner: ['routes/neighbours', 'encapsulation/inner-addresses'],
    fragment: (t) =>
      new RegExp(
        `^node2(: stale neighbour ${esc(vtepFor(node(t, 'node1'), 6).ip)}: expected lladdr ${esc(vtepFor(node(t, 'node1'), 6).mac)} \\(node1\\), observed 02:00:00:00:66:99| -> node1: inner IPv6 destination MAC: expected ${esc(vtepFor(node(t, 'node1'), 6).mac)} \\(flannel-v6\\.1 of node1\\), observed 02:00:00:00:66:99)`,
      ),
  },
  {
    name: "userspace node2's TAP given the IPv4 overhead (1450 on a 1500-byte IPv6 underlay)",
    steps: (t) => [[node(t, 'node2').ns, ['ip', 'link', 'set', vtepFor(node(t, 'node2'), 6).dev, 'mtu', '1450']]],
    owner: ['mtu/vtep-mtu', 'mtu/df-boundary'],
    fragment: () => /^node2(: flannel-v6\.1 MTU 1450 > underlay eth0 MTU 1500 − 70 \(VXLAN over IPv6\): 20 bytes too large| \(node, via flannel-v6\.1\) -> node\d \(fd00:10:244:\d::\) \[IPv6\]: DF ping of 1383 bytes failed silently)/,
  },
];

describe.skipIf(needsRoot)('dual-stack userspace hand breaks: the owning check fails and names node, peer and value (root)', () => {
  for (const b of BREAKS) {
    topoTest(b.name, async ({ bringUp }) => {
      const r = await bringUp(TOPO('dual-stack-userspace.yaml'));
      const t = r.topology;
      expect(node(t, 'node2').vtep.kind).toBe('userspace');
      for (const [ns, argv] of b.steps(t)) await run(argv, { ns });
      await expectOwnersFail(t, r.state.workDir, b.owner, b.fragment(t));
    });
  }
});
