// overlay.staticPodNeighbours: when the pods' dynamic neighbour entries would overflow the kernel's shared table
// (gc_thresh3, 1024 by default, counts every namespace's together), vxlab writes them permanently, with
// deterministic MACs on pod eth0 and cni0 — and `vxlab plan` prints exactly those lines.
import { describe, expect, it } from 'vitest';
import { plan } from '../../harness/plan/plan.ts';
import { bridgeMac, podDynamicNeighbours, podMac } from '../../harness/topology/normalize.ts';
import { STATIC_POD_NEIGH_AUTO_ENTRIES } from '../../harness/topology/constants.ts';
import { resolveFile, tempTopology } from '../helpers/topo.ts';
import { loadTopology } from '../../harness/topology/load.ts';

const topo = (layout: string, nodes: number, pods: number, extra = '', podCidr = '10.80.0.0/16') =>
  tempTopology(
    `name: spn\nunderlay: { segments: [{ name: rack1, cidr: 192.168.0.0/16 }] }\n` +
      `overlay: { layout: ${layout}, podCidr: ${podCidr}${extra} }\n` +
      `nodes:\n${Array.from({ length: nodes }, (_, i) => `  - { name: n${i + 1}, pods: ${pods} }\n`).join('')}`,
  );
const lines = (t: ReturnType<typeof resolveFile>) => plan(t).stages.flatMap((s) => s.steps.map((st) => ({ ns: st.ns, lines: st.ops.flatMap((o) => ('lines' in o ? o.lines : [])) })));

describe('overlay.staticPodNeighbours', () => {
  it('the estimate: two entries per pod, plus the pairs of pods on one flannel bridge', () => {
    expect(podDynamicNeighbours([{ bridge: {}, pods: [1, 2, 3] }, { bridge: {}, pods: [1] }])).toBe(3 * 2 + 3 * 2 + 1 * 2);
    expect(podDynamicNeighbours([{ pods: [1, 2, 3] }])).toBe(6);
  });

  it('auto: off at 256 one-pod flannel nodes (512 entries), on at 257; true and false win over it', () => {
    expect(STATIC_POD_NEIGH_AUTO_ENTRIES).toBe(512);
    expect(resolveFile(topo('flannel', 256, 1, '', '10.80.0.0/14'), 'a1').nodes[0]!.podNeighbours).toBeUndefined();
    const on = resolveFile(topo('flannel', 257, 1, '', '10.80.0.0/14'), 'a1');
    expect(on.nodes.every((n) => n.podNeighbours?.length === 1 && n.pods[0]!.mac && n.bridge!.mac)).toBe(true);
    expect(resolveFile(topo('flannel', 257, 1, ', staticPodNeighbours: false', '10.80.0.0/14'), 'a1').nodes[0]!.podNeighbours).toBeUndefined();
    expect(resolveFile(topo('flannel', 2, 1, ', staticPodNeighbours: true'), 'a1').nodes[0]!.podNeighbours).toHaveLength(1);
    // 16 pods on each of two flannel nodes: 2 × (32 + 240) = 544 > 512
    expect(resolveFile(topo('flannel', 2, 16), 'a1').nodes[0]!.podNeighbours).toHaveLength(16);
    expect(resolveFile(topo('flannel', 2, 15), 'a1').nodes[0]!.podNeighbours).toBeUndefined();
  });

  it('flannel, dual-stack: cni0 and eth0 get their MACs; the node holds its pods, each pod its gateway and its node\'s other pods, per family', () => {
    const t = resolveFile(topo('flannel', 2, 2, ', staticPodNeighbours: true, nodeCidrSize: [24, 64]', '[10.80.0.0/16, "fd00:80::/48"]'), 's1');
    const n1 = t.nodes[0]!;
    const [p1, p2] = n1.pods;
    expect(n1.bridge!.mac).toBe(bridgeMac('spn', 'n1'));
    expect(p1!.mac).toBe(podMac('spn', 'n1', 'pod1'));
    expect(new Set(t.nodes.flatMap((n) => [n.bridge!.mac, ...n.pods.map((p) => p.mac)])).size).toBe(6);
    const all = lines(t);
    const node = all.filter((x) => x.ns === n1.ns).flatMap((x) => x.lines);
    expect(node).toContain(`link add cni0 address ${n1.bridge!.mac} mtu 1450 type bridge`);
    expect(node).toContain(`link add v-pod1 mtu 1450 type veth peer name eth0 address ${p1!.mac} mtu 1450 netns ${p1!.ns}`);
    for (const p of n1.pods) for (const a of p.addrs) expect(node).toContain(`neigh replace ${a.ip} lladdr ${p.mac} dev cni0 nud permanent`);
    const pod1 = all.filter((x) => x.ns === p1!.ns).flatMap((x) => x.lines);
    const neigh = pod1.filter((l) => l.startsWith('neigh '));
    expect(neigh).toEqual([
      `neigh replace ${p1!.addrs[0]!.gateway} lladdr ${n1.bridge!.mac} dev eth0 nud permanent`,
      `neigh replace ${p1!.addrs[1]!.gateway} lladdr ${n1.bridge!.mac} dev eth0 nud permanent`,
      `neigh replace ${p2!.addrs[0]!.ip} lladdr ${p2!.mac} dev eth0 nud permanent`,
      `neigh replace ${p2!.addrs[1]!.ip} lladdr ${p2!.mac} dev eth0 nud permanent`,
    ]);
    // after the address and routes: the entry's device is up and addressed
    expect(pod1.indexOf(neigh[0]!)).toBeGreaterThan(pod1.findIndex((l) => l.startsWith('route add default')));
  });

  it('calico: the gateway is the cali veth\'s fixed MAC; the node\'s entry is on the pod\'s cali veth; no pod-to-pod entries', () => {
    const t = resolveFile(topo('calico', 2, 2, ', staticPodNeighbours: true'), 'c1');
    const n1 = t.nodes[0]!;
    expect(n1.bridge).toBeUndefined();
    const all = lines(t);
    const node = all.filter((x) => x.ns === n1.ns).flatMap((x) => x.lines);
    for (const p of n1.pods) expect(node).toContain(`neigh replace ${p.ip} lladdr ${p.mac} dev ${p.hostIf} nud permanent`);
    const pod1 = all.filter((x) => x.ns === n1.pods[0]!.ns).flatMap((x) => x.lines).filter((l) => l.startsWith('neigh '));
    expect(pod1).toEqual(['neigh replace 169.254.1.1 lladdr ee:ee:ee:ee:ee:ee dev eth0 nud permanent']);
  });

  it('off: the plan is what it was (no address on cni0 or eth0, no neigh line)', () => {
    const t = resolveFile(topo('flannel', 3, 2), 'o1');
    const all = lines(t);
    const text = all.flatMap((x) => x.lines);
    const podNs = new Set(t.nodes.flatMap((n) => n.pods.map((p) => p.ns)));
    expect(all.filter((x) => podNs.has(x.ns)).flatMap((x) => x.lines).filter((l) => l.startsWith('neigh '))).toEqual([]);
    expect(text.filter((l) => l.startsWith('neigh ') && / dev (cni0|v-)/.test(l))).toEqual([]);
    expect(text.some((l) => /^link add cni0 address/.test(l) || /^link add v-\S+ .* peer name eth0 address /.test(l))).toBe(false);
  });

  it('true with overlay.cni is refused, naming the key', () => {
    const f = tempTopology(`name: spn\noverlay: { layout: flannel, staticPodNeighbours: true, cni: { config: { cniVersion: "1.0.0", name: x, plugins: [] } } }\nnodes: [{ name: n1, pods: 1 }]\n`);
    expect(() => resolveFile(f, 'e1')).toThrow(/overlay\.staticPodNeighbours|overlay\.cni attaches the pods/);
    expect(loadTopology(f).topology.overlay?.staticPodNeighbours).toBe(true);
  });
});

describe('underlay.staticArp on a routed underlay (netns runtime)', () => {
  const f = () =>
    tempTopology(
      `name: sar\nunderlay: { staticArp: true, segments: [{ name: r1, cidr: 192.168.10.0/24 }, { name: r2, cidr: 192.168.20.0/24 }] }\n` +
        `overlay: { layout: calico, podCidr: 10.90.0.0/16 }\n` +
        `nodes: [{ name: a1, segment: r1 }, { name: a2, segment: r1 }, { name: b1, segment: r2 }]\n`,
    );
  it('the router\'s port on each segment gets a deterministic MAC; nodes hold the router, the router holds the nodes, all permanent', () => {
    const t = resolveFile(f(), 'r1');
    const [s1, s2] = t.segments;
    expect(s1!.routerMac).toMatch(/^12(:[0-9a-f]{2}){5}$/);
    expect(s1!.routerMac).not.toBe(s2!.routerMac);
    const all = lines(t);
    const under = all.filter((x) => x.ns === s1!.ns).flatMap((x) => x.lines);
    expect(under).toContain(`link add ${s1!.segRouterIf} mtu 1500 type veth peer name ${s1!.routerIf} address ${s1!.routerMac} mtu 1500 netns ${t.routerNs}`);
    const router = all.filter((x) => x.ns === t.routerNs).flatMap((x) => x.lines);
    for (const n of t.nodes) {
      const s = t.segments.find((x) => x.name === n.segment)!;
      expect(router).toContain(`neigh replace ${n.ip} lladdr ${n.underlayMac} dev ${s.routerIf} nud permanent`);
      const mine = all.filter((x) => x.ns === n.ns).flatMap((x) => x.lines);
      expect(mine).toContain(`neigh replace ${s.routerIp} lladdr ${s.routerMac} dev eth0 nud permanent`);
    }
    // the router's entries come after its addresses
    expect(router.findIndex((l) => l.startsWith('neigh '))).toBeGreaterThan(router.findIndex((l) => l.startsWith('addr add')));
  });
  it('off (auto, small segments): no router MAC, no router entries', () => {
    const t = resolveFile(tempTopology(`name: sar\nunderlay: { segments: [{ name: r1, cidr: 192.168.10.0/24 }, { name: r2, cidr: 192.168.20.0/24 }] }\nnodes: [{ name: a1, segment: r1 }, { name: b1, segment: r2 }]\n`), 'r2');
    expect(t.segments.every((s) => !s.routerMac && !s.routerNeighbours)).toBe(true);
    expect(lines(t).flatMap((x) => x.lines).some((l) => l.startsWith('neigh replace 192.168.'))).toBe(false);
  });
});

describe('underlay.ipv6LinkLocal', () => {
  const seg = (extra: string, nodes: number, cidr = '192.168.0.0/16') =>
    tempTopology(`name: v6ll\nunderlay: { ${extra}segments: [{ name: rack1, cidr: "${cidr}" }] }\noverlay: { podCidr: 10.96.0.0/12 }\nnodes:\n${Array.from({ length: nodes }, (_, i) => `  - { name: n${i + 1} }\n`).join('')}`);
  const sysctlOps = (t: ReturnType<typeof resolveFile>, ns: string) => plan(t).stages.flatMap((s) => s.steps.filter((x) => x.ns === ns).flatMap((x) => x.ops.filter((o) => o.kind === 'sysctl').map((o) => (o as { settings: Record<string, string> }).settings)));
  it('auto: off with staticArp (more than 16 nodes on the segment), on below; the segment namespace before its links, each eth0 before it comes up', () => {
    const big = resolveFile(seg('', 17), 'l1');
    expect(big.segments[0]!.ipv6Off).toBe(true);
    expect(sysctlOps(big, big.segments[0]!.ns!)[0]).toEqual({ 'net.ipv6.conf.all.disable_ipv6': '1', 'net.ipv6.conf.default.disable_ipv6': '1' });
    const underlay = plan(big).stages.find((s) => s.name === 'underlay')!.steps.find((x) => x.ns === big.segments[0]!.ns)!;
    expect(underlay.ops[0]!.kind).toBe('sysctl');
    const n1 = big.nodes[0]!;
    const nodeStep = plan(big).stages.find((s) => s.name === 'nodes')!.steps.find((x) => x.ns === n1.ns)!;
    expect(nodeStep.ops[0]).toEqual({ kind: 'sysctl', settings: { 'net.ipv6.conf.eth0.disable_ipv6': '1' } });
    expect(resolveFile(seg('', 16), 'l1').segments[0]!.ipv6Off).toBeUndefined();
  });
  it('true and false win over auto; an IPv6 segment needs it (false refused, auto keeps it)', () => {
    expect(resolveFile(seg('ipv6LinkLocal: true, ', 17), 'l2').segments[0]!.ipv6Off).toBeUndefined();
    expect(resolveFile(seg('ipv6LinkLocal: false, ', 2), 'l2').segments[0]!.ipv6Off).toBe(true);
    expect(resolveFile(seg('', 17, 'fd00:1::/64'), 'l2').segments[0]!.ipv6Off).toBeUndefined();
    expect(() => resolveFile(seg('ipv6LinkLocal: false, ', 2, 'fd00:1::/64'), 'l2')).toThrow(/rack1 is IPv6.*expected auto or true/);
  });
});

describe('the plan says what is built differently at scale', () => {
  it('notes at the top of `vxlab plan` for staticArp, ipv6LinkLocal and staticPodNeighbours; none for a small topology', async () => {
    const { renderPlan } = await import('../../harness/plan/plan.ts');
    const big = renderPlan(plan(resolveFile(topo('flannel', 257, 1, '', '10.80.0.0/14'), 'n1')));
    const head = big.slice(0, big.indexOf('# families'));
    expect(head).toMatch(/^# underlay\.staticArp: segment rack1 \(257 nodes\): the nodes' underlay neighbours are permanent, and its bridge has a static FDB entry per port/m);
    expect(head).toMatch(/^# underlay\.ipv6LinkLocal: segment rack1: no IPv6 on its links/m);
    expect(head).toMatch(/^# overlay\.staticPodNeighbours: the pods' neighbour entries are permanent \(257 pods; deterministic MACs on pod eth0 and cni0\)$/m);
    const small = renderPlan(plan(resolveFile(topo('flannel', 3, 1), 'n2')));
    expect(small.startsWith('# families')).toBe(true);
  });
});
