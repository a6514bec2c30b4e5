// The mixed kernel/userspace topology over an IPv6 underlay: all four suites pass with node2's userspace VTEP on UDP6
// sockets (TAP MTU 1500 − 70) carrying IPv6 pod traffic between kernel vxlan devices.
import { describe, expect } from 'vitest';
import { needsRoot } from '../helpers/root.ts';
import { test, byId, failed } from '../helpers/session.ts';
import { TOPO } from '../helpers/topo.ts';

const ALL = ['routes', 'encapsulation', 'mtu', 'connectivity'];

describe.skipIf(needsRoot)('IPv6 underlay, kernel and userspace VTEPs mixed (root)', () => {
  test('ipv6-mixed-userspace.yaml: all four suites pass', async ({ vxrun }) => {
    const r = await vxrun(TOPO('ipv6-mixed-userspace.yaml'));
    expect(failed(r)).toEqual([]);
    expect(r.exitCode).toBe(0);
    const suites = new Set(r.report.results.filter((x) => x.status === 'pass').map((x) => x.suite));
    expect([...suites].sort()).toEqual([...ALL].sort());
    const ids = byId(r);
    for (const id of ['routes/fdb', 'encapsulation/outer-addresses', 'encapsulation/inner-addresses', 'mtu/vtep-mtu', 'mtu/df-boundary', 'mtu/tcp-transfer', 'connectivity/full-mesh']) expect(ids[id], id).toBe('pass');
    const vm = r.report.results.find((x) => x.id === 'mtu/vtep-mtu')!;
    expect(vm.message).toMatch(/overhead 70 \(IPv6 underlay\)/);
    expect(JSON.stringify(vm.observed)).toMatch(/"node2":\{"underlay":1500,"flannel-v6\.1":1430\}/);
  });
});
