// Routing modes: flannel's DirectRouting and Calico's vxlanMode CrossSubnet — schema, file:line:col errors, and the plan
// (direct routes for peers on the node's own subnet, VXLAN entries for the others) and the steps' commands in a mode.
import { describe, expect, it } from 'vitest';
import { errorOf, resolveYaml } from '../helpers/resolve.ts';
import { plan } from '../../harness/plan/plan.ts';
import { planStep } from '../../harness/steps/apply.ts';
import { routesDirect, type ResolvedTopology } from '../../harness/topology/resolved.ts';

const ROUTED = (overlay: string, extra = '') => `name: rm
underlay:
  segments:
    - { name: rack1, cidr: 192.168.10.0/24 }
    - { name: rack2, cidr: 192.168.20.0/24 }
overlay: ${overlay}
nodes:
  - { name: node1, segment: rack1 }
  - { name: node2, segment: rack1${extra} }
  - { name: node3, segment: rack2 }
`;

/** the node batch lines of one node (ip and bridge), without namespace */
function nodeLines(t: ResolvedTopology, name: string): string[] {
  const ns = t.nodes.find((n) => n.name === name)!.ns;
  const st = plan(t).stages.find((s) => s.name === 'nodes')!.steps.find((s) => s.ns === ns)!;
  return st.ops.flatMap((o) => (o.kind === 'ip' || o.kind === 'bridge' ? o.lines : []));
}
const overlayLines = (ls: string[]) => ls.filter((l) => /^(neigh add 10\.|fdb add|route add 10\.)/.test(l));

describe('routing modes: plan', () => {
  it('flannel DirectRouting: a same-subnet peer gets only `<subnet> via <its node IP>`, no ARP or FDB entry; a peer across subnets VXLAN', () => {
    const t = resolveYaml(ROUTED('{ layout: flannel, directRouting: true }'));
    expect(t.nodes.map((n) => n.directRouting)).toEqual([true, true, true]);
    expect(overlayLines(nodeLines(t, 'node1'))).toEqual([
      `neigh add 10.244.3.0 lladdr ${t.nodes[2]!.vtep.mac} dev flannel.1 nud permanent`,
      `fdb add ${t.nodes[2]!.vtep.mac} dev flannel.1 dst 192.168.20.2 self permanent`,
      'route add 10.244.2.0/24 via 192.168.10.3 dev eth0',
      'route add 10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink',
    ]);
    // node3 shares a subnet with nobody: all VXLAN
    expect(overlayLines(nodeLines(t, 'node3')).filter((l) => l.startsWith('route'))).toEqual(['route add 10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink', 'route add 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink']);
  });

  it('calico CrossSubnet: same-subnet blocks via the node IP with proto 80 and no MTU; neighbour and FDB entries for every VTEP (felix)', () => {
    const t = resolveYaml(ROUTED('{ layout: calico, podCidr: 10.65.0.0/16, nodeCidrSize: 26, vxlanMode: CrossSubnet }'));
    const l = overlayLines(nodeLines(t, 'node1'));
    expect(l.filter((x) => x.startsWith('neigh'))).toHaveLength(2);
    expect(l.filter((x) => x.startsWith('fdb'))).toHaveLength(2);
    const routes = plan(t).stages.find((s) => s.name === 'nodes')!.steps.find((s) => s.ns === t.nodes[0]!.ns)!.ops.flatMap((o) => (o.kind === 'ip' ? o.lines : [])).filter((x) => x.startsWith('route add 10.65.0.'));
    expect(routes).toContain('route add 10.65.0.128/26 via 192.168.10.3 dev eth0 proto 80');
    expect(routes).toContain('route add 10.65.0.192/26 via 10.65.0.192 dev vxlan.calico onlink proto 80 mtu 1450');
  });

  it('vxlanMode Always and no directRouting: every peer over VXLAN (the default)', () => {
    for (const ov of ['{ layout: calico, vxlanMode: Always }', '{ layout: flannel, directRouting: false }', '{ layout: flannel }']) {
      const t = resolveYaml(ROUTED(ov));
      expect(t.nodes.some((n) => n.directRouting)).toBe(false);
      expect(routesDirect(t.nodes[0]!, t.nodes[1]!)).toBe(false);
    }
  });

  it('a per-node directRouting (a flanneld on an older net-conf) makes routing asymmetric', () => {
    const t = resolveYaml(ROUTED('{ layout: flannel, directRouting: true }', ', overlay: { directRouting: false }'));
    const [n1, n2] = t.nodes;
    expect(routesDirect(n1!, n2!)).toBe(true);
    expect(routesDirect(n2!, n1!)).toBe(false);
    expect(overlayLines(nodeLines(t, 'node2'))).toContain('route add 10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink');
  });

  it('steps in a mode: remove-node deletes a direct route on eth0 (flannel: no FDB/ARP delete); change-node-ip repoints it', () => {
    const t = resolveYaml(`${ROUTED('{ layout: flannel, directRouting: true }')}steps:
  - { action: change-node-ip, node: node2, ip: 192.168.10.50 }
  - { action: remove-node, node: node2 }
`);
    const text = (i: number) => planStep(t, t.steps![i]!).phases.flatMap((ph) => ph.steps.flatMap((s) => s.ops.flatMap((o) => ('lines' in o ? o.lines.map((x) => `${s.ns.split('-').pop()}: ${x}`) : []))));
    const c = text(0);
    expect(c).toContain('node1: route replace 10.244.2.0/24 via 192.168.10.50 dev eth0');
    expect(c.some((x) => x.startsWith('node1: fdb'))).toBe(false);
    expect(c).toContain(`node3: fdb replace ${t.nodes[1]!.vtep.mac} dev flannel.1 dst 192.168.10.50 self permanent`);
    planStep(t, t.steps![0]!).commit();
    const r = text(1);
    expect(r).toContain('node1: route del 10.244.2.0/24 dev eth0');
    expect(r.filter((x) => x.startsWith('node1:'))).toEqual(['node1: route del 10.244.2.0/24 dev eth0']);
    expect(r).toContain('node3: route del 10.244.2.0/24 dev flannel.1');
  });
});

describe('routing modes: schema errors (file:line:col, key, what was expected)', () => {
  it('directRouting on the calico layout, vxlanMode on flannel, a per-node directRouting on calico', () => {
    expect(errorOf(ROUTED('{ layout: calico, directRouting: true }'))).toMatch(/:6:\d+: overlay\.directRouting: directRouting is flannel's.*write vxlanMode: CrossSubnet/);
    expect(errorOf(ROUTED('{ layout: flannel, vxlanMode: CrossSubnet }'))).toMatch(/:6:\d+: overlay\.vxlanMode: vxlanMode is a Calico IPPool setting.*directRouting: true/);
    expect(errorOf(ROUTED('{ layout: calico }', ', overlay: { directRouting: true }'))).toMatch(/nodes\[1\]\.overlay\.directRouting: directRouting is flannel's/);
  });
  it('bad values: vxlanMode Never, directRouting yes-as-string', () => {
    expect(errorOf(ROUTED('{ layout: calico, vxlanMode: Never }'))).toMatch(/overlay\.vxlanMode: expected one of: Always, CrossSubnet/);
    expect(errorOf(ROUTED('{ layout: flannel, directRouting: "yes" }'))).toMatch(/overlay\.directRouting: expected true or false/);
  });
  it('a mode needs kernel VTEPs and pods of the underlay family', () => {
    expect(errorOf(ROUTED('{ layout: flannel, directRouting: true, vtep: userspace }'))).toMatch(/overlay\.directRouting: directRouting needs kernel VTEPs/);
    expect(errorOf(ROUTED('{ layout: calico, vxlanMode: CrossSubnet, podCidr: [10.65.0.0/16, "fd00:65::/56"] }'))).toMatch(/overlay\.vxlanMode: vxlanMode: CrossSubnet: a direct route .* one family/);
  });
  it('faults: delete-fdb / delete-neigh of a direct-routed flannel peer is an error (there is no entry); across subnets it is fine', () => {
    const f = (kind: string, peer: string) => `${ROUTED('{ layout: flannel, directRouting: true }')}faults:\n  - { kind: ${kind}, node: node1, peer: ${peer} }\n`;
    expect(errorOf(f('delete-fdb', 'node2'))).toMatch(/faults\[0\]\.peer: node1 routes node2 directly \(DirectRouting, same subnet rack1\): flannel writes no FDB entry/);
    expect(errorOf(f('delete-neigh', 'node2'))).toMatch(/no neighbour entry for it/);
    expect(resolveYaml(f('delete-fdb', 'node3')).faults).toHaveLength(1);
    expect(resolveYaml(f('delete-route', 'node2')).faults).toHaveLength(1);
  });
});
