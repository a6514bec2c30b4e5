import { describe, expect, it } from 'vitest';
import { diffResultAgainstPod } from '../../harness/cni/checks.ts';
import type { CniResult } from '../../harness/cni/runtime.ts';

const ns = '/var/run/netns/vxt-cni-pod-1';
const result: CniResult = {
  cniVersion: '1.0.0',
  interfaces: [
    { name: 'cni0', mac: '82:14:a2:98:68:01' },
    { name: 'eth0', mac: '36:45:ec:9a:34:5c', sandbox: ns },
  ],
  ips: [
    { interface: 1, address: '10.99.1.2/24', gateway: '10.99.1.1' },
    { interface: 1, address: 'fd00:99::2/64' },
  ],
  routes: [{ dst: '0.0.0.0/0' }, { dst: '10.0.0.0/8', gw: '10.99.1.1' }],
};

const pod = () => ({
  links: [
    { ifindex: 1, ifname: 'lo', address: '00:00:00:00:00:00', addr_info: [] },
    {
      ifindex: 2,
      ifname: 'eth0',
      address: '36:45:ec:9a:34:5c',
      mtu: 1500,
      addr_info: [
        { family: 'inet' as const, local: '10.99.1.2', prefixlen: 24 },
        { family: 'inet6' as const, local: 'fd00:99:0::2', prefixlen: 64 },
      ],
    },
  ],
  routes4: [
    { dst: 'default', gateway: '10.99.1.1', dev: 'eth0' },
    { dst: '10.0.0.0/8', gateway: '10.99.1.1', dev: 'eth0' },
    { dst: '10.99.1.0/24', dev: 'eth0' },
    { type: 'local', dst: '10.99.1.2', dev: 'eth0', table: 'local' },
  ],
  routes6: [],
});

describe('diffResultAgainstPod', () => {
  it('matching state has no diffs', () => {
    expect(diffResultAgainstPod(result, ns, 'eth0', pod())).toEqual([]);
  });
  it('missing address, wrong prefix, wrong mac', () => {
    const p = pod();
    p.links[1]!.address = '36:45:ec:9a:34:5d';
    p.links[1]!.addr_info = [{ family: 'inet', local: '10.99.1.2', prefixlen: 16 }];
    expect(diffResultAgainstPod(result, ns, 'eth0', p)).toEqual([
      'interfaces[1] "eth0": result mac 36:45:ec:9a:34:5c but the pod shows 36:45:ec:9a:34:5d',
      'ips[0] 10.99.1.2/24: the pod has 10.99.1.2/16 on "eth0" (prefix differs)',
      'ips[1] fd00:99::2/64 is not configured on "eth0" in the pod (it has: no IPv6 address)',
    ]);
  });
  it('missing interface and routes', () => {
    const p = pod();
    p.links = [p.links[0]!];
    p.routes4 = [{ dst: '10.0.0.0/8', gateway: '10.99.1.254', dev: 'eth0' }];
    expect(diffResultAgainstPod(result, ns, 'eth0', p)).toEqual([
      `interfaces[1] "eth0" (sandbox ${ns}) does not exist in the pod netns (pod has: lo)`,
      'ips[0] 10.99.1.2/24: interface "eth0" does not exist in the pod',
      'ips[1] fd00:99::2/64: interface "eth0" does not exist in the pod',
      'routes[0] 0.0.0.0/0 is not in the pod\'s routing table',
      'routes[1] 10.0.0.0/8 via 10.99.1.1: the pod routes it via 10.99.1.254',
    ]);
  });
});
