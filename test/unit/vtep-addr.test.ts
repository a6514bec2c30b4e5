import { describe, expect, it } from 'vitest';
import { AddrTable, canonicalIp, familyOf, formatIpv6, mtuOverhead, outerOverhead, parseIpv6 } from '../../harness/vtep/addr.ts';
import { Fdb } from '../../harness/vtep/fdb.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('IPv6 text', () => {
  it('parses every RFC 4291 form and formats RFC 5952', () => {
    expect(hex(parseIpv6('::'))).toBe('0'.repeat(32));
    expect(hex(parseIpv6('::1'))).toBe(`${'0'.repeat(31)}1`);
    expect(hex(parseIpv6('fd00:0:1::10'))).toBe('fd000000000100000000000000000010');
    expect(hex(parseIpv6('2001:DB8:0:0:1:0:0:2'))).toBe('20010db8000000000001000000000002');
    expect(hex(parseIpv6('::ffff:192.0.2.1'))).toBe('00000000000000000000ffffc0000201');
    expect(hex(parseIpv6('64:ff9b::10.0.0.1'))).toBe('0064ff9b00000000000000000a000001');
    expect(formatIpv6(parseIpv6('2001:DB8:0:0:1:0:0:2'))).toBe('2001:db8::1:0:0:2');
    expect(formatIpv6(parseIpv6('fd00:0:0:1:0:0:0:10'))).toBe('fd00:0:0:1::10');
    for (const bad of ['', ':', ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', 'g::', '::1.2.3', '::300.0.0.1', '1:2:3:4:5:6:7::8']) expect(() => parseIpv6(bad), bad).toThrow(/bad IPv/);
  });
  it('family, canonical text and the per-family overheads', () => {
    expect(familyOf('10.0.0.1')).toBe(4);
    expect(familyOf('fd00::1')).toBe(6);
    expect(canonicalIp('FD00:0::0001')).toBe('fd00::1');
    expect(canonicalIp('10.0.0.1')).toBe('10.0.0.1');
    expect([outerOverhead(4), mtuOverhead(4), outerOverhead(6), mtuOverhead(6)]).toEqual([36, 50, 56, 70]);
  });
});

describe('AddrTable', () => {
  it('IPv4: numbers are the addresses; sockaddr_in', () => {
    const t = new AddrTable(4);
    expect(t.intern('192.0.2.1')).toBe(0xc0000201);
    expect(t.toString(0xc0000201)).toBe('192.0.2.1');
    const sa = t.sockaddr(0xc0000201, 4789);
    expect(hex(sa)).toBe('0200' + '12b5' + 'c0000201' + '0000000000000000');
    expect(t.fromSockaddr(sa, 0)).toBe(0xc0000201);
    expect(() => t.intern('fd00::1')).toThrow(/not an IPv4 address/);
  });
  it('IPv6: interned ids, equal for every spelling; sockaddr_in6 round trip, cached run', () => {
    const t = new AddrTable(6);
    const a = t.intern('fd00:0:1::10');
    expect(t.intern('FD00:0000:0001:0:0:0:0:10')).toBe(a);
    const b = t.intern('fd00:0:1::11');
    expect(b).not.toBe(a);
    expect(t.toString(a)).toBe('fd00:0:1::10');
    const sa = t.sockaddr(b, 8472);
    expect(sa.length).toBe(28);
    expect(hex(sa)).toBe('0a00' + '2118' + '00000000' + 'fd000000000100000000000000000011' + '00000000');
    const rx = new AddrTable(6); // another thread's table: its own ids, same addresses
    rx.intern('fd00:0:1::99');
    const id = rx.fromSockaddr(sa, 0);
    expect(rx.toString(id)).toBe('fd00:0:1::11');
    expect(rx.fromSockaddr(sa, 0)).toBe(id);
    expect(rx.toString(rx.fromSockaddr(t.sockaddr(a, 1), 0))).toBe('fd00:0:1::10');
    expect(() => t.intern('10.0.0.1')).toThrow(/not an IPv6 address/);
  });
  it('an IPv6 FDB dumps and replicates by address', () => {
    const addrs = new AddrTable(6);
    const f = new Fdb({ addrs, now: () => 0 });
    f.addStatic('02:00:00:00:00:02', 'fd00::2');
    f.learn(0x020000000003, addrs.intern('fd00::3'), 0);
    expect(f.dump(0).map((e) => `${e.mac} ${e.dst} ${e.type}`)).toEqual(['02:00:00:00:00:02 fd00::2 static', '02:00:00:00:00:03 fd00::3 learned']);
    expect(f.replicationTargets().map((n) => addrs.toString(n))).toEqual(['fd00::2', 'fd00::3']);
  });
});
