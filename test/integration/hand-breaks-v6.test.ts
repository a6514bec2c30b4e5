// IPv6 hand breaks for the encapsulation and mtu checks: each row breaks one thing by hand on a live IPv6 (or
// dual-stack) topology — with ip, bridge or nft inside the run's own namespaces — and asserts that the check owning
// the thing FAILS with a message naming the node, the peer and the value (as hand-breaks.test.ts does for IPv4).
import { describe } from 'vitest';
import { expectOwnersFail } from '../helpers/breaks.ts';
import { needsRoot } from '../helpers/root.ts';
import { test, TOPO } from '../helpers/topo.ts';
import type { ResolvedNode, ResolvedTopology } from '../../harness/topology/resolved.ts';
import { vtepFor, podAddr } from '../../suites/encapsulation.ts';
import { run } from '../../harness/util/exec.ts';

type Cmd = [ns: string, argv: string[]];

interface Break {
  name: string;
  topology: () => string;
  steps: (t: ResolvedTopology) => Cmd[];
  owner: string[];
  fragment: (t: ResolvedTopology) => RegExp;
}

const node = (t: ResolvedTopology, name: string): ResolvedNode => t.nodes.find((n) => n.name === name)!;
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const nft = (ns: string, hook: 'output' | 'forward' | 'input', rule: string): Cmd[] => [
  [ns, ['nft', 'add', 'table', 'inet', 'handbreak6']],
  [ns, ['nft', 'add', 'chain', 'inet', 'handbreak6', `hb_${hook}`, `{ type filter hook ${hook} priority 0; }`]],
  [ns, ['nft', ...`add rule inet handbreak6 hb_${hook} ${rule}`.split(' ')]],
];
const V6U = () => TOPO('ipv6-underlay-3node.yaml');
const DUAL = () => TOPO('dual-stack-3node.yaml');
/** replace node1's FDB entry for node2 (IPv6 underlay) with extra attributes */
const fdb12 = (t: ResolvedTopology, dst: string, extra: string[] = []): Cmd[] => {
  const n1 = node(t, 'node1');
  const n2 = node(t, 'node2');
  return [[n1.ns, ['bridge', 'fdb', 'replace', n2.vtep.mac, 'dev', n1.vtep.dev, 'dst', dst, ...extra, 'self', 'permanent']]];
};

const BREAKS: Break[] = [
  {
    name: 'IPv6 underlay: FDB entry with a per-entry port',
    topology: V6U,
    steps: (t) => fdb12(t, node(t, 'node2').ip, ['port', '8472']),
    owner: ['encapsulation/udp-dst-port'],
    fragment: () => /^node1 -> node2: expected UDP dst port 4789, observed 8472/,
  },
  {
    name: 'IPv6 underlay: FDB entry with a per-entry VNI',
    topology: V6U,
    steps: (t) => fdb12(t, node(t, 'node2').ip, ['vni', '5']),
    owner: ['encapsulation/vni'],
    fragment: () => /^node1 -> node2: expected VNI 1, observed 5/,
  },
  {
    name: "IPv6 underlay: node1's FDB sends node2's VTEP MAC to node3's IPv6 address",
    topology: V6U,
    steps: (t) => fdb12(t, node(t, 'node3').ip),
    owner: ['encapsulation/outer-addresses'],
    fragment: (t) => new RegExp(`^node1 -> node2: inner \\S+ -> \\S+: expected outer ${esc(node(t, 'node1').ip)} -> ${esc(node(t, 'node2').ip)}, observed IPv6 ${esc(node(t, 'node1').ip)} -> ${esc(node(t, 'node3').ip)}`),
  },
  {
    name: "dual-stack: node1's IPv6 neighbour for node2's VTEP has a wrong MAC (still delivered)",
    topology: DUAL,
    steps: (t) => {
      const n1 = node(t, 'node1');
      const n2 = node(t, 'node2');
      const v1 = vtepFor(n1, 6);
      const v2 = vtepFor(n2, 6);
      return [
        [n1.ns, ['bridge', 'fdb', 'append', '02:00:00:00:66:99', 'dev', v1.dev, 'dst', n2.ip, 'self', 'permanent']],
        [n1.ns, ['ip', '-6', 'neigh', 'replace', v2.ip, 'lladdr', '02:00:00:00:66:99', 'dev', v1.dev, 'nud', 'permanent']],
      ];
    },
    owner: ['encapsulation/inner-addresses'],
    fragment: (t) => new RegExp(`^node1 -> node2: inner IPv6 destination MAC: expected ${esc(vtepFor(node(t, 'node2'), 6).mac)} \\(${esc(vtepFor(node(t, 'node2'), 6).dev)} of node2\\), observed 02:00:00:00:66:99`),
  },
  {
    name: "IPv6 underlay: node1's underlay link shrinks by 20 bytes under its VTEP",
    topology: V6U,
    steps: (t) => [[node(t, 'node1').ns, ['ip', 'link', 'set', 'eth0', 'mtu', '1480']]],
    owner: ['mtu/vtep-mtu'],
    fragment: () => /^node1: flannel\.1 MTU 1430 > underlay eth0 MTU 1480 − 70 \(VXLAN over IPv6\): 20 bytes too large/,
  },
  {
    name: 'dual-stack: node2 drops large forwarded ICMPv6 (the IPv6 DF boundary no longer crosses)',
    topology: DUAL,
    steps: (t) => nft(node(t, 'node2').ns, 'forward', 'meta l4proto ipv6-icmp meta length > 1300 drop'),
    owner: ['mtu/df-boundary'],
    fragment: (t) => new RegExp(`node1/pod1 -> node2/pod1 \\[IPv6\\]: DF ping of ${vtepFor(node(t, 'node1'), 6).mtu - 48} bytes \\(path MTU ${vtepFor(node(t, 'node1'), 6).mtu} − 48\\) should pass, observed timeout`),
  },
  {
    name: 'dual-stack: node2 drops large forwarded TCP over IPv6 only',
    topology: DUAL,
    steps: (t) => nft(node(t, 'node2').ns, 'forward', 'meta nfproto ipv6 meta l4proto tcp meta length > 1000 drop'),
    owner: ['mtu/tcp-transfer'],
    fragment: (t) => new RegExp(`^node1/pod1 -> node2/pod1 over IPv6 \\(${esc(podAddr(node(t, 'node2').pods[0]!, 6)!)}\\): expected 1048576 bytes, received \\d+ .*MTU black hole`),
  },
];

describe.skipIf(needsRoot)('IPv6 hand breaks: the owning check fails and names node, peer and value (root)', () => {
  for (const b of BREAKS) {
    test(b.name, async ({ bringUp }) => {
      const r = await bringUp(b.topology());
      const t = r.topology;
      for (const [ns, argv] of b.steps(t)) await run(argv, { ns });
      await expectOwnersFail(t, r.state.workDir, b.owner, b.fragment(t));
    });
  }
});
