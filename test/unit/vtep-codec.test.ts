import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  MIN_VXLAN_PAYLOAD,
  VX_NO_I_FLAG,
  VX_OK,
  VX_OK_RESERVED,
  VX_RUNT,
  VX_WRONG_VNI,
  classifyVxlan,
  decodeVxlan,
  encodeVxlan,
  intToIpv4,
  ipv4ToInt,
  macKey,
  macKeyFromString,
  macKeyToString,
  macToString,
  parseMac,
  parseOuterIpv4Udp,
  parseVxlanHeader,
  udpChecksumIpv4,
  writeOuterIpv4Udp,
  writeVxlanHeader,
} from '../../harness/vtep/codec.ts';

const fixture = Buffer.from(readFileSync(new URL('../fixtures/vtep/kernel-vxlan-icmp.hex', import.meta.url), 'utf8').replace(/\s+/g, ''), 'hex');

function innerFrame(len = 60): Buffer {
  const f = Buffer.alloc(len);
  parseMac('02:00:00:00:00:02').copy(f, 0);
  parseMac('02:00:00:00:00:01').copy(f, 6);
  f.writeUInt16BE(0x0800, 12);
  return f;
}

describe('VXLAN header golden bytes', () => {
  it('encodes VNI 1 exactly like RFC 7348 §5', () => {
    const b = Buffer.alloc(8, 0xee);
    writeVxlanHeader(b, 0, 1);
    expect(b.toString('hex')).toBe('0800000000000100');
  });
  it('encodes the maximum VNI and the cleared-I fault', () => {
    const b = Buffer.alloc(8);
    writeVxlanHeader(b, 0, 0xabcdef);
    expect(b.toString('hex')).toBe('08000000abcdef00');
    writeVxlanHeader(b, 0, 0xabcdef, { clearIFlag: true });
    expect(b.toString('hex')).toBe('00000000abcdef00');
  });
  it('rejects VNIs out of range', () => {
    expect(() => writeVxlanHeader(Buffer.alloc(8), 0, 0x1000000)).toThrow(RangeError);
    expect(() => writeVxlanHeader(Buffer.alloc(8), 0, -1)).toThrow(RangeError);
  });
  it('round-trips header and inner frame', () => {
    const inner = innerFrame();
    for (const vni of [0, 1, 4096, 0xffffff]) {
      const p = encodeVxlan(vni, inner);
      const d = decodeVxlan(p, vni);
      expect(d.ok).toBe(true);
      if (d.ok) {
        expect(d.header.vni).toBe(vni);
        expect(d.header.reservedBitsSet).toBe(false);
        expect(Buffer.from(d.inner).equals(inner)).toBe(true);
      }
      expect(classifyVxlan(p, 0, p.length, vni)).toBe(VX_OK);
    }
  });
});

describe('frame captured from the kernel vxlan device', () => {
  const outer = parseOuterIpv4Udp(fixture, 14);
  const payload = fixture.subarray(outer.payloadOff);
  it('has the outer headers the kernel wrote', () => {
    expect(fixture.readUInt16BE(12)).toBe(0x0800);
    expect(intToIpv4(outer.src)).toBe('192.0.2.1');
    expect(intToIpv4(outer.dst)).toBe('192.0.2.2');
    expect(outer.dstPort).toBe(4789);
    expect(outer.srcPort).toBe(41417);
    expect(outer.udpLen).toBe(fixture.length - 14 - 20);
    expect(outer.ttl).toBe(64);
    expect(outer.df).toBe(false);
  });
  it('decodes as VNI 1 with an inner ICMP echo between the two VTEP MACs', () => {
    const d = decodeVxlan(payload, 1);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.header).toEqual({ flags: 0x08, vni: 1, reserved1: 0, reserved2: 0, reservedBitsSet: false });
    expect(macToString(d.inner, 0)).toBe('02:76:78:00:00:02');
    expect(macToString(d.inner, 6)).toBe('02:76:78:00:00:01');
    const ip = Buffer.from(d.inner).subarray(14);
    expect(intToIpv4(ip.readUInt32BE(12))).toBe('10.244.1.0');
    expect(intToIpv4(ip.readUInt32BE(16))).toBe('10.244.2.1');
    expect(ip[9]).toBe(1);
    expect(ip[20]).toBe(8); // echo request
    expect(classifyVxlan(payload, 0, payload.length, 1)).toBe(VX_OK);
    expect(classifyVxlan(payload, 0, payload.length, 2)).toBe(VX_WRONG_VNI);
  });
  it('re-encodes to the same VXLAN header bytes', () => {
    const d = decodeVxlan(payload, 1);
    if (!d.ok) throw new Error('decode failed');
    expect(encodeVxlan(1, d.inner).equals(payload)).toBe(true);
  });
  it('our outer IPv4/UDP writer reproduces the kernel header byte for byte (same id/DF/ports)', () => {
    const out = Buffer.alloc(28 + payload.length);
    payload.copy(out, 28);
    writeOuterIpv4Udp(out, 0, { src: outer.src, dst: outer.dst, srcPort: outer.srcPort, dstPort: 4789, id: outer.id, df: false, ipChecksum: true }, payload.length);
    // IPv4 header incl. its checksum + UDP ports/length; the UDP checksum differs (next test)
    expect(out.subarray(0, 26).toString('hex')).toBe(fixture.subarray(14, 40).toString('hex'));
  });
  it('the captured UDP checksum is only the pseudo-header sum (CHECKSUM_PARTIAL across veth); ours verifies', () => {
    // The kernel left the checksum to "hardware"; veth never finishes it, so the wire carries the
    // folded pseudo-header sum. That is why the lab turns tx checksum offload off on kernel VTEPs
    // that talk to a userspace one (inner TCP checksums are left partial the same way).
    let pseudo = (outer.src >>> 16) + (outer.src & 0xffff) + (outer.dst >>> 16) + (outer.dst & 0xffff) + 17 + outer.udpLen;
    while (pseudo > 0xffff) pseudo = (pseudo & 0xffff) + (pseudo >>> 16);
    expect(outer.udpChecksum).toBe(pseudo);
    const seg = Buffer.from(fixture.subarray(34));
    seg.writeUInt16BE(0, 6);
    const sum = udpChecksumIpv4(outer.src, outer.dst, seg, 0, seg.length);
    expect(sum).not.toBe(0);
    seg.writeUInt16BE(sum, 6);
    // a correct checksum makes the ones'-complement sum over pseudo-header + segment 0xffff
    let t = (outer.src >>> 16) + (outer.src & 0xffff) + (outer.dst >>> 16) + (outer.dst & 0xffff) + 17 + seg.length;
    for (let i = 0; i < seg.length; i += 2) t += (seg[i]! << 8) | (seg[i + 1] ?? 0);
    while (t > 0xffff) t = (t & 0xffff) + (t >>> 16);
    expect(t).toBe(0xffff);
  });
});

describe('malformed VXLAN headers', () => {
  const good = encodeVxlan(7, innerFrame());
  it('runt: shorter than 8 + 14 bytes', () => {
    for (const n of [0, 1, 7, 8, MIN_VXLAN_PAYLOAD - 1]) {
      const p = good.subarray(0, n);
      expect(classifyVxlan(p, 0, n, 7)).toBe(VX_RUNT);
      const d = decodeVxlan(p, 7);
      expect(d.ok).toBe(false);
      if (!d.ok) {
        expect(d.reason).toBe('runt');
        expect(d.detail).toContain(`${n} bytes`);
      }
    }
    expect(classifyVxlan(good, 0, MIN_VXLAN_PAYLOAD, 7)).toBe(VX_OK);
  });
  it('noIFlag: flags byte without 0x08, whatever else is set', () => {
    for (const flags of [0x00, 0x80, 0x04, 0xf7]) {
      const p = Buffer.from(good);
      p[0] = flags;
      expect(classifyVxlan(p, 0, p.length, 7)).toBe(VX_NO_I_FLAG);
      const d = decodeVxlan(p, 7);
      expect(!d.ok && d.reason).toBe('noIFlag');
    }
  });
  it('wrongVni: exact 24-bit compare', () => {
    for (const vni of [6, 8, 7 + 0x10000, 0]) {
      expect(classifyVxlan(good, 0, good.length, vni)).toBe(VX_WRONG_VNI);
      const d = decodeVxlan(good, vni);
      expect(!d.ok && d.detail).toBe(`VNI 7, expected ${vni}`);
    }
    expect(decodeVxlan(good).ok).toBe(true); // no expectation = any VNI
  });
  it('reserved bits set: accepted (RFC 7348: ignore), but reported', () => {
    for (const [at, v] of [
      [0, 0x08 | 0x80],
      [0, 0x0c],
      [1, 1],
      [2, 0x40],
      [3, 0xff],
      [7, 1],
    ] as const) {
      const p = Buffer.from(good);
      p[at] = v;
      expect(classifyVxlan(p, 0, p.length, 7)).toBe(VX_OK_RESERVED);
      const d = decodeVxlan(p, 7);
      expect(d.ok).toBe(true);
      if (d.ok) expect(d.header.reservedBitsSet).toBe(true);
    }
  });
  it('checks are ordered: length, then I flag, then VNI', () => {
    const p = Buffer.from(good);
    p[0] = 0;
    expect(classifyVxlan(p, 0, p.length, 99)).toBe(VX_NO_I_FLAG);
    expect(classifyVxlan(p, 0, 10, 99)).toBe(VX_RUNT);
  });
  it('parseVxlanHeader needs 8 bytes', () => {
    expect(() => parseVxlanHeader(Buffer.alloc(7))).toThrow(/need 8 bytes/);
  });
});

describe('address helpers', () => {
  it('MAC keys are exact 48-bit numbers', () => {
    const m = 'ff:fe:00:01:80:7f';
    const k = macKeyFromString(m);
    expect(k).toBe(0xfffe0001807f);
    expect(macKeyToString(k)).toBe(m);
    expect(macKey(parseMac(m), 0)).toBe(k);
    expect(() => parseMac('02:00:00:00:00')).toThrow();
  });
  it('IPv4 ints', () => {
    expect(ipv4ToInt('192.0.2.255')).toBe(0xc00002ff);
    expect(intToIpv4(0xc00002ff)).toBe('192.0.2.255');
    expect(() => ipv4ToInt('1.2.3.256')).toThrow();
  });
});
