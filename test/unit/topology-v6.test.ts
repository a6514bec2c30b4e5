// IPv6 and dual-stack: address math, schema, normalize (every new error located at file:line:col).
import { describe, expect, it } from 'vitest';
import { errorOf, resolveYaml } from '../helpers/resolve.ts';
import { bigIntToIp6, containsIp, familyOfCidr, hostAny, ip6ToBigInt, nthSubnetAny, overlapsAny, parseAnyCidr, parseCidr6, sizeN } from '../../harness/topology/ip.ts';

describe('IPv6 address math', () => {
  it('parses and formats (RFC 5952)', () => {
    expect(bigIntToIp6(ip6ToBigInt('fd00:0:1::10'))).toBe('fd00:0:1::10');
    expect(bigIntToIp6(ip6ToBigInt('FD00:0000:0000:0001:0000:0000:0000:0001'))).toBe('fd00:0:0:1::1');
    expect(bigIntToIp6(0n)).toBe('::');
    expect(bigIntToIp6(1n)).toBe('::1');
    expect(bigIntToIp6(ip6ToBigInt('1:0:0:2:0:0:0:3'))).toBe('1:0:0:2::3');
    expect(bigIntToIp6(ip6ToBigInt('1:0:2:3:4:5:6:7'))).toBe('1:0:2:3:4:5:6:7');
    expect(parseCidr6('fd00:10:244::/56').text).toBe('fd00:10:244::/56');
    expect(() => parseCidr6('fd00:10:244::1/56')).toThrow(/host bits set in fd00:10:244::1\/56 \(network is fd00:10:244::\/56\)/);
    expect(() => parseCidr6('fd00::/129')).toThrow(/not an IPv6 CIDR/);
    expect(familyOfCidr('fd00::/8')).toBe(6);
    expect(familyOfCidr('10.0.0.0/8')).toBe(4);
    expect(familyOfCidr('x/8')).toBe(0);
  });
  it('contains, overlaps, subnets and hosts in both families', () => {
    const c = parseAnyCidr('fd00:10:244::/56');
    expect(sizeN(c)).toBe(1n << 72n);
    expect(nthSubnetAny(c, 64, 7).text).toBe('fd00:10:244:7::/64');
    expect(hostAny(nthSubnetAny(c, 64, 1), 0)).toBe('fd00:10:244:1::');
    expect(hostAny(nthSubnetAny(c, 64, 1), 2)).toBe('fd00:10:244:1::2');
    expect(containsIp(c, 'fd00:10:244:ff::1')).toBe(true);
    expect(containsIp(c, 'fd00:10:245::1')).toBe(false);
    expect(containsIp(c, '10.0.0.1')).toBe(false);
    expect(overlapsAny(c, parseAnyCidr('fd00:10::/32'))).toBe(true);
    expect(overlapsAny(c, parseAnyCidr('10.0.0.0/8'))).toBe(false);
    const v4 = parseAnyCidr('10.244.0.0/16');
    expect(nthSubnetAny(v4, 24, 3).text).toBe('10.244.3.0/24');
    expect(hostAny(v4, 257)).toBe('10.244.1.1');
  });
});

const V6U = 'underlay:\n  segments:\n    - {name: rack1, cidr: "fd00:0:1::/64"}\n';

describe('IPv6 underlay', () => {
  it('families follow the CIDRs; VTEP MTU is the underlay MTU − 70', () => {
    const t = resolveYaml(`name: t\n${V6U}nodes:\n  - {name: node1, ip: "fd00:0:1::10"}\n  - {name: node2}\n`);
    expect(t.family).toBe(6);
    expect(t.families).toEqual([4]);
    expect(t.segments[0]).toMatchObject({ family: 6, cidr: 'fd00:0:1::/64', prefixLen: 64 });
    expect(t.nodes.map((n) => [n.ip, n.family])).toEqual([['fd00:0:1::10', 6], ['fd00:0:1::2', 6]]);
    expect(t.nodes[0]!.vtep).toMatchObject({ dev: 'flannel.1', family: 4, mtu: 1430, ip: '10.244.1.0', prefixLen: 32 });
  });
  it('a routed IPv6 underlay: router ::1 per segment, nodes from ::2', () => {
    const t = resolveYaml('name: t\nunderlay:\n  segments:\n    - {name: a, cidr: "fd00:0:1::/64", mtu: 9000}\n    - {name: b, cidr: "fd00:0:2::/64"}\nnodes:\n  - {name: n1, segment: a}\n  - {name: n2, segment: b}\n');
    expect(t.segments.map((s) => s.routerIp)).toEqual(['fd00:0:1::1', 'fd00:0:2::1']);
    expect(t.nodes.map((n) => [n.ip, n.gateway, n.vtep.mtu])).toEqual([['fd00:0:1::2', 'fd00:0:1::1', 8930], ['fd00:0:2::2', 'fd00:0:2::1', 1430]]);
  });
  it('a node IP of the wrong family', () => {
    expect(errorOf(`name: x\n${V6U}nodes:\n  - {name: a, ip: 192.168.1.2}\n`)).toMatch(/:6:\d+: nodes\[0\]\.ip: node IP 192\.168\.1\.2 is IPv4 but segment rack1 \(fd00:0:1::\/64\) is IPv6; expected an IPv6 address/);
  });
  it('a node IP outside its IPv6 segment', () => {
    expect(errorOf(`name: x\n${V6U}nodes:\n  - {name: a, ip: "fd00:0:2::5"}\n`)).toMatch(/:6:\d+: nodes\[0\]\.ip: node IP fd00:0:2::5 is outside segment rack1 \(fd00:0:1::\/64\)/);
  });
  it('a routed underlay of mixed families is rejected', () => {
    expect(errorOf('name: x\nunderlay:\n  segments:\n    - {name: a, cidr: 192.168.1.0/24}\n    - {name: b, cidr: "fd00:0:2::/64"}\nnodes: [{name: n}]\n')).toMatch(
      /:5:\d+: underlay\.segments\[1\]\.cidr: segment b \(fd00:0:2::\/64\) is IPv6 but segment a \(192\.168\.1\.0\/24\) is IPv4; all segments of a topology share one family/,
    );
  });
  it('an IPv6 segment too small', () => {
    expect(errorOf('name: x\nunderlay:\n  segments:\n    - {name: a, cidr: "fd00::/126"}\nnodes: [{name: n}]\n')).toMatch(/:4:\d+: underlay\.segments\[0\]\.cidr: segment fd00::\/126 is too small; expected \/125 or larger/);
  });
  it('a malformed IPv6 CIDR', () => {
    expect(errorOf('name: x\nunderlay:\n  segments:\n    - {name: a, cidr: "fd00:::1/64"}\nnodes: [{name: n}]\n')).toMatch(/:4:\d+: underlay\.segments\[0\]\.cidr: expected a valid IPv6 CIDR/);
  });
});

describe('IPv6 and dual-stack pods', () => {
  const DS = 'overlay:\n  podCidr: [10.244.0.0/16, "fd00:10:244::/56"]\n  nodeCidrSize: [24, 64]\n';
  it('dual-stack flannel: two devices, both families on cni0 and every pod', () => {
    const t = resolveYaml(`name: t\n${DS}nodes:\n  - {name: node1}\n  - {name: node2, podSubnet: [10.244.7.0/24, "fd00:10:244:7::/64"]}\n`);
    expect(t.families).toEqual([4, 6]);
    expect(t.overlay).toMatchObject({ podCidr: '10.244.0.0/16', nodeCidrSize: 24, podCidrs: ['10.244.0.0/16', 'fd00:10:244::/56'], nodeCidrSizes: [24, 64] });
    const [a, b] = t.nodes;
    expect(a!.podSubnets).toEqual(['10.244.1.0/24', 'fd00:10:244:1::/64']);
    expect(b!.podSubnets).toEqual(['10.244.7.0/24', 'fd00:10:244:7::/64']);
    expect(a!.vteps.map((v) => [v.dev, v.family, v.ip, v.prefixLen, v.mtu])).toEqual([['flannel.1', 4, '10.244.1.0', 32, 1450], ['flannel.1', 6, 'fd00:10:244:1::', 128, 1450]]);
    expect(a!.vteps[0]!.mac).toBe(a!.vteps[1]!.mac);
    expect(a!.bridge!.addrs).toEqual([{ family: 4, ip: '10.244.1.1', prefixLen: 24 }, { family: 6, ip: 'fd00:10:244:1::1', prefixLen: 64 }]);
    expect(a!.pods[0]!.addrs).toEqual([
      { family: 4, ip: '10.244.1.2', prefixLen: 24, gateway: '10.244.1.1' },
      { family: 6, ip: 'fd00:10:244:1::2', prefixLen: 64, gateway: 'fd00:10:244:1::1' },
    ]);
    expect(a!.pods[0]!.ip).toBe('10.244.1.2');
  });
  it('the list order of podCidr does not matter: IPv4 first', () => {
    const t = resolveYaml('name: t\noverlay:\n  podCidr: ["fd00:10:244::/56", 10.244.0.0/16]\n  nodeCidrSize: [64, 24]\nnodes: [{name: a}]\n');
    expect(t.nodes[0]!.podSubnets).toEqual(['10.244.1.0/24', 'fd00:10:244:1::/64']);
  });
  it('dual-stack userspace VTEP: the TAP is started first, then both tunnel addresses, neighbours and routes; no kernel FDB', () => {
    const out = planOf('dual-stack-userspace.yaml');
    expect(out).toMatch(/^# families: underlay IPv6 \(VXLAN overhead 70\), pods IPv4 \+ IPv6/m);
    expect(out.match(/type vxlan/g)).toHaveLength(1); // node1 only
    expect(out).toMatch(/# start userspace VTEP for node2 .*\n(.*\n)*.*node2 addr add 10\.244\.2\.0\/32 dev flannel-v6\.1\n.*node2 addr add fd00:10:244:2::\/128 dev flannel-v6\.1 nodad/);
    expect(out).toMatch(/node2 neigh add fd00:10:244:3:: lladdr \S+ dev flannel-v6\.1 nud permanent/);
    expect(out).toMatch(/node2 route add fd00:10:244:3::\/64 via fd00:10:244:3:: dev flannel-v6\.1 onlink/);
    expect(out).toMatch(/node2 route add 10\.244\.3\.0\/24 via 10\.244\.3\.0 dev flannel-v6\.1 onlink/);
    expect(out).not.toMatch(/node2 fdb add/);
    expect(out).toMatch(/node1 fdb add \S+ dev flannel-v6\.1 dst fd00:0:1::3 self permanent/);
  });
  it('IPv6-only calico: vxlan-v6.calico, /128 pods, felix gateway', () => {
    const t = resolveYaml(`name: t\n${V6U}overlay:\n  layout: calico\n  podCidr: "fd00:10:244::/56"\n  nodeCidrSize: 122\nnodes: [{name: a, pods: 2}, {name: b}]\n`);
    const a = t.nodes[0]!;
    expect(a.vteps.map((v) => [v.dev, v.family, v.ip, v.prefixLen, v.mtu, v.vni])).toEqual([['vxlan-v6.calico', 6, 'fd00:10:244::40', 128, 1430, 4096]]);
    expect(a.pods.map((p) => [p.ip, p.prefixLen, p.gateway])).toEqual([['fd00:10:244::41', 128, 'fe80::ecee:eeff:feee:eeee'], ['fd00:10:244::42', 128, 'fe80::ecee:eeff:feee:eeee']]);
    expect(a.bridge).toBeUndefined();
  });
  it('nodeCidrSize defaults per family (24 and 64)', () => {
    const t = resolveYaml('name: t\noverlay:\n  podCidr: [10.244.0.0/16, "fd00:10:244::/56"]\nnodes: [{name: a}]\n');
    expect(t.overlay.nodeCidrSizes).toEqual([24, 64]);
  });
  it('a pod subnet outside the IPv6 podCidr', () => {
    expect(errorOf(`name: x\n${DS}nodes:\n  - {name: a, podSubnet: [10.244.7.0/24, "fd00:99::/64"]}\n`)).toMatch(/:6:\d+: nodes\[0\]\.podSubnet\[1\]: pod subnet fd00:99::\/64 is not inside podCidr fd00:10:244::\/56/);
  });
  it('a pod subnet of a family podCidr lacks', () => {
    expect(errorOf('name: x\nnodes:\n  - {name: a, podSubnet: "fd00:10:244:7::/64"}\n')).toMatch(/:3:\d+: nodes\[0\]\.podSubnet: pod subnet fd00:10:244:7::\/64 is IPv6 but podCidr has no IPv6 CIDR/);
  });
  it('two pod subnets of one family', () => {
    expect(errorOf(`name: x\n${DS}nodes:\n  - {name: a, podSubnet: [10.244.7.0/24, 10.244.8.0/24]}\n`)).toMatch(/:6:\d+: nodes\[0\]\.podSubnet\[1\]: two IPv4 pod subnets for node a; expected one per family/);
  });
  it('two podCidrs of one family', () => {
    expect(errorOf('name: x\noverlay:\n  podCidr: ["fd00:1::/56", "fd00:2::/56"]\nnodes: [{name: a}]\n')).toMatch(/:3:\d+: overlay\.podCidr\[1\]: podCidr lists two IPv6 CIDRs/);
  });
  it('three podCidrs', () => {
    expect(errorOf('name: x\noverlay:\n  podCidr: [10.1.0.0/16, "fd00:1::/56", 10.2.0.0/16]\nnodes: [{name: a}]\n')).toMatch(/:3:\d+: overlay\.podCidr: expected a list of one or two pod CIDRs/);
  });
  it('nodeCidrSize not matching podCidr', () => {
    expect(errorOf('name: x\noverlay:\n  podCidr: [10.244.0.0/16, "fd00:10:244::/56"]\n  nodeCidrSize: 24\nnodes: [{name: a}]\n')).toMatch(/:4:\d+: overlay\.nodeCidrSize: expected a list of 2 prefix lengths matching podCidr/);
  });
  it('an IPv6 nodeCidrSize larger than the IPv6 podCidr', () => {
    expect(errorOf('name: x\noverlay:\n  podCidr: [10.244.0.0/16, "fd00:10:244::/56"]\n  nodeCidrSize: [24, 48]\nnodes: [{name: a}]\n')).toMatch(/:4:\d+: overlay\.nodeCidrSize\[1\]: nodeCidrSize \/48 is larger than podCidr fd00:10:244::\/56/);
  });
  it('an IPv6 podCidr too small for the node count', () => {
    expect(errorOf('name: x\noverlay:\n  podCidr: "fd00:10:244::/63"\nnodes:\n  - name: a\n  - name: b\n')).toMatch(/:6:\d+: nodes\[1\]: more nodes than podCidr fd00:10:244::\/63 holds: \/64 subnets 1\.\.1 are available, node b would need subnet 2/);
  });
  it('pods that do not fit an IPv6 pod subnet', () => {
    expect(errorOf('name: x\noverlay:\n  podCidr: [10.244.0.0/16, "fd00:10:244::/56"]\n  nodeCidrSize: [24, 125]\nnodes: [{name: a, pods: 5}]\n')).toMatch(/:5:\d+: nodes\[0\]\.pods: 5 pods do not fit in pod subnet fd00:10:244::8\/125/);
  });
  it('an IPv6 podCidr overlapping an IPv6 segment', () => {
    expect(errorOf(`name: x\n${V6U}overlay:\n  podCidr: "fd00::/16"\nnodes: [{name: a}]\n`)).toMatch(/:6:\d+: overlay\.podCidr: podCidr fd00::\/16 overlaps underlay segment rack1/);
  });
  it('a userspace VTEP with dual-stack pods is accepted: one TAP carries both families (no error)', () => {
    const t = resolveYaml(`name: x\n${DS}  vtep: userspace\nnodes: [{name: a}, {name: b}]\n`);
    expect(t.families).toEqual([4, 6]);
    expect(t.nodes[0]!.vtep.kind).toBe('userspace');
    expect(t.nodes[0]!.vteps.map((v) => [v.family, v.dev, v.ip])).toEqual([
      [4, 'flannel.1', '10.244.1.0'],
      [6, 'flannel.1', 'fd00:10:244:1::'],
    ]);
  });
});

import { plan, renderPlan } from '../../harness/plan/plan.ts';
import { loadTopology } from '../../harness/topology/load.ts';
import { normalize } from '../../harness/topology/normalize.ts';

function planOf(file: string): string {
  const l = loadTopology(new URL(`../../topologies/${file}`, import.meta.url).pathname);
  return renderPlan(plan(normalize(l.topology, { runId: 'u1', file: l.file })));
}

describe('planner: both layouts, both families', () => {
  it('IPv6 underlay, IPv4 pods: local <v6>, MTU − 70, FDB dst IPv6, nodad, IPv6 forwarding', () => {
    const out = planOf('ipv6-underlay-3node.yaml');
    expect(out).toMatch(/^# families: underlay IPv6 \(VXLAN overhead 70\), pods IPv4 \(10\.244\.0\.0\/16\)$/m);
    expect(out).toContain('link add flannel.1 address 02:');
    expect(out).toMatch(/link add flannel\.1 address \S+ mtu 1430 type vxlan id 1 local fd00:0:1::10 dev eth0 dstport 4789 nolearning df unset/);
    expect(out).toMatch(/addr add fd00:0:1::10\/64 dev eth0 nodad/);
    expect(out).toMatch(/fdb add \S+ dev flannel\.1 dst fd00:0:1::11 self permanent/);
    expect(out).toMatch(/sysctl -qw net\.ipv6\.conf\.all\.accept_dad=0 net\.ipv6\.conf\.default\.accept_dad=0 net\.ipv6\.conf\.eth0\.accept_dad=0/);
    expect(out).toMatch(/net\.ipv4\.ip_forward=1 net\.ipv6\.conf\.all\.forwarding=1/);
    expect(out).toMatch(/addr add 10\.244\.1\.0\/32 dev flannel\.1$/m);
  });
  it('dual-stack flannel: one device, both tunnel addresses, per-family neighbours and routes, one FDB entry per peer', () => {
    const out = planOf('dual-stack-3node.yaml');
    expect(out.match(/type vxlan/g)).toHaveLength(3);
    expect(out).toMatch(/node1 addr add fd00:10:244:1::\/128 dev flannel\.1 nodad/);
    expect(out).toMatch(/node1 neigh add fd00:10:244:2:: lladdr \S+ dev flannel\.1 nud permanent/);
    expect(out).toMatch(/node1 route add fd00:10:244:2::\/64 via fd00:10:244:2:: dev flannel\.1 onlink/);
    expect(out).toMatch(/node1 route add 10\.244\.2\.0\/24 via 10\.244\.2\.0 dev flannel\.1 onlink/);
    expect(out.match(/node1 fdb add/g)).toHaveLength(2);
    expect(out).toMatch(/node1 addr add fd00:10:244:1::1\/64 dev cni0 nodad/);
    expect(out).toMatch(/node1-pod1 route add ::\/0 via fd00:10:244:1::1 dev eth0/);
    expect(out).toMatch(/node1-pod1 route add default via 10\.244\.1\.1 dev eth0/);
  });
  it('IPv6-only calico: vxlan-v6.calico, /128 pod routes on cali veths with felix\'s MAC, link-local gateway', () => {
    const out = planOf('ipv6-only-calico.yaml');
    expect(out).toMatch(/node1 link add vxlan-v6\.calico address \S+ mtu 1430 type vxlan id 4096 local fd00:0:1::2 dev eth0/);
    expect(out).toMatch(/node1 addr add fd00:10:244::40\/128 dev vxlan-v6\.calico nodad/);
    expect(out).toMatch(/node1 link add cali-nodepod1 address ee:ee:ee:ee:ee:ee mtu 1430 type veth/);
    expect(out).toMatch(/node1 route add fd00:10:244::41\/128 dev cali-nodepod1 scope link/);
    expect(out).toMatch(/node1 route add fd00:10:244::80\/122 via fd00:10:244::80 dev vxlan-v6\.calico onlink/);
    expect(out).toMatch(/node1-pod1 route add ::\/0 via fe80::ecee:eeff:feee:eeee dev eth0/);
    expect(out).not.toMatch(/proxy_arp|169\.254\.1\.1/);
  });
  it('routed IPv6 underlay: the router forwards IPv6, nodes route ::/0 via it', () => {
    const out = planOf('ipv6-routed.yaml');
    expect(out).toMatch(/router addr add fd00:0:1::1\/64 dev s-rack1 nodad/);
    expect(out).toMatch(/router sysctl -qw net\.ipv4\.ip_forward=1 net\.ipv6\.conf\.all\.forwarding=1|vx-u1-ipv6-routed-router sysctl -qw net\.ipv4\.ip_forward=1 net\.ipv6\.conf\.all\.forwarding=1/);
    expect(out).toMatch(/node3 route add ::\/0 via fd00:0:2::1 dev eth0/);
    expect(out).toMatch(/node3 link add flannel-v6\.1 address \S+ mtu 1430 type vxlan id 1 local fd00:0:2::2/);
  });
});
