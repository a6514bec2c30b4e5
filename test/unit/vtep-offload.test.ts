// Software TSO (tx) and GRO (rx) of the userspace VTEP's offload path: pure buffer transforms.
import { describe, expect, it } from 'vitest';
import { Summer, VXLAN_HLEN, fold16, onesSum } from '../../harness/vtep/codec.ts';
import { Coalescer, VNET_HDR_LEN, tcpFamily } from '../../harness/vtep/gro.ts';
import { Segmenter } from '../../harness/vtep/tso.ts';

const SRC = [10, 244, 1, 1];
const DST = [10, 244, 2, 1];

/** IPv4/TCP frame with timestamps (12 option bytes); checksum: full (partial = pseudo-header sum only). */
function tcpFrame(payload: Buffer, o: { seq?: number; flags?: number; partial?: boolean; id?: number } = {}): Buffer {
  const thl = 32;
  const f = Buffer.alloc(14 + 20 + thl + payload.length);
  Buffer.from([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]).copy(f, 0);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45;
  f.writeUInt16BE(20 + thl + payload.length, 16);
  f.writeUInt16BE(o.id ?? 0x1234, 18);
  f[20] = 0x40;
  f[22] = 64;
  f[23] = 6;
  Buffer.from([...SRC, ...DST]).copy(f, 26);
  f.writeUInt16BE(~fold16(onesSum(f, 14, 20)) & 0xffff, 24);
  writeTcp(f, 34, thl, payload, onesSum(f, 26, 8), o);
  return f;
}

/**
 * The TCP header (timestamps: 12 option bytes), payload and checksum at offset `t`; `addrSum` is the ones-complement
 * sum of the pseudo-header's addresses (IPv4 or IPv6). The sequence number wraps within the frame by default.
 */
function writeTcp(f: Buffer, t: number, thl: number, payload: Buffer, addrSum: number, o: { seq?: number; flags?: number; partial?: boolean }): void {
  f.writeUInt16BE(40000, t);
  f.writeUInt16BE(5201, t + 2);
  f.writeUInt32BE(o.seq ?? 0xfffff000, t + 4);
  f.writeUInt32BE(777, t + 8);
  f[t + 12] = (thl / 4) << 4;
  f[t + 13] = o.flags ?? 0x18;
  f.writeUInt16BE(502, t + 14);
  Buffer.from([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]).copy(f, t + 20);
  payload.copy(f, t + thl);
  const tcpLen = thl + payload.length;
  const pseudo = addrSum + 6 + tcpLen;
  f.writeUInt16BE(o.partial ? fold16(pseudo) : ~fold16(onesSum(f, t, tcpLen, pseudo)) & 0xffff, t + 16);
}

function tcpValid(f: Buffer): boolean {
  const tcpLen = f.length - 34;
  return fold16(onesSum(f, 34, tcpLen, onesSum(f, 26, 8) + 6 + tcpLen)) === 0xffff;
}


const SRC6 = Array.from({ length: 16 }, (_, i) => (i === 0 ? 0xfd : i === 15 ? 1 : i * 3));
const DST6 = Array.from({ length: 16 }, (_, i) => (i === 0 ? 0xfd : i === 15 ? 2 : i * 5));

/** IPv6/TCP frame with timestamps (12 option bytes); checksum over the RFC 8200 §8.1 pseudo-header (partial: pseudo-header sum only). */
function tcp6Frame(
  payload: Buffer,
  o: { seq?: number; flags?: number; partial?: boolean; flowLabel?: number; hopLimit?: number; src?: number[]; nextHeader?: number } = {},
): Buffer {
  const thl = 32;
  const f = Buffer.alloc(14 + 40 + thl + payload.length);
  Buffer.from([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]).copy(f, 0);
  f.writeUInt16BE(0x86dd, 12);
  f.writeUInt32BE((6 << 28) | (o.flowLabel ?? 0x12345), 14);
  f.writeUInt16BE(thl + payload.length, 18);
  f[20] = o.nextHeader ?? 6;
  f[21] = o.hopLimit ?? 64;
  Buffer.from([...(o.src ?? SRC6), ...DST6]).copy(f, 22);
  writeTcp(f, 54, thl, payload, onesSum(f, 22, 32), o);
  return f;
}

function tcp6Valid(f: Buffer): boolean {
  const tcpLen = f.length - 54;
  return fold16(onesSum(f, 54, tcpLen, onesSum(f, 22, 32) + 6 + tcpLen)) === 0xffff;
}

const payload = Buffer.from(Array.from({ length: 60001 }, (_, i) => (i * 31 + (i >> 7)) & 0xff));

describe('Summer (aligned 32-bit ones-complement sums)', () => {
  it('matches the byte-pair sum for every alignment and length', () => {
    const b = Buffer.alloc(5000);
    for (let i = 0; i < b.length; i++) b[i] = (i * 7919 + (i >> 3)) & 0xff;
    for (const buf of [b, b.subarray(1), b.subarray(3)]) {
      const s = new Summer(buf);
      for (let off = 0; off < 9; off++) for (const len of [0, 1, 2, 3, 5, 8, 63, 64, 1399, 4000]) expect(s.sum(off, len)).toBe(fold16(onesSum(buf, off, len)));
    }
  });
});

describe('software TSO (Segmenter)', () => {
  const vx = Buffer.from([0x08, 0, 0, 0, 0, 0, 1, 0]);

  it('cuts a 60 KB super-frame into valid segments that fit the underlay MTU', () => {
    const sf = tcpFrame(payload, { partial: true });
    const src = Buffer.alloc(36 + sf.length);
    sf.copy(src, 36);
    const seg = new Segmenter(src, vx);
    // kernel gso_size 1448 (TAP mtu 1500) but underlay 1500 → inner frame ≤ 1464
    expect(seg.segment(36, sf.length, 1448, 34, false, 1500 - 36)).toBe(true);
    const mss = 1464 - 66;
    expect(seg.count).toBe(Math.ceil(payload.length / mss));
    expect(seg.segLen).toBe(VXLAN_HLEN + 1464);
    const got: Buffer[] = [];
    for (let i = 0; i < seg.count; i++) {
      const d = seg.out.subarray(i * seg.segLen, i * seg.segLen + (i === seg.count - 1 ? seg.lastLen : seg.segLen));
      expect(d.length).toBeLessThanOrEqual(1500 - 28);
      expect([...d.subarray(0, 8)]).toEqual([...vx]);
      const f = Buffer.from(d.subarray(8));
      expect(fold16(onesSum(f, 14, 20))).toBe(0xffff);
      expect(f.readUInt16BE(16)).toBe(f.length - 14);
      expect(f.readUInt16BE(18)).toBe((0x1234 + i) & 0xffff);
      expect(tcpValid(f), `segment ${i}`).toBe(true);
      expect(f.readUInt32BE(38)).toBe((0xfffff000 + i * mss) >>> 0);
      expect(f[47]).toBe(i === seg.count - 1 ? 0x18 : 0x10); // PSH only on the last
      got.push(f.subarray(66));
    }
    expect(Buffer.concat(got).equals(payload)).toBe(true);
  });

  it('segments IPv6 super-frames (payload length, pseudo-header with 128-bit addresses)', () => {
    const data = payload.subarray(0, 5000);
    const f = Buffer.alloc(14 + 40 + 20 + data.length);
    f.writeUInt16BE(0x86dd, 12);
    f[14] = 0x60;
    f.writeUInt16BE(20 + data.length, 18);
    f[20] = 6;
    f[21] = 64;
    for (let i = 0; i < 32; i++) f[22 + i] = i * 13;
    f.writeUInt32BE(100, 54 + 4);
    f[54 + 12] = 0x50;
    f[54 + 13] = 0x10;
    data.copy(f, 74);
    const seg = new Segmenter(f, Buffer.alloc(8));
    expect(seg.segment(0, f.length, 1440, 54, true, 1450)).toBe(true);
    expect(seg.count).toBe(Math.ceil(5000 / 1376)); // 1450 − 74
    for (let i = 0; i < seg.count; i++) {
      const d = seg.out.subarray(i * seg.segLen + 8, i * seg.segLen + (i === seg.count - 1 ? seg.lastLen : seg.segLen));
      expect(d.readUInt16BE(18)).toBe(d.length - 54);
      const tcpLen = d.length - 54;
      expect(fold16(onesSum(d, 54, tcpLen, onesSum(d, 22, 32) + 6 + tcpLen))).toBe(0xffff);
      expect(d.readUInt32BE(58)).toBe(100 + i * 1376);
    }
  });

  it('refuses frames it cannot segment (not IPv4/TCP, headers beyond the frame)', () => {
    const sf = tcpFrame(payload.subarray(0, 3000), { partial: true });
    sf.writeUInt16BE(0x86dd, 12);
    const seg = new Segmenter(sf, vx);
    expect(seg.segment(0, sf.length, 1400, 34, false, 1464)).toBe(false);
    expect(seg.segment(0, 60, 1400, 34, false, 1464)).toBe(false);
  });
});

describe('software GRO (Coalescer)', () => {
  function run(frames: Buffer[]): Array<{ bytes: Buffer; segs: number }> {
    const src = Buffer.alloc(70000);
    const writes: Array<{ bytes: Buffer; segs: number }> = [];
    const co = new Coalescer(src, (len, segs) => writes.push({ bytes: Buffer.from(co.agg.subarray(0, len)), segs }));
    let p = 16;
    for (const f of frames) {
      f.copy(src, p);
      if (!co.offer(p, f.length)) {
        co.flush();
        writes.push({ bytes: Buffer.concat([Buffer.alloc(VNET_HDR_LEN), f]), segs: 1 });
      }
      p += f.length + 8;
    }
    co.flush();
    return writes;
  }

  const mss = 1398;
  const segs = (from: number, n: number, seq0: number) =>
    Array.from({ length: n }, (_, i) => tcpFrame(payload.subarray(from + i * mss, from + (i + 1) * mss), { seq: (seq0 + i * mss) >>> 0, flags: 0x10 }));

  it('merges in-order segments of one flow into one TSO frame with a virtio_net_hdr', () => {
    const w = run(segs(0, 5, 0xfffffc00));
    expect(w.length).toBe(1);
    expect(w[0]!.segs).toBe(5);
    const b = w[0]!.bytes;
    expect([b[0], b[1], b.readUInt16LE(2), b.readUInt16LE(4), b.readUInt16LE(6), b.readUInt16LE(8)]).toEqual([1, 1, 66, mss, 34, 16]);
    const f = b.subarray(VNET_HDR_LEN);
    expect(f.readUInt16BE(16)).toBe(f.length - 14);
    expect(fold16(onesSum(f, 14, 20))).toBe(0xffff);
    expect(f.subarray(66).equals(payload.subarray(0, 5 * mss))).toBe(true);
    // CHECKSUM_PARTIAL: completing the sum from csum_start gives a valid checksum
    const tcpLen = f.length - 34;
    const full = ~fold16(onesSum(f, 34, tcpLen)) & 0xffff;
    const g = Buffer.from(f);
    g.writeUInt16BE(full, 50);
    expect(tcpValid(g)).toBe(true);
  });

  it('does not merge across a sequence gap, a bad checksum, other flags or a single segment', () => {
    const a = segs(0, 2, 1000);
    const gap = segs(10 * mss, 2, 1000 + 10 * mss);
    const bad = tcpFrame(payload.subarray(0, mss), { seq: 1000 + 12 * mss, flags: 0x10 });
    bad[100] ^= 1;
    const syn = tcpFrame(payload.subarray(0, 10), { seq: 5, flags: 0x02 });
    const w = run([...a, ...gap, bad, syn, segs(0, 1, 42)[0]!]);
    expect(w.map((x) => x.segs)).toEqual([2, 2, 1, 1, 1]);
    expect(w[2]!.bytes.subarray(VNET_HDR_LEN).equals(bad)).toBe(true);
    expect([...w[4]!.bytes.subarray(0, VNET_HDR_LEN)]).toEqual(Array(VNET_HDR_LEN).fill(0));
  });

  it('round trip: TSO segments coalesce back into the original payload', () => {
    const sf = tcpFrame(payload.subarray(0, 40000), { partial: true, seq: 7 });
    const seg = new Segmenter(sf, Buffer.alloc(8));
    expect(seg.segment(0, sf.length, 1398, 34, false, 1464)).toBe(true);
    const frames = Array.from({ length: seg.count }, (_, i) => Buffer.from(seg.out.subarray(i * seg.segLen + 8, i * seg.segLen + (i === seg.count - 1 ? seg.lastLen : seg.segLen))));
    const w = run(frames);
    expect(w.length).toBe(1);
    expect(w[0]!.bytes.subarray(VNET_HDR_LEN + 66).equals(payload.subarray(0, 40000))).toBe(true);
    expect(w[0]!.bytes[VNET_HDR_LEN + 47]).toBe(0x18);
  });
  describe('IPv6 inner TCP', () => {
    const mss6 = 1358; // TAP MTU 1430 (IPv6 underlay 1500 − 70) − 40 − 32
    const segs6 = (from: number, n: number, seq0: number, o: Parameters<typeof tcp6Frame>[1] = {}) =>
      Array.from({ length: n }, (_, i) => tcp6Frame(payload.subarray(from + i * mss6, from + (i + 1) * mss6), { seq: (seq0 + i * mss6) >>> 0, flags: 0x10, ...o }));

    it('classifies frames: IPv4/TCP, IPv6/TCP, and nothing else (extension headers, UDP, truncated lengths)', () => {
      const v4 = tcpFrame(payload.subarray(0, 100));
      const v6 = tcp6Frame(payload.subarray(0, 100));
      expect(tcpFamily(v4, 0, v4.length)).toBe(4);
      expect(tcpFamily(v6, 0, v6.length)).toBe(6);
      expect(tcpFamily(v6, 0, v6.length - 1)).toBe(0); // payload length disagrees with the frame
      const hbh = tcp6Frame(payload.subarray(0, 100), { nextHeader: 0 });
      expect(tcpFamily(hbh, 0, hbh.length)).toBe(0);
      const udp = tcp6Frame(payload.subarray(0, 100), { nextHeader: 17 });
      expect(tcpFamily(udp, 0, udp.length)).toBe(0);
    });

    it('merges in-order segments into one TCPV6 frame: payload length, gso_type 4, csum_start after the IPv6 header', () => {
      const w = run(segs6(0, 6, 0xfffffa00)); // the sequence space wraps inside the train
      expect(w.length).toBe(1);
      expect(w[0]!.segs).toBe(6);
      const b = w[0]!.bytes;
      expect([b[0], b[1], b.readUInt16LE(2), b.readUInt16LE(4), b.readUInt16LE(6), b.readUInt16LE(8)]).toEqual([1, 4, 86, mss6, 54, 16]);
      const f = b.subarray(VNET_HDR_LEN);
      expect(f.readUInt16BE(18)).toBe(f.length - 54);
      expect(f.readUInt32BE(14)).toBe((6 << 28) | 0x12345);
      expect(f.subarray(86).equals(payload.subarray(0, 6 * mss6))).toBe(true);
      // CHECKSUM_PARTIAL over the IPv6 pseudo-header: completing it from csum_start gives a valid checksum
      const tcpLen = f.length - 54;
      const g = Buffer.from(f);
      g.writeUInt16BE(~fold16(onesSum(f, 54, tcpLen)) & 0xffff, 54 + 16);
      expect(tcp6Valid(g)).toBe(true);
    });

    it('starts a new frame on another flow label, hop limit, source, family, a gap or a bad checksum', () => {
      const a = segs6(0, 2, 1000);
      const label = segs6(2 * mss6, 2, 1000 + 2 * mss6, { flowLabel: 0x54321 });
      const hop = segs6(4 * mss6, 2, 1000 + 4 * mss6, { hopLimit: 63 });
      const src = segs6(6 * mss6, 2, 1000 + 6 * mss6, { src: [...SRC6.slice(0, 15), 9] });
      const v4 = segs(0, 2, 1000 + 8 * mss6); // same seq space, other family
      const gap = segs6(20 * mss6, 2, 1000 + 20 * mss6);
      const bad = tcp6Frame(payload.subarray(0, mss6), { seq: 1000 + 22 * mss6, flags: 0x10 });
      bad[200] ^= 1;
      const w = run([...a, ...label, ...hop, ...src, ...v4, ...gap, bad]);
      expect(w.map((x) => x.segs)).toEqual([2, 2, 2, 2, 2, 2, 1]);
      expect(w.map((x) => x.bytes[1])).toEqual([4, 4, 4, 4, 1, 4, 0]);
      expect(w[6]!.bytes.subarray(VNET_HDR_LEN).equals(bad)).toBe(true);
    });

    it('PSH or a short segment ends the train; the merged frame carries PSH', () => {
      const s = segs6(0, 4, 5);
      s[1]![54 + 13] = 0x18;
      s[1]!.writeUInt16BE(0, 54 + 16);
      s[1]!.writeUInt16BE(~fold16(onesSum(s[1]!, 54, s[1]!.length - 54, onesSum(s[1]!, 22, 32) + 6 + s[1]!.length - 54)) & 0xffff, 54 + 16);
      const w = run(s);
      expect(w.map((x) => x.segs)).toEqual([2, 2]);
      expect(w[0]!.bytes[VNET_HDR_LEN + 54 + 13]).toBe(0x18);
    });

    it('round trip: IPv6 TSO segments (70-byte outer overhead maths) coalesce back into the original payload', () => {
      const sf = tcp6Frame(payload.subarray(0, 50000), { partial: true, seq: 99 });
      const seg = new Segmenter(sf, Buffer.alloc(8));
      // IPv6 underlay MTU 1500: inner frame ≤ 1500 − 56 (outer IPv6 + UDP + VXLAN) = 1444 = 14 + 40 + 32 + 1358
      expect(seg.segment(0, sf.length, mss6, 54, true, 1500 - 56)).toBe(true);
      expect(seg.segLen).toBe(8 + 1444);
      const frames = Array.from({ length: seg.count }, (_, i) => Buffer.from(seg.out.subarray(i * seg.segLen + 8, i * seg.segLen + (i === seg.count - 1 ? seg.lastLen : seg.segLen))));
      for (const f of frames) expect(tcp6Valid(f)).toBe(true);
      const w = run(frames);
      expect(w.length).toBe(1);
      expect(w[0]!.segs).toBe(seg.count);
      expect(w[0]!.bytes.subarray(VNET_HDR_LEN + 86).equals(payload.subarray(0, 50000))).toBe(true);
    });
  });
});
