// The four suites on the shipped topologies, for real: everything passes on a healthy network, and each suite is
// shown to catch a broken one (a suite that cannot fail is a defect).
import { describe, expect } from 'vitest';
import { needsRoot } from '../helpers/root.ts';
import { test, byId, failed } from '../helpers/session.ts';
import { TOPO, tempTopology } from '../helpers/topo.ts';
import { Parser } from 'tap-parser';
import { toTap } from '../../harness/report/tap.ts';

const ALL = ['routes', 'encapsulation', 'mtu', 'connectivity'];

describe.skipIf(needsRoot)('suites on shipped topologies (root)', () => {
  for (const f of ['flannel-3node.yaml', 'routed-2seg.yaml', 'calico-3node.yaml', 'userspace-3node.yaml', 'mixed-kernel-userspace.yaml']) {
    test(`${f}: all four suites pass`, async ({ vxrun }) => {
      const r = await vxrun(TOPO(f));
      expect(failed(r)).toEqual([]);
      expect(r.exitCode).toBe(0);
      const suites = new Set(r.report.results.filter((x) => x.status === 'pass').map((x) => x.suite));
      expect([...suites].sort()).toEqual([...ALL].sort());
      const ids = byId(r);
      for (const id of ['routes/fdb', 'encapsulation/udp-dst-port', 'encapsulation/vni', 'mtu/df-boundary', 'mtu/tcp-transfer', 'connectivity/full-mesh']) expect(ids[id], id).toBe('pass');
    });
  }

  // flannel's own default port (the kernel's 8472) is first-class: the device, the wire and the peers all use it
  for (const f of ['flannel-3node-8472.yaml', 'calico-3node-8472.yaml']) {
    test(`${f}: routes, encapsulation and connectivity pass on port 8472`, async ({ vxrun }) => {
      const r = await vxrun(TOPO(f), { suites: ['routes', 'encapsulation', 'connectivity'] });
      expect(failed(r)).toEqual([]);
      expect(r.topology.nodes[0]!.vtep.port).toBe(8472);
      const dev = r.report.results.find((x) => x.id === 'routes/vxlan-device')!;
      expect(JSON.stringify(dev.observed)).toMatch(/"port":8472/);
      expect(byId(r)['encapsulation/udp-dst-port']).toBe('pass');
    });
  }

  // the checks that skip on the topologies above run — and pass — on these two healthy ones
  for (const [f, id, says] of [
    ['narrow-middle-link-ok.yaml', 'mtu/path-mtu', /node1 -> node3: overlay MTU 3950 fits \(4000 − 50\), probes crossed whole/],
    ['two-vni.yaml', 'connectivity/isolation', /^32 directed pairs isolated as expected/],
  ] as const) {
    test(`${f}: all four suites pass, and ${id} runs`, async ({ vxrun }) => {
      const r = await vxrun(TOPO(f));
      expect(failed(r)).toEqual([]);
      expect(r.exitCode).toBe(0);
      const x = r.report.results.find((y) => y.id === id)!;
      expect(x.status).toBe('pass');
      expect(x.message).toMatch(says);
      expect(r.report.results.filter((y) => y.status === 'skip').map((y) => y.id)).toEqual(['encapsulation/routing-mode', id === 'mtu/path-mtu' ? 'connectivity/isolation' : 'mtu/path-mtu']); // routing-mode: no routing mode here
    });
  }

  test('TAP output parses with tap-parser and the counts add up', async ({ vxrun }) => {
    const r = await vxrun(TOPO('flannel-3node.yaml'), { suites: ['routes', 'connectivity'] });
    const tap = toTap(r.report);
    const p = new Parser();
    const done = new Promise<any>((res) => p.on('complete', res));
    p.end(tap);
    const c = await done;
    expect(c.ok, `not ok lines:\n${tap.split('\n').filter((l) => l.startsWith('not ok')).join('\n')}\n${r.report.results.filter((x) => x.status === 'fail').map((x) => `${x.id}: ${x.message}`).join('\n')}`).toBe(true);
    expect(c.count).toBe(r.report.results.length);
    expect(c.pass).toBe(r.report.results.filter((x) => x.status !== 'fail').length);
    expect(c.skip).toBe(r.report.results.filter((x) => x.status === 'skip').length);
    expect(tap).toMatch(/^ok \d+ - connectivity\/isolation # SKIP no pairs are expected to be isolated/m);
  });

  test('routes and connectivity catch a deleted FDB entry; encapsulation and mtu stay honest', async ({ vxrun }) => {
    const f = tempTopology(`extends: ${TOPO('flannel-3node.yaml')}\nname: neg-fdb\nfaults:\n  - { kind: delete-fdb, node: node1, peer: node3 }\n`);
    const r = await vxrun(f);
    const ids = byId(r);
    expect(ids['routes/fdb']).toBe('fail');
    expect(ids['connectivity/full-mesh']).toBe('fail');
    const fdb = r.report.results.find((x) => x.id === 'routes/fdb')!;
    expect(fdb.diffs).toEqual([expect.stringMatching(/^node1: missing FDB entry 02(:[0-9a-f]{2}){5} dst 192\.168\.1\.4 \(node3\): frames to it are dropped \(no default entry\)$/)]);
    const cm = r.report.results.find((x) => x.id === 'connectivity/full-mesh')!;
    expect(cm.details).toMatch(/✗/);
    expect(cm.diffs!.every((d) => /node1\/pod\d .* -> node3|node3\/pod\d .* -> node1/.test(d))).toBe(true);
    expect(r.exitCode).toBe(1);
    expect(r.artifactsDir).toBeTruthy();
  });

  test('mtu catches a pod MTU above the overlay MTU and names the cause', async ({ vxrun }) => {
    const f = tempTopology(`extends: ${TOPO('flannel-3node.yaml')}\nname: neg-mtu\nnodes:\n  - name: node2\n    overlay: { podMtu: 1500 }\n`);
    const r = await vxrun(f, { suites: ['mtu'] });
    const pm = r.report.results.find((x) => x.id === 'mtu/pod-mtu')!;
    expect(pm.status).toBe('fail');
    expect(pm.diffs).toContain('pod MTU 1500 > overlay MTU 1450 on node2 (node2/pod1): full-size packets cannot cross the overlay');
  });

  test('encapsulation catches a mismatched port on one node', async ({ vxrun }) => {
    const f = tempTopology(`extends: ${TOPO('flannel-3node.yaml')}\nname: neg-port\nnodes:\n  - name: node3\n    overlay: { port: 8472 }\n`);
    const r = await vxrun(f, { suites: ['encapsulation'] });
    const p = r.report.results.find((x) => x.id === 'encapsulation/udp-dst-port')!;
    expect(p.status).toBe('fail');
    expect(p.diffs!.join('\n')).toMatch(/node1 -> node3: expected UDP dst port 8472, observed 4789/);
    expect(p.diffs!.join('\n')).toMatch(/node3 -> node1: expected UDP dst port 4789, observed 8472/);
  });

  test('connectivity: negative expectations — different VNIs are isolated', async ({ vxrun }) => {
    const f = tempTopology(`extends: ${TOPO('flannel-3node.yaml')}\nname: neg-vni\nnodes:\n  - name: node3\n    overlay: { vni: 7 }\n`);
    const r = await vxrun(f, { suites: ['connectivity'] });
    expect(byId(r)).toEqual({ 'connectivity/full-mesh': 'pass', 'connectivity/isolation': 'pass' });
    expect(r.report.results[1]!.message).toMatch(/^16 directed pairs isolated as expected/);
  });
});
