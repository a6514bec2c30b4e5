// overlay.builder: external — the pure parts: schema and semantic errors, the plan, the setup environment,
// and reading a node's VTEP identity from `ip -j` output.
import { describe, expect, it } from 'vitest';
import { errorOf, resolveYaml } from '../helpers/resolve.ts';
import { dirname } from 'node:path';

import { plan, renderPlan } from '../../harness/plan/plan.ts';
import { applyIdentity, identityFrom, setupEnv } from '../../harness/overlay/external.ts';

const EXT = `name: ext
overlay:
  builder: external
  setup:
    - command: [./agent, --iface, eth0]
      daemon: true
      ready: { device: flannel.1, timeoutSec: 20 }
nodes:
  - { name: node1, pods: 1, setup: [ { command: [./extra-step] } ] }
  - { name: node2, pods: 1 }
  - { name: node3, pods: 0 }
`;

describe('builder: external — topology', () => {
  it('resolves setup steps per node: overlay.setup first, then the node\'s own, with defaults', () => {
    const t = resolveYaml(EXT);
    expect(t.builder).toBe('external');
    expect(t.nodes[0]!.setup).toEqual([
      { command: ['./agent', '--iface', 'eth0'], daemon: true, timeoutSec: 60, ready: { device: 'flannel.1', command: undefined, timeoutSec: 20 } },
      { command: ['./extra-step'], daemon: false, timeoutSec: 60 },
    ]);
    expect(t.nodes[1]!.setup).toHaveLength(1);
    expect(resolveYaml('name: v\nnodes: [ { name: a } ]\n').builder).toBe('vxlab');
  });

  it('rejects what cannot work, with file:line:col', () => {
    expect(errorOf('name: v\noverlay:\n  setup: [ { command: [x] } ]\nnodes: [ { name: a } ]\n')).toMatch(/topo\.yaml:3:\d+: overlay\.setup: setup programs need overlay\.builder: external/);
    expect(errorOf('name: v\nnodes:\n  - { name: a, setup: [ { command: [x] } ] }\n')).toMatch(/topo\.yaml:3:\d+: nodes\[0\]\.setup: setup programs need overlay\.builder: external/);
    expect(errorOf('name: v\noverlay: { builder: external }\nnodes: [ { name: a } ]\n')).toMatch(/overlay\.builder: builder: external expects at least one setup program/);
    expect(errorOf('name: v\noverlay: { builder: externl }\nnodes: [ { name: a } ]\n')).toMatch(/overlay\.builder: expected one of: vxlab, external/);
    expect(errorOf(EXT.replace('builder: external', 'builder: external\n  vtep: userspace'))).toMatch(/overlay\.vtep: builder: external: the setup programs create the VTEP device/);
    expect(errorOf(EXT.replace('{ name: node2, pods: 1 }', '{ name: node2, pods: 1, vtepMac: "02:00:00:00:00:09" }'))).toMatch(/nodes\[1\]\.vtepMac: builder: external: the VTEP MAC is chosen by the control plane/);
    expect(errorOf(EXT.replace('command: [./agent, --iface, eth0]', 'command: "./agent --iface eth0"'))).toMatch(/overlay\.setup\[0\]\.command: .*argv list/);
    expect(errorOf(EXT.replace('{ device: flannel.1, timeoutSec: 20 }', '{ device: flannel.1, timeoutSec: 20, wait: 3 }'))).toMatch(/overlay\.setup\[0\]\.ready/);
  });
});

describe('builder: external — plan', () => {
  it('vxlab builds only the underlay, then the setup stage, then attaches pods; no overlay entries of its own', () => {
    const t = resolveYaml(EXT);
    const p = plan(t);
    expect(p.stages.map((s) => s.name)).toEqual(['underlay', 'nodes', 'setup', 'attach', 'pods']);
    const text = renderPlan(p);
    expect(text).not.toMatch(/type vxlan|fdb add|neigh add|onlink/);
    expect(text).toContain(`ip netns exec vx-u1-ext-node1 ./agent --iface eth0   # daemon; ready when device flannel.1 exists (within 20 s)`);
    expect(text).toContain(`ip netns exec vx-u1-ext-node1 ./extra-step   # runs to exit 0 within 60 s`);
    expect(text).toContain(`cwd ${dirname(t.file!)}`);
    const setup = p.stages.find((s) => s.name === 'setup')!;
    expect(setup.setup).toBe(true);
    expect(setup.steps.map((s) => s.ns)).toEqual(['vx-u1-ext-node1', 'vx-u1-ext-node2', 'vx-u1-ext-node3']);
    // pods are attached after the setup programs: cni0 and the host veths are in the attach stage
    const attach = renderPlan({ namespaces: [], stages: [p.stages.find((s) => s.name === 'attach')!] });
    expect(attach).toContain('ip -n vx-u1-ext-node1 link add cni0 mtu 1450 type bridge');
    expect(attach).toContain('ip -n vx-u1-ext-node2 link set v-pod1 master cni0 up');
  });

  it('builder: vxlab plans are unchanged by the split of pod attachment', () => {
    const t = resolveYaml('name: v\nnodes: [ { name: a, pods: 1 }, { name: b, pods: 1 } ]\n');
    const text = renderPlan(plan(t));
    expect(plan(t).stages.map((s) => s.name)).toEqual(['underlay', 'nodes', 'pods']);
    // within the node's batch: VTEP address and up, then cni0 and veths, then the neighbour
    const lines = text.split('\n').filter((l) => l.startsWith('ip -n vx-u1-v-a '));
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    expect(at(/type vxlan/)).toBeLessThan(at(/link add cni0/));
    expect(at(/link add cni0/)).toBeLessThan(at(/link add v-pod1/));
    expect(at(/link add v-pod1/)).toBeLessThan(at(/neigh add/));
    expect(at(/neigh add/)).toBeLessThan(at(/route add 10\.244\.2\.0\/24/));
  });
});

describe('builder: external — environment of setup programs', () => {
  it('carries the node\'s facts and every peer', () => {
    const t = resolveYaml(EXT);
    const env = setupEnv(t, t.nodes[0]!, '/run/x');
    expect(env).toMatchObject({
      VXLAB_NODE: 'node1',
      VXLAB_NODE_IP: '192.168.1.2',
      VXLAB_POD_SUBNETS: '10.244.1.0/24',
      VXLAB_VNI: '1',
      VXLAB_PORT: '4789',
      VXLAB_MTU: '1450',
      VXLAB_UNDERLAY_IF: 'eth0',
      VXLAB_RUN_DIR: '/run/x',
      VXLAB_RUN_ID: 'u1',
    });
    expect(JSON.parse(env.VXLAB_PEERS!)).toEqual([
      { name: 'node2', ip: '192.168.1.3', podSubnets: ['10.244.2.0/24'] },
      { name: 'node3', ip: '192.168.1.4', podSubnets: ['10.244.3.0/24'] },
    ]);
  });
});

const link = (over: Record<string, unknown> = {}) => ({
  ifname: 'flannel.1',
  address: '6E:E3:6D:AF:7B:2D',
  mtu: 1450,
  linkinfo: { info_kind: 'vxlan', info_data: { id: 1, port: 4789, local: '192.168.1.2', learning: false } },
  ...over,
});
const addr = (...a: string[]) => [{ ifname: 'flannel.1', addr_info: a.map((x) => ({ family: 'inet', local: x.split('/')[0]!, prefixlen: Number(x.split('/')[1]) })) }];

describe('builder: external — identities', () => {
  it('reads MAC, VNI, port, local, learning, MTU and addresses; the announced MAC replaces the expectation', () => {
    const t = resolveYaml(EXT);
    const n = t.nodes[0]!;
    const id = identityFrom(t, n, [link()], addr('10.244.1.0/32'));
    expect(id).toEqual({ device: 'flannel.1', present: true, mac: '6e:e3:6d:af:7b:2d', addresses: ['10.244.1.0/32'], vni: 1, port: 4789, local: '192.168.1.2', learning: false, mtu: 1450, problems: [] });
    applyIdentity(t, n, id);
    expect(n.vtep.mac).toBe('6e:e3:6d:af:7b:2d');
    expect(n.vtep.ip).toBe('10.244.1.0');
    // device parameters stay the topology's rules: the suites compare them
    expect(n.vtep.mtu).toBe(1450);
  });

  it('flannel: the VTEP address must be the subnet\'s .0/32', () => {
    const t = resolveYaml(EXT);
    const id = identityFrom(t, t.nodes[1]!, [link()], addr('10.244.2.1/24'));
    expect(id.problems).toEqual(["node2: flannel.1 address: expected 10.244.2.0/32 (flannel: the pod subnet's network address), observed 10.244.2.1/24"]);
    expect(identityFrom(t, t.nodes[1]!, [link()], []).problems[0]).toMatch(/observed none$/);
  });

  it('calico: the tunnel address comes from the node\'s block and is taken as observed', () => {
    const t = resolveYaml(EXT.replace('builder: external', 'builder: external\n  layout: calico').replace('flannel.1', 'vxlan.calico'));
    const n = t.nodes[0]!;
    const id = identityFrom(t, n, [link({ ifname: 'vxlan.calico' })], [{ ifname: 'vxlan.calico', addr_info: [{ family: 'inet', local: '10.244.1.77', prefixlen: 32 }] }]);
    expect(id.problems).toEqual([]);
    applyIdentity(t, n, id);
    expect(n.vtep.ip).toBe('10.244.1.77');
    const bad = identityFrom(t, n, [link({ ifname: 'vxlan.calico' })], [{ ifname: 'vxlan.calico', addr_info: [{ family: 'inet', local: '10.244.2.5', prefixlen: 32 }] }]);
    expect(bad.problems).toEqual(["node1: vxlan.calico address: expected a tunnel address from node1's block 10.244.1.0/24, observed 10.244.2.5/32"]);
  });

  it('a node without the layout\'s device announces nothing', () => {
    const t = resolveYaml(EXT);
    const n = t.nodes[2]!;
    const id = identityFrom(t, n, [link({ ifname: 'vxlan0' })], []);
    expect(id).toMatchObject({ present: false, problems: ['node3: flannel.1 missing: the setup programs created no VTEP device of the flannel layout'] });
    applyIdentity(t, n, id);
    expect(n.vtep.mac).toBe('(none: node3 has no flannel.1)');
  });
});
