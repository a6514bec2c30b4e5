// Pure parts of the in-process ICMP prober (harness/probe/icmp.ts): the ICMP checksum and address bytes.
import { describe, expect, it } from 'vitest';
import { checksum, rawAddr, threadsForFreeCores } from '../../harness/probe/icmp.ts';

describe('icmp prober helpers', () => {
  it('threadsForFreeCores: one sending thread per core at least a tenth free, 1 to 4', () => {
    // session 9, 1,000 nodes, quiet: 1.497 cores free read as 1 by rounding (57 s); two threads took 33 s
    expect(threadsForFreeCores(1.497)).toBe(2);
    expect(threadsForFreeCores(2)).toBe(2);
    expect(threadsForFreeCores(1.11)).toBe(2);
    // a busy machine: the other core taken (load 19: two threads were slower)
    expect(threadsForFreeCores(1.05)).toBe(1);
    expect(threadsForFreeCores(1)).toBe(1);
    expect(threadsForFreeCores(0.2)).toBe(1);
    expect(threadsForFreeCores(0)).toBe(1);
    expect(threadsForFreeCores(16)).toBe(4);
  });

  it('checksum: the one’s-complement sum of RFC 1071, zero when verified over a packet carrying it', () => {
    // echo request, id 0x1234, seq 1, payload "abcd"
    const p = Buffer.from([8, 0, 0, 0, 0x12, 0x34, 0, 1, 0x61, 0x62, 0x63, 0x64]);
    const c = checksum(p);
    // by hand: 0x0800 + 0x1234 + 0x0001 + 0x6162 + 0x6364 = 0xDEFB, complemented 0x2104
    expect(c).toBe(0x2104);
    p.writeUInt16BE(c, 2);
    expect(checksum(p)).toBe(0);
    // odd length: the last byte is padded with a zero byte
    expect(checksum(Buffer.from([0xff]))).toBe(0x00ff);
  });

  it('rawAddr: IPv4 and IPv6 (compressed, leading, trailing) as bytes', () => {
    expect([...rawAddr('10.64.1.2', false)]).toEqual([10, 64, 1, 2]);
    expect(rawAddr('fd00:10:244:1::2', true).toString('hex')).toBe('fd000010024400010000000000000002');
    expect(rawAddr('::1', true).toString('hex')).toBe('00000000000000000000000000000001');
    expect(rawAddr('fe80::', true).toString('hex')).toBe('fe800000000000000000000000000000');
    expect(rawAddr('1:2:3:4:5:6:7:8', true).toString('hex')).toBe('00010002000300040005000600070008');
  });
});
