// #17 (steps) and #16: iproute2 lines as rtnetlink requests (harness/runtime/netns/nl.ts) — neighbours, FDB entries
// and routes, add/replace/del, IPv4 and IPv6. The expected bytes are what ip(8)/bridge(8) of iproute2 6.1 sent for
// the same line, captured with `strace -e write=3` in a scratch namespace (vx0: ifindex 2, lo: 1), sequence number
// zeroed. The kernel-side equality is test/integration/inproc.test.ts.
import { describe, expect, it } from 'vitest';
import { entryDev, entryLine, errnoName, nlMessage, parseBridgeLine, parseIpLine, requestName, routeMessage } from '../../harness/runtime/netns/nl.ts';

const CAPTURED: [tool: 'ip' | 'bridge', line: string, hex: string][] = [
  ['ip', 'neigh add 10.1.2.3 lladdr 02:00:00:00:00:01 dev vx0 nud permanent', '300000001c0005060000000000000000020000000200000080000000080001000a0102030a0002000200000000010000'],
  ['ip', 'neigh replace 10.1.2.3 lladdr 02:00:00:00:00:02 dev vx0 nud permanent', '300000001c0005050000000000000000020000000200000080000000080001000a0102030a0002000200000000020000'],
  ['ip', 'neigh del 10.1.2.3 dev vx0', '240000001d0005000000000000000000020000000200000080000000080001000a010203'],
  ['ip', 'neigh add fd00::3 lladdr 02:00:00:00:00:03 dev vx0 nud permanent', '3c0000001c00050600000000000000000a000000020000008000000014000100fd0000000000000000000000000000030a0002000200000000030000'],
  ['ip', 'neigh replace fd00::3 lladdr 02:00:00:00:00:04 dev vx0 nud permanent', '3c0000001c00050500000000000000000a000000020000008000000014000100fd0000000000000000000000000000030a0002000200000000040000'],
  ['ip', 'neigh del fd00::3 dev vx0', '300000001d00050000000000000000000a000000020000008000000014000100fd000000000000000000000000000003'],
  ['bridge', 'fdb add 02:00:00:00:00:01 dev vx0 dst 10.0.0.2 self permanent', '300000001c00050600000000000000000700000002000000c00002000a0002000200000000010000080001000a000002'],
  ['bridge', 'fdb replace 02:00:00:00:00:01 dev vx0 dst 10.0.0.3 self permanent', '300000001c00050500000000000000000700000002000000c00002000a0002000200000000010000080001000a000003'],
  ['bridge', 'fdb del 02:00:00:00:00:01 dev vx0 dst 10.0.0.3 self', '300000001d00050000000000000000000700000002000000c00002000a0002000200000000010000080001000a000003'],
  ['bridge', 'fdb add 02:00:00:00:00:06 dev vx0 dst fd00::2 self permanent', '3c0000001c00050600000000000000000700000002000000c00002000a000200020000000006000014000100fd000000000000000000000000000002'],
  ['ip', 'route add 10.244.2.0/24 via 10.244.2.0 dev vx0 onlink', '3400000018000506000000000000000002180000fe03000104000000080001000af40200080005000af402000800040002000000'],
  ['ip', 'route replace 10.244.2.0/24 via 10.244.2.0 dev vx0 onlink', '3400000018000505000000000000000002180000fe03000104000000080001000af40200080005000af402000800040002000000'],
  ['ip', 'route del 10.244.2.0/24 dev vx0', '2c00000019000500000000000000000002180000fe00ff0000000000080001000af402000800040002000000'],
  ['ip', 'route add 10.65.1.0/26 via 10.65.1.0 dev vx0 onlink proto 80 mtu 1450', '40000000180005060000000000000000021a0000fe50000104000000080001000a410100080005000a41010008000400020000000c00080008000200aa050000'],
  ['ip', 'route replace 10.65.1.0/26 via 10.65.1.0 dev vx0 onlink proto 80 mtu 1450', '40000000180005050000000000000000021a0000fe50000104000000080001000a410100080005000a41010008000400020000000c00080008000200aa050000'],
  ['ip', 'route del 10.65.1.0/26 dev vx0', '2c000000190005000000000000000000021a0000fe00ff0000000000080001000a4101000800040002000000'],
  ['ip', 'route add blackhole 10.65.2.0/26 proto 80', '24000000180005060000000000000000021a0000fe50000600000000080001000a410200'],
  ['ip', 'route add 10.65.1.1/32 dev vx0 scope link', '2c00000018000506000000000000000002200000fe03fd0100000000080001000a4101010800040002000000'],
  ['ip', 'route add 169.254.1.1/32 dev lo', '2c00000018000506000000000000000002200000fe03fd010000000008000100a9fe01010800040001000000'],
  ['ip', 'route replace 10.244.3.0/24 via 10.0.0.3 dev vx0', '3400000018000505000000000000000002180000fe03000100000000080001000af40300080005000a0000030800040002000000'],
  ['ip', 'route replace 10.244.4.0/24 via 10.0.0.4 dev vx0 proto 80', '3400000018000505000000000000000002180000fe50000100000000080001000af40400080005000a0000040800040002000000'],
  ['ip', 'route add fd00:10:244:1::/64 via fd00:10:244:1:: dev vx0 onlink', '4c0000001800050600000000000000000a400000fe0300010400000014000100fd00001002440001000000000000000014000500fd0000100244000100000000000000000800040002000000'],
  ['ip', 'route replace fd00:10:244:1::/64 via fd00:10:244:1:: dev vx0 onlink proto 80 mtu 1430', '580000001800050500000000000000000a400000fe5000010400000014000100fd00001002440001000000000000000014000500fd00001002440001000000000000000008000400020000000c0008000800020096050000'],
  ['ip', 'route del fd00:10:244:1::/64 dev vx0', '380000001900050000000000000000000a400000fe0000000000000014000100fd0000100244000100000000000000000800040002000000'],
  ['ip', 'route add blackhole fd00:10:65::/122 proto 80', '300000001800050600000000000000000a7a0000fe5000060000000014000100fd000010006500000000000000000000'],
  ['ip', 'route replace default via 10.0.0.254 dev vx0', '2c00000018000505000000000000000002000000fe03000100000000080005000a0000fe0800040002000000'],
  ['ip', 'route del blackhole 10.65.2.0/26 proto 80', '24000000190005000000000000000000021a0000fe50ff0600000000080001000a410200'],
  ['ip', 'route del blackhole fd00:10:65::/122', '300000001900050000000000000000000a7a0000fe0000060000000014000100fd000010006500000000000000000000'],
  ['ip', 'route del default via 10.0.0.254 dev vx0', '2c00000019000500000000000000000002000000fe00ff0000000000080005000a0000fe0800040002000000'],
  ['ip', 'route add 10.9.9.0/24 via 10.0.0.9 dev vx0 scope global', '3400000018000506000000000000000002180000fe03000100000000080001000a090900080005000a0000090800040002000000'],
  ['ip', 'route replace fd00:99::/64 dev vx0 mtu 1280', '440000001800050500000000000000000a400000fe0300010000000014000100fd00009900000000000000000000000008000400020000000c0008000800020000050000'],
  ['ip', 'route add 10.9.9.9 dev vx0', '2c00000018000506000000000000000002200000fe03fd0100000000080001000a0909090800040002000000'],
];

const IFINDEX: Record<string, number> = { vx0: 2, lo: 1 };

describe('iproute2 lines as rtnetlink requests, byte for byte what ip(8)/bridge(8) send', () => {
  for (const [tool, line, hex] of CAPTURED) {
    it(`${tool} ${line}`, () => {
      const e = tool === 'ip' ? parseIpLine(line) : parseBridgeLine(line);
      expect(e, 'parsed').toBeDefined();
      const dev = entryDev(e!);
      expect(nlMessage(e!, dev ? IFINDEX[dev] : undefined, 0).toString('hex')).toBe(hex);
      // the entry prints as the line it came from (error messages name it so)
      expect(entryLine(e!)).toBe(line);
    });
  }

  it('sequence numbers land in the header', () => {
    const m = nlMessage(parseIpLine('route del 10.244.2.0/24 dev vx0')!, 2, 0x01020304);
    expect(m.readUInt32LE(8)).toBe(0x01020304);
  });

  it('request names', () => {
    expect(['route add 10.0.0.0/24 dev a', 'route replace 10.0.0.0/24 dev a', 'route del 10.0.0.0/24 dev a', 'neigh del 10.0.0.1 dev a'].map((l) => requestName(parseIpLine(l)!))).toEqual(['RTM_NEWROUTE', 'RTM_NEWROUTE', 'RTM_DELROUTE', 'RTM_DELNEIGH']);
    expect(requestName(parseBridgeLine('fdb replace 02:00:00:00:00:01 dev a dst 10.0.0.2 self permanent')!)).toBe('RTM_NEWNEIGH');
  });

  it('a route without dev carries no RTA_OIF whatever ifindex is passed', () => {
    const e = parseIpLine('route add blackhole 10.65.2.0/26 proto 80')!;
    expect(routeMessage(e as never, 9, 0).equals(routeMessage(e as never, undefined, 0))).toBe(true);
  });
});

describe('only the forms modelled are parsed; anything else is left to iproute2', () => {
  it('ip lines', () => {
    for (const l of [
      'link add vx0 type vxlan id 1',
      'addr add 10.0.0.1/24 dev eth0',
      'neigh add 10.1.2.3 lladdr 02:00:00:00:00:01 dev vx0', // no `nud permanent`
      'neigh add 10.1.2.3 lladdr 02:00:00:00:00:01 dev vx0 nud reachable',
      'neigh del 10.1.2.3 lladdr 02:00:00:00:00:01 dev vx0',
      'neigh add ::ffff:1.2.3.4 lladdr 02:00:00:00:00:01 dev vx0 nud permanent',
      'neigh add 10.1.2.300 lladdr 02:00:00:00:00:01 dev vx0 nud permanent',
      'neigh add 10.1.2.3 lladdr 02:00:00:00:00:01 dev a-name-longer-than-15 nud permanent',
      'route add 10.0.0.0/24 via 10.0.0.1 dev vx0 metric 5',
      'route add 10.0.0.0/24 via 10.0.0.1 dev vx0 table 100',
      'route add 10.0.0.0/24 via 10.0.0.1 dev vx0 mtu lock 1400',
      'route add 10.0.0.0/33 dev vx0',
      'route add 10.0.0.0/24 via fd00::1 dev vx0',
      'route add 10.0.0.0/24 dev vx0 dev vx1',
      'route add 10.0.0.0/24 dev',
      'route add blackhole 10.0.0.0/24 dev vx0',
      'route add unreachable 10.0.0.0/24',
      'route add 10.0.0.0/24 via 10.0.0.1 dev vx0 proto boot',
      'route add 10.0.0.0/24 nexthop via 10.0.0.1 dev vx0',
      'route flush dev vx0',
    ])
      expect(parseIpLine(l), l).toBeUndefined();
  });
  it('bridge lines', () => {
    for (const l of [
      'fdb add 02:aa:bb:cc:dd:ee dev flannel.1 dst 192.168.0.3 self',
      'fdb add 00:00:00:00:00:00 dev flannel.1 dst 192.168.0.3 self permanent vni 7',
      'fdb add 02:aa:bb:cc:dd:ee dev flannel.1 dst 192.168.0.300 self permanent',
      'fdb del 02:aa:bb:cc:dd:ee dev flannel.1 dst 192.168.0.3 self permanent',
      'fdb append 00:00:00:00:00:00 dev flannel.1 dst 192.168.0.3 self permanent',
      'fdb add 02:aa:bb:cc:dd:ee dev flannel.1 master',
    ])
      expect(parseBridgeLine(l), l).toBeUndefined();
  });
  it('entries as data', () => {
    expect(parseIpLine('route replace 10.65.1.0/26 via 10.65.1.0 dev vxlan.calico onlink proto 80 mtu 1450')).toEqual({ kind: 'route', op: 'replace', dst: '10.65.1.0/26', via: '10.65.1.0', dev: 'vxlan.calico', onlink: true, proto: 80, mtu: 1450 });
    expect(parseIpLine('neigh replace fd00::3 lladdr 02:00:00:00:00:04 dev flannel-v6.1 nud permanent')).toEqual({ kind: 'neigh', op: 'replace', ip: 'fd00::3', mac: '02:00:00:00:00:04', dev: 'flannel-v6.1' });
    expect(parseBridgeLine('fdb del 02:00:00:00:00:01 dev flannel.1 dst 10.0.0.3 self')).toEqual({ kind: 'fdb', op: 'del', mac: '02:00:00:00:00:01', dev: 'flannel.1', dst: '10.0.0.3' });
  });
});

describe('errno names', () => {
  it('the ones netlink answers with, and a number for others', () => {
    expect([17, 2, 3, 19, 22, 105, 101].map(errnoName)).toEqual(['EEXIST', 'ENOENT', 'ESRCH', 'ENODEV', 'EINVAL', 'ENOBUFS', 'ENETUNREACH']);
    expect(errnoName(200)).toBe('errno 200');
  });
});
