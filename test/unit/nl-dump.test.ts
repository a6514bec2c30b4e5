// The in-process state reader's parsers (#16) on byte buffers captured from the kernel (6.18, read with the reader's
// own requests), against what `ip -d -j` / `bridge -j` printed for the same entries; and its requests against what
// ip(8) sends (strace of iproute2 6.1). test/integration/nl-dump.test.ts compares whole namespaces live.
import { describe, expect, test } from 'vitest';
import { fdbDumpRequest, formatIp, messages, neighDumpRequest, parseFdb, parseNeigh, parseRoute, routeGetRequest, type Names, type RawLink } from '../../harness/runtime/netns/nl-dump.ts';

const link = (index: number, ifname: string): RawLink => ({ index, type: 1, flags: 0x11043, ifname });
const names: Names = new Map([link(1, 'lo'), link(2, 'eth0'), link(3, 'vxlan.calico'), link(4, 'cali-nodepod1')].map((l) => [l.index, l]));
const one = (hex: string) => {
  const b = Buffer.from(hex, 'hex');
  const [m] = [...messages(b, b.length)];
  return { b, m: m! };
};

describe('route messages as ip -d -j prints them', () => {
  test('a felix VXLAN route: onlink, proto 80, mtu metric', () => {
    const { b, m } = one('48000000180002000100000030540000021a0000fe5000010400000008000f00fe000000080001000a4100800c00080008000200aa050000080005000a4100800800040003000000');
    expect(parseRoute(b, m.off, m.end, names)).toEqual({ type: 'unicast', dst: '10.65.0.128/26', gateway: '10.65.0.128', dev: 'vxlan.calico', table: 'main', protocol: '80', scope: 'global', flags: ['onlink'], metrics: [{ mtu: 1450 }] });
  });
  test("felix's blackhole for its own block", () => {
    const { b, m } = one('2c000000180002000100000030540000021a0000fe5000060000000008000f00fe000000080001000a410040');
    expect(parseRoute(b, m.off, m.end, names)).toEqual({ type: 'blackhole', dst: '10.65.0.64/26', table: 'main', protocol: '80', scope: 'global', flags: [] });
  });
  test('a host route (/32 printed without its length), scope link, proto boot', () => {
    const { b, m } = one('3400000018000200010000003054000002200000fe03fd010000000008000f00fe000000080001000a4100410800040004000000');
    expect(parseRoute(b, m.off, m.end, names)).toEqual({ type: 'unicast', dst: '10.65.0.65', dev: 'cali-nodepod1', table: 'main', protocol: 'boot', scope: 'link', flags: [] });
  });
  test('the answer to route get (a clone: no protocol or scope; table, from, metrics)', () => {
    const { b, m } = one('7c00000018000000010000007e58000002202000fe0000010002000008000f00fe000000080001000a410082080002000a4100400800040003000000080005000a4100800c00080008000200aa050000080019000000000024000c00020000006b090100000000000000000000000000000000000000000000000000');
    expect(parseRoute(b, m.off, m.end, names, true)).toEqual({ type: 'unicast', dst: '10.65.0.130', from: '10.65.0.64', gateway: '10.65.0.128', dev: 'vxlan.calico', table: 'main', flags: [], metrics: [{ mtu: 1450 }] });
    // a dump leaves clones out, as ip route show does
    expect(parseRoute(b, m.off, m.end, names)).toBeUndefined();
  });
});

describe('neighbours and FDB entries', () => {
  const vx: Names = new Map([[3, { ...link(3, 'flannel.1') }], [2, link(2, 'eth0')]]);
  test('permanent IPv4 and IPv6 neighbours on the VTEP (ip -j neigh show dev flannel.1)', () => {
    const v4 = one('4c0000001c0022000100000085570000020000000300000080000001080001000af403000a00020002694d9b1192000008000400000000001400030080ae01007204010080ae010000000000');
    expect(parseNeigh(v4.b, v4.m.off, v4.m.end, vx, true)).toEqual({ dst: '10.244.3.0', lladdr: '02:69:4d:9b:11:92', state: ['PERMANENT'] });
    const v6 = one('580000001c00220001000000855700000a000000030000008000000114000100fd0000100244000300000000000000000a00020002694d9b11920000080004000000000014000300310301003304010080ae010000000000');
    expect(parseNeigh(v6.b, v6.m.off, v6.m.end, vx, true)).toEqual({ dst: 'fd00:10:244:3::', lladdr: '02:69:4d:9b:11:92', state: ['PERMANENT'] });
    // unfiltered, the device is named
    expect(parseNeigh(v4.b, v4.m.off, v4.m.end, vx, false)).toMatchObject({ dev: 'flannel.1' });
  });
  test('the all-zeros default FDB entry and a peer entry (bridge -j fdb show dev flannel.1)', () => {
    const z = one('440000001c00020001000000855600000700000003000000c00002010a000200000000000000000008000100c0a801031400030000000000220600002206000000000000');
    expect(parseFdb(z.b, z.m.off, z.m.end, vx, true)).toEqual({ mac: '00:00:00:00:00:00', dst: '192.168.1.3', flags: ['self'], state: 'permanent' });
    const p = one('440000001c00020001000000855600000700000003000000c00002010a00020002694d9b1192000008000100c0a801041400030000000000d4ff00003cac010000000000');
    expect(parseFdb(p.b, p.m.off, p.m.end, vx, false)).toEqual({ mac: '02:69:4d:9b:11:92', ifname: 'flannel.1', dst: '192.168.1.4', flags: ['self'], state: 'permanent' });
  });
  test("ip's default state filter: NOARP-only and NONE entries are left out", () => {
    const { b, m } = one('4c0000001c0022000100000085570000020000000300000080000001080001000af403000a00020002694d9b1192000008000400000000001400030080ae01007204010080ae010000000000');
    b.writeUInt16LE(0x40, m.off + 8); // NUD_NOARP
    expect(parseNeigh(b, m.off, m.end, vx, true)).toBeUndefined();
    b.writeUInt16LE(0x04, m.off + 8); // NUD_STALE
    expect(parseNeigh(b, m.off, m.end, vx, true)).toMatchObject({ state: ['STALE'] });
  });
});

describe('requests as ip and bridge send them', () => {
  test('route get DST from SRC iif DEV: RTM_F_LOOKUP_TABLE, full-length dst and src, RTA_DST, RTA_SRC, RTA_IIF (52 bytes)', () => {
    const r = routeGetRequest({ dst: '10.244.2.5', from: '10.244.1.2', iif: 'cni0' }, 4, 9);
    expect(r.length).toBe(52);
    expect(r.toString('hex')).toBe('34000000' + '1a00' + '0100' + '09000000' + '00000000' + '02202000' + '00000000' + '00100000' + '08000100' + '0af40205' + '08000200' + '0af40102' + '08000300' + '04000000');
  });
  test('neigh show dev: NDA_IFINDEX; fdb show dev: an ifinfomsg with the port as ifi_index', () => {
    expect(neighDumpRequest(3, 1).toString('hex')).toBe('24000000' + '1e00' + '0103' + '01000000' + '00000000' + '000000000000000000000000' + '08000800' + '03000000');
    expect(fdbDumpRequest(3, 1).toString('hex')).toBe('20000000' + '1e00' + '0103' + '01000000' + '00000000' + '07000000' + '03000000' + '0000000000000000');
  });
});

describe('addresses as inet_ntop writes them', () => {
  const v6 = (s: string) => {
    const b = Buffer.alloc(16);
    s.split(':').forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
    return formatIp(b, 0, 16);
  };
  test.each([
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['fd00:10:244:3:0:0:0:0', 'fd00:10:244:3::'],
    ['fe80:0:0:0:ecee:eeff:feee:eeee', 'fe80::ecee:eeff:feee:eeee'],
    ['1:0:1:0:1:0:1:0', '1:0:1:0:1:0:1:0'],
    ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'],
    ['1:0:0:2:0:0:0:4', '1:0:0:2::4'],
    ['0:0:0:0:0:ffff:102:304', '::ffff:1.2.3.4'],
  ])('%s → %s', (groups, want) => expect(v6(groups)).toBe(want));
});
