// #16: the plan's `bridge fdb add … self permanent` lines as rtnetlink requests (harness/runtime/netns/nl.ts), and
// sysctl keys as /proc/sys paths. The kernel-side equality with `bridge -batch` is test/integration/inproc.test.ts.
import { describe, expect, it } from 'vitest';
import { fdbAddMessage, parseAcks, parseFdbAdd, sysctlPath } from '../../harness/runtime/netns/nl.ts';

describe('fdb add as RTM_NEWNEIGH', () => {
  it('parses exactly the form the plan writes, nothing else', () => {
    expect(parseFdbAdd('fdb add 02:aa:bb:cc:dd:ee dev flannel.1 dst 192.168.0.3 self permanent')).toEqual({ mac: '02:aa:bb:cc:dd:ee', dev: 'flannel.1', dst: '192.168.0.3' });
    expect(parseFdbAdd('fdb add 02:aa:bb:cc:dd:ee dev flannel-v6.1 dst fd00::3 self permanent')).toEqual({ mac: '02:aa:bb:cc:dd:ee', dev: 'flannel-v6.1', dst: 'fd00::3' });
    for (const l of [
      'fdb replace 02:aa:bb:cc:dd:ee dev flannel.1 dst 192.168.0.3 self permanent',
      'fdb add 02:aa:bb:cc:dd:ee dev flannel.1 dst 192.168.0.3 self',
      'fdb add 00:00:00:00:00:00 dev flannel.1 dst 192.168.0.3 self permanent vni 7',
      'fdb add 02:aa:bb:cc:dd:ee dev flannel.1 dst 192.168.0.300 self permanent',
      'fdb del 02:aa:bb:cc:dd:ee dev flannel.1 dst 192.168.0.3 self',
    ])
      expect(parseFdbAdd(l), l).toBeUndefined();
  });

  it('encodes the message bridge(8) sends: header, ndmsg (PF_BRIDGE, NOARP|PERMANENT, NTF_SELF), LLADDR, DST', () => {
    const m = fdbAddMessage({ mac: '02:aa:bb:cc:dd:ee', dev: 'flannel.1', dst: '192.168.0.3' }, 7, 42);
    // nlmsghdr: len 48, RTM_NEWNEIGH, REQUEST|ACK|EXCL|CREATE, seq 42, pid 0
    expect(m.length).toBe(48);
    expect([m.readUInt32LE(0), m.readUInt16LE(4), m.readUInt16LE(6), m.readUInt32LE(8), m.readUInt32LE(12)]).toEqual([48, 28, 0x605, 42, 0]);
    // ndmsg: family 7, ifindex 7, state 0xc0, flags 0x02, type 0
    expect([m[16], m.readInt32LE(20), m.readUInt16LE(24), m[26], m[27]]).toEqual([7, 7, 0xc0, 2, 0]);
    // NDA_LLADDR (2), 6 bytes, padded to 12
    expect([m.readUInt16LE(28), m.readUInt16LE(30)]).toEqual([10, 2]);
    expect(m.subarray(32, 38).toString('hex')).toBe('02aabbccddee');
    // NDA_DST (1), 4 bytes
    expect([m.readUInt16LE(40), m.readUInt16LE(42)]).toEqual([8, 1]);
    expect([...m.subarray(44, 48)]).toEqual([192, 168, 0, 3]);
  });

  it('IPv6 destinations: 16 bytes with :: expanded', () => {
    const m = fdbAddMessage({ mac: '02:00:00:00:00:01', dev: 'v', dst: 'fd00:0:1::3' }, 1, 1);
    expect(m.length).toBe(16 + 12 + 12 + 20);
    expect(m.readUInt16LE(40)).toBe(20);
    expect(m.subarray(44, 60).toString('hex')).toBe('fd000000000100000000000000000003');
  });

  it('reads acks: errno per sequence number (0 = done), several in one read', () => {
    const ack = (seq: number, err: number) => {
      const b = Buffer.alloc(36);
      b.writeUInt32LE(36, 0);
      b.writeUInt16LE(2, 4);
      b.writeUInt32LE(seq, 8);
      b.writeInt32LE(-err, 16);
      return b;
    };
    const buf = Buffer.concat([ack(1, 0), ack(2, 17), ack(3, 0)]);
    expect(parseAcks(buf, buf.length)).toEqual([{ seq: 1, errno: 0 }, { seq: 2, errno: 17 }, { seq: 3, errno: 0 }]);
    expect(parseAcks(buf, 50)).toEqual([{ seq: 1, errno: 0 }]); // a torn message is not read
  });
});

describe('sysctl keys as /proc/sys paths (as sysctl(8) maps them)', () => {
  it('dots separate; a slash in a part is a dot of the name', () => {
    expect(sysctlPath('net.ipv4.ip_forward')).toBe('/proc/sys/net/ipv4/ip_forward');
    expect(sysctlPath('net.ipv6.conf.flannel/1.accept_ra')).toBe('/proc/sys/net/ipv6/conf/flannel.1/accept_ra');
  });
  it('only net.* keys, no path tricks', () => {
    for (const k of ['kernel.panic', 'net..x', 'net.ipv4./.x', 'net.ipv4.conf.//.x', 'net.ipv4.conf.a b']) expect(() => sysctlPath(k), k).toThrow(/not a network sysctl key/);
  });
});
