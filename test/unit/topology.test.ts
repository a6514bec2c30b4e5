import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
import { describe, expect, it } from 'vitest';
import { errorOf, resolveYaml } from '../helpers/resolve.ts';
import { loadTopology } from '../../harness/topology/load.ts';
import { normalize, defaultVtepMac, refreshTopology } from '../../harness/topology/normalize.ts';

import { jsonSchema } from '../../harness/topology/schema.ts';
import { tempTopology, TOPO } from '../helpers/topo.ts';
import { readFileSync } from 'node:fs';

describe('defaults', () => {
  it('a minimal file (name + nodes) resolves to a full flannel overlay', () => {
    const t = resolveYaml('name: tiny\nnodes:\n  - name: a\n  - name: b\n');
    expect(t.layout).toBe('flannel');
    expect(t.segments).toMatchObject([{ name: 'rack1', cidr: '192.168.1.0/24', mtu: 1500, ns: 'vx-u1-tiny-seg-rack1' }]);
    const [a, b] = t.nodes;
    expect(a).toMatchObject({ ns: 'vx-u1-tiny-a', ip: '192.168.1.2', podSubnet: '10.244.1.0/24' });
    expect(b).toMatchObject({ ip: '192.168.1.3', podSubnet: '10.244.2.0/24' });
    expect(a!.vtep).toMatchObject({ kind: 'kernel', dev: 'flannel.1', vni: 1, port: 4789, mtu: 1450, ip: '10.244.1.0', learning: false, df: 'unset' });
    expect(a!.vtep.mac).toBe(defaultVtepMac('tiny', 'a'));
    expect(a!.vtep.mac).toMatch(/^02(:[0-9a-f]{2}){5}$/);
    expect(a!.bridge).toMatchObject({ name: 'cni0', ip: '10.244.1.1' });
    expect(a!.pods).toMatchObject([{ name: 'pod1', ip: '10.244.1.2', prefixLen: 24, mtu: 1450, gateway: '10.244.1.1', ns: 'vx-u1-tiny-a-pod1' }]);
  });

  it('MACs are deterministic per topology and node, and distinct', () => {
    expect(defaultVtepMac('x', 'n1')).toBe(defaultVtepMac('x', 'n1'));
    expect(defaultVtepMac('x', 'n1')).not.toBe(defaultVtepMac('x', 'n2'));
    expect(defaultVtepMac('x', 'n1')).not.toBe(defaultVtepMac('y', 'n1'));
  });

  it('routed underlays reserve .1 for the router and give nodes a default route', () => {
    const t = resolveYaml(readFileSync(TOPO('routed-2seg.yaml'), 'utf8'));
    expect(t.routed).toBe(true);
    expect(t.routerNs).toBe('vx-u1-routed-2seg-router');
    expect(t.segments.map((s) => s.routerIp)).toEqual(['192.168.10.1', '192.168.20.1']);
    expect(t.nodes.map((n) => [n.ip, n.gateway])).toEqual([
      ['192.168.10.2', '192.168.10.1'],
      ['192.168.10.3', '192.168.10.1'],
      ['192.168.20.2', '192.168.20.1'],
    ]);
  });

  it('explicit IPs are reserved before defaults are handed out', () => {
    const t = resolveYaml('name: t\nnodes:\n  - name: a\n  - name: b\n    ip: 192.168.1.2\n');
    expect(t.nodes.map((n) => n.ip)).toEqual(['192.168.1.3', '192.168.1.2']);
  });

  it('overlay mtu auto follows each node\'s segment MTU; podMtu overrides', () => {
    const t = resolveYaml('name: t\nunderlay:\n  segments:\n    - {name: a, cidr: 10.1.0.0/24, mtu: 9000}\n    - {name: b, cidr: 10.2.0.0/24, mtu: 4000}\noverlay: {podMtu: 1500}\nnodes:\n  - {name: n1, segment: a}\n  - {name: n2, segment: b, overlay: {mtu: 1400}}\n');
    expect(t.nodes.map((n) => [n.underlayMtu, n.vtep.mtu, n.pods[0]!.mtu])).toEqual([[9000, 8950, 1500], [4000, 1400, 1500]]);
  });

  it('calico layout: vxlan.calico, VNI 4096, /32 pods behind cali* with 169.254.1.1', () => {
    const t = resolveYaml('name: c\noverlay: {layout: calico}\nnodes:\n  - {name: a, pods: 2}\n  - {name: b}\n');
    expect(t.nodes[0]!.vtep).toMatchObject({ dev: 'vxlan.calico', vni: 4096, port: 4789 });
    expect(t.nodes[0]!.bridge).toBeUndefined();
    expect(t.nodes[0]!.pods[0]).toMatchObject({ prefixLen: 32, gateway: '169.254.1.1', ip: '10.244.1.1' });
    expect(t.nodes[0]!.pods[0]!.hostIf).toMatch(/^cali/);
  });
});

describe('schema errors: file:line:col, the key, what was expected', () => {
  it('bad YAML', () => {
    expect(errorOf('name: x\nnodes: [\n')).toMatch(/topo\.yaml:\d+:\d+: invalid YAML/);
  });
  it('unknown key lists the known ones', () => {
    const m = errorOf('name: x\nnodes:\n  - name: a\n    podz: 2\n');
    expect(m).toMatch(/topo\.yaml:4:5: nodes\[0\]\.podz: unknown key 'podz'; expected one of: name, segment, ip/);
  });
  it('wrong type', () => {
    expect(errorOf('name: x\noverlay:\n  vni: "one"\nnodes: [{name: a}]\n')).toMatch(/topo\.yaml:3:8: overlay\.vni: expected/);
  });
  it('bad CIDR and MAC', () => {
    expect(errorOf('name: x\noverlay:\n  podCidr: 10.244.0/16\nnodes: [{name: a}]\n')).toMatch(/:3:\d+: overlay\.podCidr: expected an IPv4 CIDR/);
    expect(errorOf('name: x\nnodes:\n  - name: a\n    vtepMac: 02:00:00:00:00\n')).toMatch(/:4:\d+: nodes\[0\]\.vtepMac: expected a MAC address/);
  });
  it('VNI, port and MTU ranges', () => {
    expect(errorOf('name: x\noverlay: {vni: 16777216}\nnodes: [{name: a}]\n')).toMatch(/:2:\d+: overlay\.vni: expected a VNI in 0–16777215/);
    expect(errorOf('name: x\noverlay: {port: 0}\nnodes: [{name: a}]\n')).toMatch(/overlay\.port: expected a port in 1–65535/);
    expect(errorOf('name: x\nunderlay: {mtu: 1000}\nnodes: [{name: a}]\n')).toMatch(/underlay\.mtu: expected an MTU ≥ 1280/);
    expect(errorOf('name: x\nunderlay: {mtu: 70000}\nnodes: [{name: a}]\n')).toMatch(/underlay\.mtu: expected an MTU ≤ 65535/);
  });
  it('bad names', () => {
    expect(errorOf('name: Bad_Name\nnodes: [{name: a}]\n')).toMatch(/:1:7: name: expected a topology name/);
  });
  it('an unknown runtime lists the known ones', () => {
    expect(errorOf('name: x\nruntime: lxc\nnodes: [{name: a}]\n')).toMatch(/:2:10: runtime: expected one of: netns, docker, kind/);
  });
  it('what a runtime cannot do is rejected at its key', () => {
    expect(errorOf('name: x\nimage: foo:1\nnodes: [{name: a}]\n')).toMatch(/topo\.yaml:2:8: image: image needs runtime docker or kind/);
    expect(errorOf('name: x\nnodes:\n  - {name: a, image: foo:1}\n')).toMatch(/:3:\d+: nodes\[0\]\.image: image needs runtime docker or kind/);
    expect(errorOf('name: x\nruntime: kind\nnodes:\n  - name: a\n    ip: 192.168.1.5\n')).toMatch(/:5:9: nodes\[0\]\.ip: runtime kind: node IPs are assigned by Docker/);
    expect(errorOf('name: x\nruntime: kind\nnodes:\n  - {name: a, podSubnet: 10.244.1.0/24}\n')).toMatch(/:4:\d+: nodes\[0\]\.podSubnet: runtime kind: pod subnets come from the cluster/);
    expect(errorOf('name: x\nruntime: kind\nunderlay:\n  segments:\n    - {name: a, cidr: 192.168.1.0/24}\n    - {name: b, cidr: 192.168.2.0/24}\nnodes: [{name: a}]\n')).toMatch(/:6:\d+: underlay\.segments\[1\]: runtime kind has one underlay segment/);
    expect(errorOf('name: x\nruntime: docker\nnodes:\n  - {name: a, ip: 192.168.1.254}\n')).toMatch(/:4:\d+: nodes\[0\]\.ip: node IP 192\.168\.1\.254 of segment rack1 is the gateway Docker puts on the segment's bridge/);
    expect(errorOf('name: x\nruntime: docker\nimage: "Bad image!"\nnodes: [{name: a}]\n')).toMatch(/:3:\d+: image: expected a local image reference/);
  });
  it('runtime docker: containers, Docker networks, the gateway address never handed to a node', () => {
    const t = resolveYaml('name: d\nruntime: docker\nimage: my/img:1\nunderlay:\n  segments:\n    - {name: r1, cidr: 192.168.5.0/29}\n    - {name: r2, cidr: 192.168.6.0/24}\nnodes:\n  - {name: a, segment: r1}\n  - {name: b, segment: r1}\n  - {name: c, segment: r1}\n  - {name: e, segment: r2, image: other:2}\n');
    expect(t.runtime).toBe('docker');
    expect(t.segments.map((s) => [s.ns, s.network])).toEqual([
      [undefined, { name: 'vx-u1-d-seg-r1', bridge: 'vx-u1-s0', gateway: '192.168.5.6', internal: false }],
      [undefined, { name: 'vx-u1-d-seg-r2', bridge: 'vx-u1-s1', gateway: '192.168.6.254', internal: false }],
    ]);
    // .1 is the router, .6 Docker's gateway: a /29 holds .2–.5 for nodes
    expect(t.nodes.map((n) => [n.ip, n.container, n.image])).toEqual([
      ['192.168.5.2', 'vx-u1-d-a', 'my/img:1'], ['192.168.5.3', 'vx-u1-d-b', 'my/img:1'], ['192.168.5.4', 'vx-u1-d-c', 'my/img:1'], ['192.168.6.2', 'vx-u1-d-e', 'other:2'],
    ]);
    expect(t.routerContainer).toBe('vx-u1-d-router');
    expect(resolveYaml('name: d\nruntime: docker\nnodes: [{name: a}]\n').segments[0]!.network!.internal).toBe(true);
  });
  it('runtime kind: node containers named as kind names them; discovered facts win over defaults', () => {
    const t = resolveYaml('name: k\nruntime: kind\nnodes: [{name: a}, {name: b}, {name: c}]\n');
    expect(t.kindCluster).toBe('vx-u1-k');
    expect(t.nodes.map((n) => n.container)).toEqual(['vx-u1-k-control-plane', 'vx-u1-k-worker', 'vx-u1-k-worker2']);
    refreshTopology(t, { a: { ip: '192.168.1.9', underlayMac: '02:42:c0:a8:01:09', podSubnet: '10.244.7.0/24' } });
    expect(t.nodes[0]).toMatchObject({ ip: '192.168.1.9', underlayMac: '02:42:c0:a8:01:09', podSubnet: '10.244.7.0/24', vtep: { ip: '10.244.7.0' } });
    expect(t.nodes[0]!.pods[0]!.ip).toBe('10.244.7.2');
  });
  it('unknown fault kind lists the valid kinds', () => {
    expect(errorOf('name: x\nnodes: [{name: a}]\nfaults:\n  - {kind: explode, node: a}\n')).toMatch(/:4:\d+: faults\[0\]\.kind: unknown fault kind 'explode'; expected one of: underlay-mtu, drop-udp-port/);
  });
});

describe('semantic errors, located', () => {
  it('duplicate node names', () => {
    expect(errorOf('name: x\nnodes:\n  - name: a\n  - name: a\n')).toMatch(/topo\.yaml:4:11: nodes\[1\]\.name: duplicate node name 'a'/);
  });
  it('duplicate pod names', () => {
    expect(errorOf('name: x\nnodes:\n  - name: a\n    pods: [p, p]\n')).toMatch(/:4:\d+: nodes\[0\]\.pods\[1\]: duplicate pod name 'p'/);
  });
  it('overlapping pod subnets', () => {
    expect(errorOf('name: x\nnodes:\n  - {name: a, podSubnet: 10.244.1.0/24}\n  - {name: b, podSubnet: 10.244.1.0/25}\n')).toMatch(/:4:\d+: nodes\[1\]\.podSubnet: pod subnet 10\.244\.1\.0\/25 overlaps node a/);
  });
  it('pod CIDR overlapping the underlay', () => {
    expect(errorOf('name: x\noverlay: {podCidr: 192.168.0.0/16}\nnodes: [{name: a}]\n')).toMatch(/overlay\.podCidr: podCidr 192\.168\.0\.0\/16 overlaps underlay segment rack1/);
  });
  it('more nodes than podCidr holds', () => {
    expect(errorOf('name: x\noverlay: {podCidr: 10.0.0.0/23, nodeCidrSize: 24}\nnodes:\n  - name: a\n  - name: b\n')).toMatch(/:5:\d+: nodes\[1\]: more nodes than podCidr 10\.0\.0\.0\/23 holds/);
  });
  it('node IP outside its segment', () => {
    expect(errorOf('name: x\nnodes:\n  - name: a\n    ip: 10.9.9.9\n')).toMatch(/:4:9: nodes\[0\]\.ip: node IP 10\.9\.9\.9 is outside segment rack1/);
  });
  it('interface names over 15 bytes', () => {
    expect(errorOf('name: x\nnodes:\n  - name: averyveryverylongnode\n')).toMatch(/nodes\[0\]\.name: generated interface name 'n-averyveryverylongnode' is 23 bytes; Linux allows at most 15/);
  });
  it('unknown segment lists the known ones', () => {
    expect(errorOf('name: x\nnodes:\n  - {name: a, segment: rack9}\n')).toMatch(/nodes\[0\]\.segment: unknown segment 'rack9'; expected one of: rack1/);
  });
  it('fault on an unknown node', () => {
    expect(errorOf('name: x\nnodes: [{name: a}, {name: b}]\nfaults:\n  - {kind: delete-fdb, node: a, peer: z}\n')).toMatch(/faults\[0\]\.peer: unknown peer 'z'/);
  });
});

describe('extends', () => {
  it('maps merge and named lists merge by name; errors point into the file that has the value', () => {
    const base = tempTopology('name: base\noverlay: {vni: 7}\nnodes:\n  - {name: n1, pods: 2}\n  - {name: n2}\n', 'base.yaml');
    const child = base.replace(/base\.yaml$/, 'child.yaml');
    require('node:fs').writeFileSync(child, `extends: ./base.yaml\nname: child\nnodes:\n  - name: n2\n    overlay: {port: 8472}\n  - name: n3\n`);
    const l = loadTopology(child);
    const t = normalize(l.topology, { runId: 'u1' });
    expect(t.nodes.map((n) => [n.name, n.vtep.vni, n.vtep.port, n.pods.length])).toEqual([
      ['n1', 7, 4789, 2],
      ['n2', 7, 8472, 1],
      ['n3', 7, 4789, 1],
    ]);
    require('node:fs').writeFileSync(child, `extends: ./base.yaml\nname: child\nnodes:\n  - name: n2\n    pods: many\n`);
    expect(() => loadTopology(child)).toThrow(/child\.yaml:5:11: nodes\[1\]\.pods: expected a pod count or a list of pod names/);
  });
  it('a cycle is an error', () => {
    const a = tempTopology('extends: ./b.yaml\nname: a\nnodes: [{name: x}]\n', 'a.yaml');
    require('node:fs').writeFileSync(a.replace(/a\.yaml$/, 'b.yaml'), 'extends: ./a.yaml\nname: b\nnodes: [{name: x}]\n');
    expect(() => loadTopology(a)).toThrow(/cycle in extends: .*a\.yaml → .*b\.yaml → .*a\.yaml/);
  });
});

describe('JSON Schema', () => {
  it('is generated from the same schema and is the one shipped', () => {
    const shipped = JSON.parse(readFileSync(TOPO('vxlab.schema.json'), 'utf8'));
    const { $id: _id, ...rest } = shipped;
    expect(rest).toEqual(jsonSchema());
    expect(shipped.properties.nodes.items.properties.vtepMac.pattern).toBeTruthy();
  });
});

describe('README', () => {
  it('topology reference is the one generated from the schema', async () => {
    const { renderReference } = await import('../../harness/topology/reference.ts');
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.split('<!-- reference:start -->\n')[1]!.split('<!-- reference:end -->')[0];
    expect(section).toBe(renderReference());
  });
});
