// steps: resolution (every action names a node that exists at that step, an added node fully resolved, file:line:col
// errors) and the control plane's commands per step (pure), with and without control: bugs.
import { describe, expect, it } from 'vitest';
import { errorOf, resolveYaml } from '../helpers/resolve.ts';
import { tempTopology } from '../helpers/topo.ts';
import { loadTopology } from '../../harness/topology/load.ts';
import { resolveStatic } from '../../harness/runner/validate.ts';
import { planStep, renderSteps, stepExpectations } from '../../harness/steps/apply.ts';
import { parseDuration } from '../../harness/steps/types.ts';
import { jsonSchema } from '../../harness/topology/schema.ts';
import type { ResolvedTopology } from '../../harness/topology/resolved.ts';

const BASE = `name: st
nodes:
  - { name: node1 }
  - { name: node2 }
  - { name: node3 }
`;

const lines = (t: ResolvedTopology, i: number) => {
  const p = planStep(t, t.steps![i]!);
  return { text: p.phases.flatMap((ph) => ph.steps.flatMap((s) => s.ops.flatMap((o) => ('lines' in o ? o.lines.map((l) => `${s.ns.split('-').pop()}: ${l}`) : [])))), phases: p.phases, commit: p.commit };
};

describe('steps: resolution', () => {
  it('walks the node set through the steps; an added node gets a subnet no node of the run had, and the next free IP', () => {
    const t = resolveYaml(`${BASE}steps:
  - { action: restart-node, node: node3, newMac: "02:AA:bb:cc:dd:03" }
  - { action: remove-node, node: node2 }
  - { action: add-node, node: { name: node4, pods: 2 } }
  - { action: change-node-ip, node: node1, ip: 192.168.1.50 }
  - { check: [connectivity, routes/fdb], within: 5s, expect: { routes/fdb: pass } }
`);
    expect(t.nodes.map((n) => n.name)).toEqual(['node1', 'node2', 'node3']); // the topology as up builds it
    const s = t.steps!;
    expect(s[0]).toEqual({ n: 1, action: 'restart-node', node: 'node3', newMac: '02:aa:bb:cc:dd:03' });
    expect(s[2]).toMatchObject({ n: 3, action: 'add-node', node: { name: 'node4', ip: '192.168.1.3', podSubnet: '10.244.4.0/24', ns: 'vx-u1-st-node4' } });
    expect((s[2] as any).node.pods.map((p: any) => p.ns)).toEqual(['vx-u1-st-node4-pod1', 'vx-u1-st-node4-pod2']);
    expect(s[4]).toMatchObject({ action: 'check', check: ['connectivity', 'routes/fdb'], withinMs: 5000 });
    expect(stepExpectations(t)).toEqual({ 'steps/5/routes/fdb': 'pass' });
    expect(t.control).toEqual({ removeDepartedFdb: true, removeDepartedRoutes: true, removeDepartedNeighbours: true, updateChangedMac: true, updateChangedIp: true });
  });

  it.each([
    ['a node removed before', `  - { action: remove-node, node: node2 }\n  - { action: restart-node, node: node2 }\n`, /topo\.yaml:8:35: steps\[1\]\.node: no node 'node2' at this step; expected one of: node1, node3/],
    ['an unknown node', `  - { action: remove-node, node: node9 }\n`, /topo\.yaml:7:34: steps\[0\]\.node: no node 'node9' at this step/],
    ['adding a node that exists', `  - { action: add-node, node: { name: node1 } }\n`, /steps\[0\]\.node\.name: node 'node1' already exists at this step/],
    ['a new IP outside the segment', `  - { action: change-node-ip, node: node1, ip: 10.0.0.5 }\n`, /topo\.yaml:7:48: steps\[0\]\.ip: 10\.0\.0\.5 is not a host address of node1's segment rack1 \(192\.168\.1\.0\/24\)/],
    ["another node's IP", `  - { action: change-node-ip, node: node1, ip: 192.168.1.3 }\n`, /steps\[0\]\.ip: 192\.168\.1\.3 is node2's address at this step/],
    ["another node's MAC", `  - { action: restart-node, node: node1, newMac: "02:00:00:00:00:09" }\n  - { action: restart-node, node: node2, newMac: "02:00:00:00:00:09" }\n`, /steps\[1\]\.newMac: VTEP MAC 02:00:00:00:00:09 is used by node1/],
    ['action and check together', `  - { action: remove-node, node: node1, check: [routes] }\n`, /steps\[0\]\.check: a step has an action or a check list, not both/],
    ['neither', `  - { within: 5s }\n`, /steps\[0\]: expected action: restart-node \| remove-node \| add-node \| change-node-ip, or check:/],
    ['removing the last node', `  - { action: remove-node, node: node1 }\n  - { action: remove-node, node: node2 }\n  - { action: remove-node, node: node3 }\n`, /steps\[2\]\.node: removing node3 would leave no node/],
    ['a bad duration', `  - { check: [routes], within: 5 minutes }\n`, /steps\[0\]\.within: expected a duration like 5s or 500ms/],
    ['add-node with a name', `  - { action: add-node, node: node4 }\n`, /steps\[0\]\.node: add-node expects a node object like \{ name: node4, pods: 1 \}/],
  ])('rejects %s with file:line:col', (_w, steps, re) => {
    expect(errorOf(`${BASE}steps:\n${steps}`)).toMatch(re);
  });

  it('steps need vxlab as the control plane and kernel VTEPs', () => {
    expect(errorOf(`${BASE}overlay: { vtep: userspace }\nsteps:\n  - { action: remove-node, node: node1 }\n`)).toMatch(/steps\[0\]\.action: node node1 has a userspace VTEP/);
  });

  it('check steps name known suites or checks; their expect: only what the step runs', () => {
    const v = (steps: string) => {
      try {
        resolveStatic(loadTopology(tempTopology(`${BASE}steps:\n${steps}`)), 'u1');
        return 'ok';
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(v(`  - { check: [routes/fbd] }\n`)).toMatch(/topo\.yaml:7:15: steps\[0\]\.check\[0\]: unknown suite or check 'routes\/fbd'/);
    expect(v(`  - { check: [routes/fdb], expect: { connectivity: fail } }\n`)).toMatch(/steps\[0\]\.expect\.connectivity: 'connectivity' is not among this step's checks \(routes\/fdb\)/);
    expect(v(`  - { check: [routes], expect: { routes/fdb: fail } }\n`)).toBe('ok');
  });

  it('the JSON schema and durations', () => {
    const js = JSON.stringify(jsonSchema());
    expect(js).toContain('removeDepartedFdb');
    expect(js).toContain('change-node-ip');
    expect(parseDuration('5s')).toBe(5000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration(1.5)).toBe(1500);
  });
});

describe('steps: the control plane per step (pure)', () => {
  it('restart-node with a new MAC: the node recreates its VTEP, peers replace neighbour and FDB (old entry deleted)', () => {
    const t = resolveYaml(`${BASE}steps:\n  - { action: restart-node, node: node3, newMac: "02:aa:bb:cc:dd:03" }\n`);
    const old = t.nodes[2]!.vtep.mac;
    const { text, commit } = lines(t, 0);
    expect(text).toContain('node3: link del flannel.1');
    expect(text.find((l) => l.startsWith('node3: link add flannel.1'))).toMatch(/address 02:aa:bb:cc:dd:03 .* local 192\.168\.1\.4 /);
    expect(text).toContain('node1: neigh replace 10.244.3.0 lladdr 02:aa:bb:cc:dd:03 dev flannel.1 nud permanent');
    expect(text).toContain(`node1: fdb del ${old} dev flannel.1 dst 192.168.1.4 self`);
    expect(text).toContain('node2: fdb replace 02:aa:bb:cc:dd:03 dev flannel.1 dst 192.168.1.4 self permanent');
    commit();
    expect(t.nodes[2]!.vtep.mac).toBe('02:aa:bb:cc:dd:03');
  });

  it('control updateChangedMac: false — the peers are left alone (flannel#1795)', () => {
    const t = resolveYaml(`${BASE}control: { updateChangedMac: false }\nsteps:\n  - { action: restart-node, node: node3, newMac: "02:aa:bb:cc:dd:03" }\n`);
    const { text } = lines(t, 0);
    expect(text.filter((l) => !l.startsWith('node3:'))).toEqual([]);
  });

  it('remove-node: namespaces deleted, peers delete neighbour, FDB and route; control keeps what it names', () => {
    const t = resolveYaml(`${BASE}steps:\n  - { action: remove-node, node: node2 }\n`);
    const { text, phases, commit } = lines(t, 0);
    expect(phases[0]!.deleteNs).toEqual(['vx-u1-st-node2-pod1', 'vx-u1-st-node2']);
    expect(text).toEqual(expect.arrayContaining(['node1: neigh del 10.244.2.0 dev flannel.1', `node3: fdb del ${t.nodes[1]!.vtep.mac} dev flannel.1 dst 192.168.1.3 self`, 'node1: route del 10.244.2.0/24 dev flannel.1']));
    commit();
    expect(t.nodes.map((n) => n.name)).toEqual(['node1', 'node3']);
    expect(t.departed).toEqual([expect.objectContaining({ name: 'node2', step: 1, ip: '192.168.1.3' })]);
    const k = resolveYaml(`${BASE}control: { removeDepartedFdb: false, removeDepartedRoutes: false }\nsteps:\n  - { action: remove-node, node: node2 }\n`);
    const kt = lines(k, 0).text;
    expect(kt.filter((l) => /fdb del|route del/.test(l))).toEqual([]);
    expect(kt).toContain('node1: neigh del 10.244.2.0 dev flannel.1');
  });

  it('add-node: its namespaces, its underlay link, its VTEP with entries for every peer; peers replace (idempotent)', () => {
    const t = resolveYaml(`${BASE}steps:\n  - { action: add-node, node: { name: node4 } }\n`);
    const { text, phases } = lines(t, 0);
    expect(phases[0]!.createNs).toEqual(['vx-u1-st-node4', 'vx-u1-st-node4-pod1']);
    expect(text).toContain('rack1: link set n-node4 master br0 up');
    expect(text.filter((l) => l.startsWith('node4: fdb add'))).toHaveLength(3);
    expect(text).toContain('node2: route replace 10.244.4.0/24 via 10.244.4.0 dev flannel.1 onlink');
    expect(renderSteps(t)).toMatch(/# step 1: add-node node4 \(192\.168\.1\.5, pods 10\.244\.4\.0\/24\)\n## node4 joins/);
  });

  it('change-node-ip: the old address goes first, the VTEP is recreated with the new local; peers replace the dst', () => {
    const t = resolveYaml(`${BASE}steps:\n  - { action: change-node-ip, node: node1, ip: 192.168.1.50 }\n`);
    const { text } = lines(t, 0);
    expect(text.slice(0, 2)).toEqual(['node1: addr del 192.168.1.2/24 dev eth0', 'node1: addr add 192.168.1.50/24 dev eth0']);
    expect(text.find((l) => l.startsWith('node1: link add flannel.1'))).toMatch(/local 192\.168\.1\.50 /);
    expect(text).toContain(`node2: fdb replace ${t.nodes[0]!.vtep.mac} dev flannel.1 dst 192.168.1.50 self permanent`);
    const k = resolveYaml(`${BASE}control: { updateChangedIp: false }\nsteps:\n  - { action: change-node-ip, node: node1, ip: 192.168.1.50 }\n`);
    expect(lines(k, 0).text.filter((l) => !l.startsWith('node1:'))).toEqual([]);
  });
});

describe('what up builds, as the upstream data planes do', () => {
  it("calico: the VTEP MAC felix derives from the node name ('f', then SHA-1 of the name)", async () => {
    const { felixVtepMac } = await import('../../harness/topology/normalize.ts');
    expect(felixVtepMac('node1')).toBe('66:f9:37:c3:7e:94');
    const t = resolveYaml('name: c\noverlay: { layout: calico }\nnodes:\n  - { name: node1 }\n  - { name: node2, vtepMac: "02:00:00:00:00:02" }\n');
    expect(t.nodes.map((n) => n.vtep.mac)).toEqual(['66:f9:37:c3:7e:94', '02:00:00:00:00:02']);
  });
});

describe('sysctls: and hostProfile: (inside vxlab namespaces only)', () => {
  it('hostProfile, then the topology, then the node; written last in the node batch', async () => {
    const { plan, renderPlan } = await import('../../harness/plan/plan.ts');
    const t = resolveYaml('name: s\nhostProfile: rp-filter-loose\nsysctls: { net.ipv4.conf.all.rp_filter: 1 }\nnodes:\n  - { name: a, sysctls: { net.ipv4.conf.eth0.rp_filter: "0" } }\n  - { name: b }\n');
    expect(t.nodes[0]!.sysctls).toEqual({ 'net.ipv4.conf.all.rp_filter': '1', 'net.ipv4.conf.default.rp_filter': '2', 'net.ipv4.conf.eth0.rp_filter': '0' });
    expect(t.nodes[1]!.sysctls).toEqual({ 'net.ipv4.conf.all.rp_filter': '1', 'net.ipv4.conf.default.rp_filter': '2' });
    expect(renderPlan(plan(t))).toMatch(/vx-u1-s-a sysctl -qw net\.ipv4\.ip_forward=1 .*net\.ipv4\.conf\.all\.rp_filter=1 net\.ipv4\.conf\.default\.rp_filter=2 net\.ipv4\.conf\.eth0\.rp_filter=0$/m);
  });
  it('only network sysctls, with file:line:col', () => {
    expect(errorOf('name: s\nnodes:\n  - { name: a, sysctls: { vm.swappiness: 1 } }\n')).toMatch(/topo\.yaml:3:42: nodes\[0\]\.sysctls\.vm\.swappiness: 'vm\.swappiness' is not a network sysctl/);
    expect(errorOf('name: s\nhostProfile: centos\nnodes:\n  - { name: a }\n')).toMatch(/hostProfile: expected one of: rp-filter-strict, rp-filter-loose/);
  });
});

describe('lab.step: live steps resolve against the nodes as earlier steps left them', () => {
  it("a node an earlier lab.step added keeps its own spec (per-node overlay settings, sysctls) for the steps after it; a file's steps: add-node too", async () => {
    const { resolveLiveStep, liveNodeSpecs } = await import('../../harness/topology/normalize.ts');
    const t = resolveYaml(`${BASE}steps:\n  - { action: add-node, node: { name: node5, pods: 1, overlay: { mtu: 1400 } } }\n`);
    t.nodes.push((t.steps![0] as any).node); // the file's step 1, applied
    const spec = { name: 'node4', pods: 1, overlay: { directRouting: true, mtu: 1400 }, sysctls: { 'net.ipv4.conf.all.rp_filter': 2 } };
    const s = resolveLiveStep(t, { action: 'add-node', node: spec });
    expect(s).toMatchObject({ action: 'add-node', node: { name: 'node4', directRouting: true, vtep: { mtu: 1400 } } });
    t.nodes.push((s as any).node); // what the applied step commits
    const specs = liveNodeSpecs(t);
    expect(specs.find((n) => n.name === 'node4')).toEqual(spec); // was { name, segment, pods }: overlay and sysctls lost
    expect(specs.find((n) => n.name === 'node5')).toMatchObject({ overlay: { mtu: 1400 } });
    expect(specs.find((n) => n.name === 'node1')).toEqual({ name: 'node1' });
    // the next live add-node resolves with them in the node list
    const next = resolveLiveStep(t, { action: 'add-node', node: { name: 'node6', pods: 1 } });
    expect(next).toMatchObject({ action: 'add-node', node: { name: 'node6', vtep: { mtu: 1450 } } });
  });
});
