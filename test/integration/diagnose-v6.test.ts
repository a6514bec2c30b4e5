// Diagnosis names the cause (#14), IPv6: each test breaks one thing by hand on a live dual-stack or IPv6 topology and
// asserts that the owning check fails naming node, peer and value (NDP, ICMPv6 errors, a Packet Too Big that never
// arrives). The IPv4 rows are in diagnose.test.ts; the two files run in parallel workers (each test waits on the
// kernel far more than it computes).
import { describe, expect } from 'vitest';
import { join } from 'node:path';
import { needsRoot } from '../helpers/root.ts';
import { test, TOPO } from '../helpers/topo.ts';
import { esc, nft, node } from '../helpers/diagnose.ts';
import type { ResolvedTopology } from '../../harness/topology/resolved.ts';
import { runSuites } from '../../harness/runner/runner.ts';
import { SUITES } from '../../suites/index.ts';
import { run } from '../../harness/util/exec.ts';
import { PMTU_SETTLE_S, PMTU_WAIT_S } from '../../suites/mtu.ts';

describe.skipIf(needsRoot)('path MTU over IPv6: a Packet Too Big dropped by hand', () => {
  test("a narrow IPv6 path whose Packet Too Big is dropped by hand: path-mtu names node, peer and the 3930 it should have learned, reading right after its burst on df-boundary's silence", async ({ bringUp }) => {
    // ipv6-narrow-path.yaml without a fault: node1 (rack1, 9000) -> router (4000 into rack2) -> node3
    const r = await bringUp(TOPO('bugs/ipv6-narrow-path.yaml'));
    const t = r.topology;
    const n1 = node(t, 'node1');
    // by hand: node1 drops every ICMPv6 Packet Too Big it receives (the router's answer to its oversize packets)
    for (const [ns, argv] of nft(n1.ns, 'inet', 'input', 'icmpv6 type packet-too-big drop')) await run(argv, { ns });
    const { results } = await runSuites(t, [SUITES.mtu!], { workDir: join(r.state.workDir) });
    const pm = results.find((x) => x.id === 'mtu/path-mtu')!;
    expect(pm.status).toBe('fail');
    const d13 = pm.diffs!.find((d) => d.startsWith('node1 -> node3:'))!;
    expect(d13).toMatch(/^node1 -> node3: node1 -> 10\.244\.2\.0 via flannel\.1: expected a path MTU exception of 3930 \(4000 − 70, VXLAN over IPv6\), observed none \(an ICMPv6 Packet Too Big that never arrived leaves none\); df-boundary's 3903-byte DF burst to 10\.244\.2\.0 met silence too/);
    // df-boundary's oversize burst node1 -> node3's VTEP met its silence: path-mtu read after PMTU_SETTLE_S, not PMTU_WAIT_S
    const o13 = (pm.observed as any)['node1 -> node3'];
    expect(o13).toMatchObject({ routeGetMtu: null, readAfterMs: PMTU_SETTLE_S * 1000, silenceFrom: expect.stringMatching(/^df-boundary, node1 -> 10\.244\.2\.0: a burst of 3 DF pings of 3903 bytes, none answered/) });
    // path-mtu alone (no df-boundary before it): the same verdict, with its own silence waited out
    const alone = { ...SUITES.mtu!, checks: SUITES.mtu!.checks.filter((c) => c.id === 'mtu/path-mtu') };
    const again = (await runSuites(t, [alone], { workDir: join(r.state.workDir) })).results[0]!;
    expect(again.status).toBe('fail');
    const a13 = again.diffs!.find((d) => d.startsWith('node1 -> node3:'))!;
    expect(a13).toMatch(/expected a path MTU exception of 3930 \(4000 − 70, VXLAN over IPv6\), observed none/);
    expect(a13).not.toMatch(/df-boundary/);
    expect((again.observed as any)['node1 -> node3']).toMatchObject({ routeGetMtu: null, readAfterMs: PMTU_WAIT_S * 1000 });
    expect((again.observed as any)['node1 -> node3'].silenceFrom).toBeUndefined();
    // the filter removed: node1 learns exactly 3930 (the check can pass on this path)
    await run(['nft', 'delete', 'table', 'inet', 'diagbreak'], { ns: n1.ns });
    const healed = (await runSuites(t, [SUITES.mtu!], { workDir: join(r.state.workDir) })).results.find((x) => x.id === 'mtu/path-mtu')!;
    expect((healed.observed as any)['node1 -> node3'].routeGetMtu).toBe(3930);
    expect(healed.diffs?.some((d) => d.startsWith('node1 -> node3:')) ?? false).toBe(false);
  });
});

// IPv6 (#14, ICMPv6/NDP): on a dual-stack topology, IPv6 breaks by hand; the IPv6 matrix fails with its cause named
// like the IPv4 ones (IPv4 stays reachable, so the message says so and each cause carries its family).
interface Row6 {
  name: string;
  steps: (t: ResolvedTopology) => [string, string[]][];
  cause: (t: ResolvedTopology) => RegExp;
}
const V6 = (n: ResolvedTopology['nodes'][number]) => n.vteps.find((v) => v.family === 6)!;
const ROWS6: Row6[] = [
  {
    name: "IPv6: node1's neighbour entry for node2's VTEP is gone, and NDP cannot resolve it",
    steps: (t) => [[node(t, 'node1').ns, ['ip', '-6', 'neigh', 'del', V6(node(t, 'node2')).ip, 'dev', V6(node(t, 'node1')).dev]]],
    cause: (t) => new RegExp(`IPv6 node1/pod1 -> node2/pod1: no neighbour entry on node1 for ${esc(V6(node(t, 'node2')).ip)} dev flannel\\.1 \\(NDP (failed|incomplete): state (FAILED|INCOMPLETE)\\): expected lladdr ${esc(V6(node(t, 'node2')).mac)} \\(node2's VTEP\\)`),
  },
  {
    name: 'IPv6: node2 rejects forwarded pod traffic with an ICMPv6 error (administratively prohibited)',
    steps: (t) => nft(node(t, 'node2').ns, 'inet', 'forward', `ip6 daddr ${node(t, 'node2').pods[0]!.addrs.find((a) => a.family === 6)!.ip} reject with icmpv6 type admin-prohibited`),
    cause: (t) => new RegExp(`IPv6 node\\d/pod1 -> node2/pod1: ICMPv6 error from node2 \\(flannel\\.1, ${esc(V6(node(t, 'node2')).ip)}\\): "Destination unreachable: Administratively prohibited"`),
  },
  {
    name: "IPv6: pod1 on node1 cannot resolve its gateway (node1 drops the pod's neighbour solicitations)",
    steps: (t) => [
      ...nft(node(t, 'node1').ns, 'inet', 'input', 'iifname cni0 icmpv6 type nd-neighbor-solicit drop'),
      [node(t, 'node1').pods[0]!.ns, ['ip', '-6', 'neigh', 'flush', 'dev', 'eth0']],
    ],
    cause: (t) => new RegExp(`IPv6 node1/pod1 -> node\\d/pod1: NDP for the gateway failed in pod node1/pod1: ${esc(node(t, 'node1').pods[0]!.addrs.find((a) => a.family === 6)!.gateway)} dev eth0 state (FAILED|INCOMPLETE)`),
  },
];

describe.skipIf(needsRoot)('diagnosis of an unreachable IPv6 pair names the cause (NDP, ICMPv6)', () => {
  for (const row of ROWS6) {
    test(row.name, async ({ bringUp }) => {
      const r = await bringUp(TOPO('dual-stack-3node.yaml'));
      const t = r.topology;
      for (const [ns, argv] of row.steps(t)) await run(argv, { ns });
      const { results } = await runSuites(t, [SUITES.connectivity!], { workDir: join(r.state.workDir) });
      const mesh = results.find((x) => x.id === 'connectivity/full-mesh')!;
      expect(mesh.status, mesh.message).toBe('fail');
      expect(mesh.message).toMatch(/^IPv6: \d+ of \d+ directed pairs wrong .*\(IPv4 as expected\); cause: IPv6 /);
      const re = row.cause(t);
      const lines = [mesh.message ?? '', ...(mesh.details ?? '').split('\n')];
      expect(lines.some((l) => re.test(l)), `${re} in:\n${lines.join('\n')}`).toBe(true);
    });
  }
});
