import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
import { describe, expect, it } from 'vitest';
import { plan, renderPlan } from '../../harness/plan/plan.ts';
import { resolveFile, TOPO } from '../helpers/topo.ts';

describe('planner', () => {
  const t = resolveFile(TOPO('flannel-3node.yaml'), 'p1');
  const p = plan(t);

  it('creates every namespace first: segments, nodes, pods', () => {
    expect(p.namespaces).toHaveLength(1 + 3 + 6);
    expect(p.namespaces.every((n) => n.startsWith('vx-p1-flannel-3node-'))).toBe(true);
    expect(p.stages.map((s) => s.name)).toEqual(['underlay', 'nodes', 'pods']);
  });

  it('one ip batch per namespace per step, not one process per command', () => {
    const node1 = p.stages[1]!.steps.find((s) => s.ns === 'vx-p1-flannel-3node-node1')!;
    expect(node1.ops.map((o) => o.kind)).toEqual(['ip', 'bridge', 'ip', 'sysctl']);
  });

  it('builds flannel\'s vxlan device exactly: explicit dstport, nolearning, local, dev', () => {
    const lines = p.stages[1]!.steps[0]!.ops.flatMap((o) => ('lines' in o ? o.lines : []));
    const n1 = t.nodes[0]!;
    expect(lines).toContain(`link add flannel.1 address ${n1.vtep.mac} mtu 1450 type vxlan id 1 local 192.168.1.2 dev eth0 dstport 4789 nolearning df unset`);
    expect(lines).toContain('addr add 10.244.1.0/32 dev flannel.1');
  });

  it('neighbour and FDB before the route, for every remote node', () => {
    const ops = p.stages[1]!.steps[0]!.ops;
    const flat = ops.flatMap((o, i) => ('lines' in o ? o.lines.map((l) => [i, l] as const) : []));
    const n2 = t.nodes[1]!;
    const neigh = flat.find(([, l]) => l === `neigh add 10.244.2.0 lladdr ${n2.vtep.mac} dev flannel.1 nud permanent`);
    const fdb = flat.find(([, l]) => l === `fdb add ${n2.vtep.mac} dev flannel.1 dst 192.168.1.3 self permanent`);
    const route = flat.find(([, l]) => l === 'route add 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink');
    expect(neigh && fdb && route).toBeTruthy();
    expect(neigh![0]).toBeLessThan(route![0]);
    expect(fdb![0]).toBeLessThan(route![0]);
    expect(flat.filter(([, l]) => l.startsWith('route add 10.244.')).length).toBe(2);
  });

  it('pods get their address, MTU and default route via .1', () => {
    const pod = p.stages[2]!.steps[0]!;
    expect(pod.ops[0]).toEqual({ kind: 'ip', lines: ['link set lo up', 'addr add 10.244.1.2/24 dev eth0', 'link set eth0 up', 'route add default via 10.244.1.1 dev eth0'] });
  });

  it('renders paste-able commands', () => {
    const text = renderPlan(p);
    expect(text).toMatch(/^ip netns add vx-p1-flannel-3node-seg-rack1$/m);
    expect(text).toMatch(/^ip -n vx-p1-flannel-3node-node1 link add flannel\.1 /m);
    expect(text).toMatch(/^bridge -n vx-p1-flannel-3node-node1 fdb add /m);
    expect(text).toMatch(/^nsenter --net=\/var\/run\/netns\/vx-p1-flannel-3node-node1 sysctl -qw net\.ipv4\.ip_forward=1 net\.ipv6\.conf\.flannel\/1\.accept_ra=0$/m);
  });

  it('full-mesh entries grow as N² in total but stay one batch per node', () => {
    const nodes = Array.from({ length: 20 }, (_, i) => `  - {name: n${i}}`).join('\n');
    const f = require('node:path').join(require('node:os').tmpdir(), `vx-plan-${process.pid}.yaml`);
    require('node:fs').writeFileSync(f, `name: big\nnodes:\n${nodes}\n`);
    const big = plan(resolveFile(f, 'p2'));
    const routes = big.stages[1]!.steps.flatMap((s) => s.ops).flatMap((o) => ('lines' in o ? o.lines : [])).filter((l) => l.startsWith('route add 10.'));
    expect(routes).toHaveLength(20 * 19);
    expect(big.stages[1]!.steps).toHaveLength(20);
    // > 16 nodes on one segment: permanent underlay neighbours (the shared neighbour table would overflow)
    // (first op: eth0 without IPv6 on a large IPv4 segment, underlay.ipv6LinkLocal auto)
    expect(big.stages[1]!.steps[0]!.ops[0]).toEqual({ kind: 'sysctl', settings: { 'net.ipv6.conf.eth0.disable_ipv6': '1' } });
    const n0 = big.stages[1]!.steps[0]!.ops.find((o) => o.kind === 'ip')! as { lines: string[] };
    expect(n0.lines.filter((l) => / dev eth0 nud permanent$/.test(l))).toHaveLength(19);
    // and the segment bridge knows every port's MAC (static FDB: no flood of a first frame to every port)
    const seg = big.stages[0]!.steps[0]!.ops;
    expect(seg.map((o) => o.kind)).toEqual(['sysctl', 'ip', 'bridge']);
    expect((seg[2] as { lines: string[] }).lines).toHaveLength(20);
    expect((seg[2] as { lines: string[] }).lines[0]).toMatch(/^fdb add 06(:[0-9a-f]{2}){5} dev n-n0 master static$/);
  });

  it('small segments resolve the underlay by ARP as usual', () => {
    const lines = p.stages[1]!.steps.flatMap((s) => s.ops).flatMap((o) => ('lines' in o ? o.lines : []));
    expect(lines.some((l) => l.includes('dev eth0 nud permanent'))).toBe(false);
    expect(t.nodes.every((n) => /^06(:[0-9a-f]{2}){5}$/.test(n.underlayMac))).toBe(true);
  });
});

describe('planner on container runtimes (the runtime supplies only the underlay lines)', () => {
  it('docker: no underlay stage; eth0 keeps the address Docker gave it and gets the topology MAC; Docker\'s default route goes', () => {
    const t = resolveFile(TOPO('docker-routed-mixed.yaml'), 'p2');
    const p = plan(t);
    expect(p.stages.map((s) => s.name)).toEqual(['nodes', 'pods']);
    expect(p.namespaces).not.toContain('vx-p2-docker-routed-mixed-seg-rack1');
    expect(p.attached).toEqual(['vx-p2-docker-routed-mixed-router', ...t.nodes.map((n) => n.ns)]);
    const n1 = t.nodes[0]!;
    const lines = p.stages[0]!.steps.find((s) => s.ns === n1.ns)!.ops.flatMap((o) => ('lines' in o ? o.lines : []));
    expect(lines.slice(0, 4)).toEqual(['link set lo up', `link set eth0 address ${n1.underlayMac} mtu 1500 up`, 'route flush exact 0.0.0.0/0', 'route add default via 192.168.41.1 dev eth0']);
    expect(lines.some((l) => l.startsWith('addr add 192.168.41.'))).toBe(false);
    const router = p.stages[0]!.steps.find((s) => s.ns === t.routerNs)!.ops.flatMap((o) => ('lines' in o ? o.lines : []));
    expect(router).toEqual(['link set lo up', 'link set s-rack1 mtu 1500 up', 'link set s-rack2 mtu 1500 up', 'route flush exact 0.0.0.0/0']);
    expect(renderPlan(p)).toMatch(/docker network create --subnet 192\.168\.41\.0\/24 --gateway 192\.168\.41\.254 .*vx-p2-docker-routed-mixed-seg-rack1/);
    expect(renderPlan(p)).toMatch(/ip netns attach vx-p2-docker-routed-mixed-node1 <pid of its container>/);
  });

  it('kind: the generated cluster config (control plane first, no default CNI, podSubnet, node CIDR size)', async () => {
    const { kindConfig } = await import('../../harness/runtime/kind/config.ts');
    const t = resolveFile(TOPO('kind-3node.yaml'), 'p3');
    expect(kindConfig(t)).toMatchObject({
      kind: 'Cluster',
      apiVersion: 'kind.x-k8s.io/v1alpha4',
      name: 'vx-p3-kind-3node',
      networking: { disableDefaultCNI: true, podSubnet: '10.246.0.0/16', ipFamily: 'ipv4' },
      nodes: [{ role: 'control-plane' }, { role: 'worker' }, { role: 'worker' }],
    });
    expect((kindConfig(t).kubeadmConfigPatches as string[])[0]).toMatch(/node-cidr-mask-size: "24"/);
    const p = plan(t);
    expect(p.stages[0]!.steps[0]!.ops[0]).toEqual({ kind: 'ip', lines: expect.arrayContaining(['link set lo up']) });
    expect(JSON.stringify(p)).not.toMatch(/route flush/);
  });
});
