// IPv6 on runtime docker, runtime kind and builder: external — the pure parts: what normalize accepts and rejects
// (located), the Docker gateway an IPv6 node may not take, the plan lines, the kind config, the identities read back.
import { describe, expect, it } from 'vitest';
import { errorOf, resolveYaml } from '../helpers/resolve.ts';
import { plan, type Op } from '../../harness/plan/plan.ts';
import { kindConfig } from '../../harness/runtime/kind/config.ts';
import { dockerRuntime } from '../../harness/runtime/docker/index.ts';
import { applyIdentity, identityFrom, setupEnv } from '../../harness/overlay/external.ts';
import type { ResolvedTopology } from '../../harness/topology/resolved.ts';

const DOCKER_DS = `name: dds
runtime: docker
underlay: { segments: [{ name: rack1, cidr: "fd00:d0c:1::/64" }, { name: rack2, cidr: "fd00:d0c:2::/64" }] }
overlay: { podCidr: [10.244.0.0/16, "fd00:10:244::/56"], nodeCidrSize: [24, 64] }
nodes: [{ name: node1, segment: rack1 }, { name: node2, segment: rack2 }]
`;

const nodeOps = (t: ResolvedTopology, ns: string): Op[] => plan(t).stages.find((s) => s.name === 'nodes')!.steps.find((s) => s.ns === ns)!.ops;
const lines = (ops: Op[]) => ops.flatMap((o) => (o.kind === 'ip' ? o.lines : []));

describe('runtime docker with IPv6', () => {
  it('accepts an IPv6 underlay and dual-stack pods; the IPv6 segment is an IPv6 Docker network with the last host address as gateway', () => {
    const t = resolveYaml(DOCKER_DS);
    expect(t.family).toBe(6);
    expect(t.segments.map((s) => s.network!.gateway)).toEqual(['fd00:d0c:1:0:ffff:ffff:ffff:fffe', 'fd00:d0c:2:0:ffff:ffff:ffff:fffe']);
    expect(t.nodes.map((n) => n.ip)).toEqual(['fd00:d0c:1::2', 'fd00:d0c:2::2']);
    const notes = dockerRuntime.planNotes!(t);
    expect(notes).toMatch(/docker network create --ipv6 --subnet fd00:d0c:1::\/64 --gateway fd00:d0c:1:0:ffff:ffff:ffff:fffe /);
    expect(notes).toMatch(/--network vx-u1-dds-seg-rack1 --ip6 fd00:d0c:1::2 /);
    expect(notes).toMatch(/docker network connect --ip6 fd00:d0c:2::1 vx-u1-dds-seg-rack2 vx-u1-dds-router/);
  });

  it("an explicit IPv6 node IP on Docker's gateway is refused at its key (the offset is exact: a bigint, not a number)", () => {
    const y = DOCKER_DS.replace('{ name: node1, segment: rack1 }', '{ name: node1, segment: rack1, ip: "fd00:d0c:1:0:ffff:ffff:ffff:fffe" }');
    expect(errorOf(y)).toMatch(/:5:\d+: nodes\[0\]\.ip: node IP fd00:d0c:1:0:ffff:ffff:ffff:fffe of segment rack1 is the gateway Docker puts on the segment's bridge/);
    // one below is an ordinary address
    expect(resolveYaml(DOCKER_DS.replace('{ name: node1, segment: rack1 }', '{ name: node1, segment: rack1, ip: "fd00:d0c:1:0:ffff:ffff:ffff:fffd" }')).nodes[0]!.ip).toBe('fd00:d0c:1:0:ffff:ffff:ffff:fffd');
  });

  it('plan: IPv6 back on and no DAD first; Docker\'s IPv4 address and both families\' default routes go; the router\'s IPv6 addresses come back after the rename', () => {
    const t = resolveYaml(DOCKER_DS);
    const ops = nodeOps(t, t.nodes[0]!.ns);
    expect(ops[0]).toEqual({ kind: 'sysctl', settings: { 'net.ipv6.conf.all.disable_ipv6': '0', 'net.ipv6.conf.default.disable_ipv6': '0', 'net.ipv6.conf.all.accept_dad': '0', 'net.ipv6.conf.default.accept_dad': '0', 'net.ipv6.conf.eth0.accept_dad': '0' } });
    expect(lines(ops).slice(0, 6)).toEqual([
      'link set lo up',
      `link set eth0 address ${t.nodes[0]!.underlayMac} mtu 1500 up`,
      'route flush exact 0.0.0.0/0',
      'route flush exact ::/0 table all',
      'addr flush dev eth0 to 0.0.0.0/0',
      'route add ::/0 via fd00:d0c:1::1 dev eth0',
    ]);
    const router = nodeOps(t, t.routerNs!);
    expect(lines(router)).toEqual(expect.arrayContaining(['addr flush dev s-rack1 to 0.0.0.0/0', 'addr replace fd00:d0c:1::1/64 dev s-rack1 nodad', 'addr replace fd00:d0c:2::1/64 dev s-rack2 nodad']));
  });

  it('an IPv4 Docker network with IPv6 pods: IPv6 is switched back on in the node (Docker turns it off); an all-IPv4 topology gets nothing new', () => {
    const t = resolveYaml('name: d4\nruntime: docker\noverlay: { podCidr: [10.244.0.0/16, "fd00:10:244::/56"] }\nnodes: [{ name: a }, { name: b }]\n');
    const ops = nodeOps(t, t.nodes[0]!.ns);
    expect(ops[0]).toMatchObject({ kind: 'sysctl', settings: { 'net.ipv6.conf.all.disable_ipv6': '0', 'net.ipv6.conf.default.disable_ipv6': '0' } });
    expect(lines(ops)).not.toContain('route flush exact ::/0 table all');
    const v4 = resolveYaml('name: d4\nruntime: docker\nnodes: [{ name: a }, { name: b }]\n');
    expect(nodeOps(v4, v4.nodes[0]!.ns)[0]!.kind).toBe('ip');
  });
});

describe('runtime kind with IPv6', () => {
  const KIND = (seg: string, pods: string) => `name: k\nruntime: kind\nunderlay: { segments: [{ name: kind, cidr: "${seg}" }] }\noverlay: { podCidr: ${pods} }\nnodes: [{ name: cp }, { name: w1 }]\n`;

  it('dual-stack pods: ipFamily dual, both CIDRs (IPv4 first), a node CIDR size per family', () => {
    const t = resolveYaml(KIND('fd00:d0c:60::/64', '[10.250.0.0/16, "fd00:10:250::/56"]').replace('podCidr: [10.250.0.0/16, "fd00:10:250::/56"]', 'podCidr: [10.250.0.0/16, "fd00:10:250::/56"], nodeCidrSize: [25, 80]'));
    const c = kindConfig(t);
    expect(c.networking).toEqual({ disableDefaultCNI: true, podSubnet: '10.250.0.0/16,fd00:10:250::/56', ipFamily: 'dual' });
    expect((c.kubeadmConfigPatches as string[])[0]).toMatch(/node-cidr-mask-size-ipv4: "25"\n\s+node-cidr-mask-size-ipv6: "80"/);
    expect((c.kubeadmConfigPatches as string[])[0]).not.toMatch(/node-cidr-mask-size:/);
    expect(t.segments[0]!.network!.gateway).toBe('fd00:d0c:60::1');
  });

  it('IPv6 pods: ipFamily ipv6, one node CIDR size; IPv4 pods over an IPv6 underlay stay ipv4', () => {
    const v6 = kindConfig(resolveYaml(KIND('fd00:d0c:60::/64', '"fd00:10:250::/56"')));
    expect(v6.networking).toMatchObject({ podSubnet: 'fd00:10:250::/56', ipFamily: 'ipv6' });
    expect((v6.kubeadmConfigPatches as string[])[0]).toMatch(/node-cidr-mask-size: "64"/);
    expect(kindConfig(resolveYaml(KIND('fd00:d0c:60::/64', '10.250.0.0/16'))).networking).toMatchObject({ ipFamily: 'ipv4' });
  });

  it('IPv6 pods on an IPv4 segment are refused at the IPv6 podCidr (kind nodes would have no IPv6 address)', () => {
    expect(errorOf(KIND('172.30.0.0/24', '[10.250.0.0/16, "fd00:10:250::/56"]'))).toMatch(/:4:\d+: overlay\.podCidr\[1\]: runtime kind: IPv6 pods make a kind cluster of ipFamily dual, whose nodes need IPv6 addresses; expected an IPv6 underlay segment/);
    expect(errorOf(KIND('172.30.0.0/24', '"fd00:10:250::/56"'))).toMatch(/:4:\d+: overlay\.podCidr: runtime kind: IPv6 pods make a kind cluster of ipFamily ipv6/);
  });

  it('pod subnets discovered from the cluster (spec.podCIDRs) replace the assignment, one per family', async () => {
    const { loadTopology } = await import('../../harness/topology/load.ts');
    const { normalize } = await import('../../harness/topology/normalize.ts');
    const { tempTopology } = await import('../helpers/topo.ts');
    const l = loadTopology(tempTopology(KIND('fd00:d0c:60::/64', '[10.250.0.0/16, "fd00:10:250::/56"]')));
    const t = normalize(l.topology, { runId: 'u1', file: l.file, discovered: { w1: { ip: 'fd00:d0c:60::7', podSubnet: ['10.250.9.0/24', 'fd00:10:250:9::/64'] } } });
    expect(t.nodes[1]).toMatchObject({ ip: 'fd00:d0c:60::7', podSubnets: ['10.250.9.0/24', 'fd00:10:250:9::/64'] });
  });
});

describe('builder: external with IPv6', () => {
  const EXT6 = `name: ext6
underlay: { segments: [{ name: rack1, cidr: "fd00:e0:1::/64" }] }
overlay:
  layout: LAYOUT
  podCidr: [10.244.0.0/16, "fd00:10:244::/56"]
  nodeCidrSize: [24, SIZE]
  builder: external
  setup: [{ command: [./agent], daemon: true }]
nodes: [{ name: node1, pods: 1 }, { name: node2, pods: 1 }]
`;
  const link = (ifname: string) => ({ ifname, address: '6E:E3:6D:AF:7B:2D', mtu: 1430, linkinfo: { info_kind: 'vxlan', info_data: { id: 1, port: 4789, local6: 'fd00:e0:1::2', learning: false } } });
  const addrs = (ifname: string, ...a: string[]) => [{ ifname, addr_info: [...a, 'fe80::6ce3:6dff:feaf:7b2d/64'].map((x) => ({ family: x.includes(':') ? 'inet6' : 'inet', local: x.split('/')[0]!, prefixlen: Number(x.split('/')[1]) })) }];

  it('the setup programs see every pod family: VXLAB_POD_SUBNETS and each peer\'s podSubnets', () => {
    const t = resolveYaml(EXT6.replace('LAYOUT', 'flannel').replace('SIZE', '64'));
    const env = setupEnv(t, t.nodes[0]!, '/run/x');
    expect(env.VXLAB_NODE_IP).toBe('fd00:e0:1::2');
    expect(env.VXLAB_POD_SUBNETS).toBe('10.244.1.0/24,fd00:10:244:1::/64');
    expect(JSON.parse(env.VXLAB_PEERS!)).toEqual([{ name: 'node2', ip: 'fd00:e0:1::3', podSubnets: ['10.244.2.0/24', 'fd00:10:244:2::/64'] }]);
  });

  it('flannel: both families\' tunnel addresses are read (not the link-local); a missing IPv6 one is named with its family', () => {
    const t = resolveYaml(EXT6.replace('LAYOUT', 'flannel').replace('SIZE', '64'));
    const n = t.nodes[0]!;
    const id = identityFrom(t, n, [link('flannel-v6.1')], addrs('flannel-v6.1', '10.244.1.0/32', 'fd00:10:244:1:0::/128'));
    expect(id).toMatchObject({ device: 'flannel-v6.1', present: true, local: 'fd00:e0:1::2', addresses: ['10.244.1.0/32', 'fd00:10:244:1::/128'], problems: [] });
    applyIdentity(t, n, id);
    expect(n.vteps.map((v) => v.mac)).toEqual(['6e:e3:6d:af:7b:2d', '6e:e3:6d:af:7b:2d']);
    const bad = identityFrom(t, n, [link('flannel-v6.1')], addrs('flannel-v6.1', '10.244.1.0/32', 'fd00:10:244:1::1/128'));
    expect(bad.problems).toEqual(["node1: flannel-v6.1 IPv6 address: expected fd00:10:244:1::/128 (flannel: the pod subnet's network address), observed fd00:10:244:1::1/128"]);
  });

  it('calico: each family\'s tunnel address comes from its block and becomes that family\'s VTEP address', () => {
    const t = resolveYaml(EXT6.replace('LAYOUT', 'calico').replace('SIZE', '122').replace('[24, 122]', '[26, 122]'));
    const n = t.nodes[0]!;
    const [b4, b6] = n.podSubnets;
    expect(b6).toBe('fd00:10:244::40/122');
    const id = identityFrom(t, n, [link('vxlan-v6.calico')], addrs('vxlan-v6.calico', '10.244.0.126/32', 'fd00:10:244::7e/128'));
    expect(id.problems).toEqual([]);
    applyIdentity(t, n, id);
    expect(n.vteps.map((v) => v.ip)).toEqual(['10.244.0.126', 'fd00:10:244::7e']);
    const bad = identityFrom(t, n, [link('vxlan-v6.calico')], addrs('vxlan-v6.calico', '10.244.0.126/32'));
    expect(bad.problems).toEqual([`node1: vxlan-v6.calico IPv6 address: expected a tunnel address from node1's block ${b6}, observed none`]);
    void b4;
  });
});
