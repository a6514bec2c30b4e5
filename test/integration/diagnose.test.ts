// Diagnosis names the cause (#14): each row breaks one thing by hand on a live topology, inside the run's own
// namespaces, and asserts that connectivity/full-mesh (and the mtu checks that need the pair) fail naming the first
// place the packet went wrong — node, peer and value — and that tcp-transfer / df-boundary answer from the matrix's
// evidence instead of probing a dead pair themselves. The IPv6 rows and the IPv6 path-MTU case are in
// diagnose-v6.test.ts (split so that the two run in parallel workers: ~75 s of mostly waiting in one file was the
// last to finish in `npm test`).
import { describe, expect } from 'vitest';
import { join } from 'node:path';
import { needsRoot } from '../helpers/root.ts';
import { test, TOPO } from '../helpers/topo.ts';
import type { ResolvedTopology } from '../../harness/topology/resolved.ts';
import { runSuites } from '../../harness/runner/runner.ts';
import { SUITES } from '../../suites/index.ts';
import { run } from '../../harness/util/exec.ts';
import { HOLE_STALL_MS } from '../../suites/mtu.ts';
import { esc, nft, node } from '../helpers/diagnose.ts';

interface Row {
  name: string;
  file?: string;
  steps: (t: ResolvedTopology) => [string, string[]][];
  /** the cause the full-mesh failure must name */
  cause: (t: ResolvedTopology) => RegExp;
}

const ROWS: Row[] = [
  {
    name: 'no route in the pod (ENETUNREACH)',
    steps: (t) => [[node(t, 'node1').pods[0]!.ns, ['ip', 'route', 'del', 'default']]],
    cause: (t) => new RegExp(`no route in pod node1/pod1 to 10\\.244\\.\\d\\.\\d \\(ENETUNREACH\\): missing route ${esc(t.overlay.podCidr)} or default via 10\\.244\\.1\\.1`),
  },
  {
    name: 'no route on the node',
    steps: (t) => [[node(t, 'node1').ns, ['ip', 'route', 'del', node(t, 'node2').podSubnet, 'dev', node(t, 'node1').vtep.dev]]],
    cause: (t) => new RegExp(`no route on node1 .*missing route ${esc(node(t, 'node2').podSubnet)} via ${esc(node(t, 'node2').vtep.ip)} dev flannel\\.1`),
  },
  {
    name: 'no neighbour entry on the node',
    steps: (t) => [[node(t, 'node1').ns, ['ip', 'neigh', 'del', node(t, 'node2').vtep.ip, 'dev', node(t, 'node1').vtep.dev]]],
    cause: (t) => new RegExp(`no neighbour entry on node1 for ${esc(node(t, 'node2').vtep.ip)} dev flannel\\.1.*expected lladdr ${esc(node(t, 'node2').vtep.mac)} \\(node2's VTEP\\)`),
  },
  {
    name: 'no FDB entry on the node',
    steps: (t) => [[node(t, 'node1').ns, ['bridge', 'fdb', 'del', node(t, 'node2').vtep.mac, 'dev', node(t, 'node1').vtep.dev, 'dst', node(t, 'node2').ip, 'self']]],
    cause: (t) => new RegExp(`no FDB entry on node1 for ${esc(node(t, 'node2').vtep.mac)} dev flannel\\.1: expected dst ${esc(node(t, 'node2').ip)} \\(node2\\)`),
  },
  {
    name: 'dropped on the underlay (the segment bridge)',
    steps: (t) => nft(t.segments[0]!.ns!, 'bridge', 'forward', `ip saddr ${node(t, 'node1').ip} ip daddr ${node(t, 'node2').ip} udp dport 4789 drop`),
    cause: (t) => new RegExp(`dropped on the underlay: \\d+ VXLAN packet\\(s\\) left node1's eth0 \\(${esc(node(t, 'node1').ip)} -> ${esc(node(t, 'node2').ip)}:4789\\), none arrived at node2's eth0`),
  },
  {
    name: 'dropped by the receiver (nftables input)',
    steps: (t) => nft(node(t, 'node2').ns, 'inet', 'input', 'udp dport 4789 counter drop'),
    cause: () => /arrived at node2's eth0 \(\d+ packet\(s\) from node\d\) and dropped there by nftables inet diagbreak\/c: udp dport 4789 drop \(\d+ packets\)/,
  },
  {
    name: 'rejected by the receiving VTEP (port mismatch)',
    file: 'bugs/port-mismatch.yaml',
    steps: () => [],
    cause: () => /rejected by node2's VTEP: \d+ packet\(s\) from node\d arrive on UDP port 4789, node2's VTEP listens on 8472/,
  },
];

describe.skipIf(needsRoot)('diagnosis of an unreachable pair names the cause', () => {
  for (const row of ROWS) {
    test(row.name, async ({ bringUp }) => {
      const r = await bringUp(TOPO(row.file ?? 'flannel-3node.yaml'));
      const t = r.topology;
      for (const [ns, argv] of row.steps(t)) await run(argv, { ns });
      const suites = [SUITES.connectivity!, SUITES.mtu!];
      const { results } = await runSuites(t, suites, { workDir: join(r.state.workDir) });
      const mesh = results.find((x) => x.id === 'connectivity/full-mesh')!;
      expect(mesh.status, mesh.message).toBe('fail');
      const re = row.cause(t);
      const lines = [mesh.message ?? '', ...(mesh.details ?? '').split('\n')];
      expect(lines.some((l) => re.test(l)), `${re} in:\n${lines.join('\n')}`).toBe(true);
      expect(mesh.details).toMatch(/cause per directed node pair:\n  node\d\/pod\d -> node\d\/pod\d: /);
      // how many rounds it took, and why retrying stopped, is part of the report
      expect(mesh.message).toMatch(/after \d+ round\(s\).*retries stopped: /);
      // the pair tcp-transfer uses (node1/pod1 -> node2/pod1) is dead in every row: answered from the matrix's evidence
      const tcp = results.find((x) => x.id === 'mtu/tcp-transfer')!;
      expect(tcp.status).toBe('fail');
      expect(tcp.message).toMatch(/the connection cannot come up: node1\/pod1 -> node2\/pod1 \(10\.244\.2\.2\) does not answer even small pings \(connectivity matrix, \d+ round/);
      const df = results.find((x) => x.id === 'mtu/df-boundary')!;
      expect(df.status).toBe('fail');
      expect(df.diffs!.some((d) => /^node1\/pod1 -> node2\/pod1: DF boundary not probed: .*does not answer even small pings \(connectivity matrix/.test(d))).toBe(true);
    });
  }

  test('a black hole (small packets pass, big ones vanish) is still told apart, and names the MTU', async ({ bringUp }) => {
    const r = await bringUp(TOPO('bugs/mtu-blackhole.yaml'));
    const t = r.topology;
    // the bug file's fault, by hand: every node drops the frag-needed answers it would send to its pods
    for (const n of t.nodes) for (const [ns, argv] of nft(n.ns, 'inet', 'output', 'icmp type destination-unreachable icmp code frag-needed drop')) await run(argv, { ns });
    const { results } = await runSuites(t, [SUITES.connectivity!, SUITES.mtu!], { workDir: join(r.state.workDir) });
    expect(results.find((x) => x.id === 'connectivity/full-mesh')!.status).toBe('pass');
    const tcp = results.find((x) => x.id === 'mtu/tcp-transfer')!;
    expect(tcp.status).toBe('fail');
    expect(tcp.message).toMatch(/node1\/pod1 -> node2\/pod1 .*stalled: no data arrived .*the signature of an MTU black hole; cause: too big: node1\/pod1 eth0 MTU 1500 > the overlay path's 1450 \(node\d flannel\.1 MTU 1450\)/);
    const df = results.find((x) => x.id === 'mtu/df-boundary')!;
    expect(df.message).toMatch(/failed silently/);
    // the oversize DF probe is one burst (3 pings), not probe-wait-probe; the transfer's stall is decided on
    // df-boundary's evidence (a HOLE_STALL_MS window, and the sender's retransmissions), and the message names that evidence
    expect(df.message).toMatch(/a burst of 3, 100 ms apart, none answered/);
    expect(tcp.message).toMatch(new RegExp(`no data arrived for ${HOLE_STALL_MS} ms .*while the sender retransmitted \\(retrans \\d+.*; df-boundary showed it: 1423-byte DF pings vanish without an ICMP error while small packets pass`));
    expect((tcp.observed as any).IPv4).toMatchObject({ connected: true, stallWindowMs: HOLE_STALL_MS });
    // without that evidence (tcp-transfer alone), the same black hole is decided by the usual 3 s stall window
    const alone = { ...SUITES.mtu!, checks: SUITES.mtu!.checks.filter((c) => c.id === 'mtu/tcp-transfer') };
    const again = (await runSuites(t, [SUITES.connectivity!, alone], { workDir: join(r.state.workDir) })).results.find((x) => x.id === 'mtu/tcp-transfer')!;
    expect(again.status).toBe('fail');
    expect(again.message).toMatch(/no data arrived for 3000 ms .*the signature of an MTU black hole/);
    expect(again.message).not.toMatch(/df-boundary showed it/);
  });
});

describe.skipIf(needsRoot)('the reply path decides a pair before a capture of the diagnosis\'s own (#14)', () => {
  test("node1's neighbour for node2's VTEP has a stale MAC: node2 -> node1 is named by node1's side without a capture; with the encapsulation capture's evidence, the requests are shown to arrive", async ({ bringUp }) => {
    const r = await bringUp(TOPO('flannel-3node.yaml'));
    const t = r.topology;
    const n1 = node(t, 'node1');
    const n2 = node(t, 'node2');
    await run(['ip', 'neigh', 'replace', n2.vtep.ip, 'lladdr', '02:de:ad:00:00:02', 'dev', n1.vtep.dev, 'nud', 'permanent'], { ns: n1.ns });
    const stale = `stale neighbour entry on node1: ${esc(n2.vtep.ip)} dev flannel\\.1 lladdr 02:de:ad:00:00:02, but node2's VTEP MAC is ${esc(n2.vtep.mac)}`;
    // connectivity alone: no capture of the run's; node2's own state is right, node1's (the reply path) is not
    const first = (await runSuites(t, [SUITES.connectivity!, SUITES.mtu!], { workDir: join(r.state.workDir) })).results;
    const alone = first.find((x) => x.id === 'connectivity/full-mesh')!;
    // df-boundary's node probe node1 -> node2's VTEP meets the same stale entry: named from the diagnosis, not pinged
    const df = first.find((x) => x.id === 'mtu/df-boundary')!;
    expect(df.diffs!.join('\n')).toMatch(new RegExp(`node1 \\(node, via flannel\\.1\\) -> node2 \\(${esc(n2.vtep.ip)}\\): DF boundary not probed: ${esc(n2.vtep.ip)} is behind the same node-level cause as the pods .*: ${stale}`));
    expect(alone.status).toBe('fail');
    expect(alone.details).toMatch(new RegExp(`node2/pod1 -> node1/pod1: the replies cannot come back, whatever the requests meet: on node1's side, ${stale}`));
    expect(alone.details).toMatch(new RegExp(`node1/pod1 -> node2/pod1: ${stale}`));
    // both causes are configuration: the failure is settled (a within: step would not wait out its window)
    expect(alone.settled).toMatch(/configuration cause/);
    // with the encapsulation capture first, its evidence shows the requests arriving
    const both = (await runSuites(t, [SUITES.encapsulation!, SUITES.connectivity!], { workDir: join(r.state.workDir) })).results.find((x) => x.id === 'connectivity/full-mesh')!;
    expect(both.details).toMatch(new RegExp(`node2/pod1 -> node1/pod1: requests reach node1; the replies fail: ${stale}`));
  });
});
