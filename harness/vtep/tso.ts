// Software TSO for the tx path: a TCP super-frame read from a vnet-header TAP (gso_type TCPV4/V6)
// is cut into complete VXLAN datagrams of equal size (the last may be shorter), laid out back to back
// so one sendmsg with UDP_SEGMENT (GSO) sends them all. Every datagram carries its own VXLAN header
// and a copy of the inner Ethernet/IP/TCP headers with IP length/id/checksum (IPv4) or payload
// length (IPv6) and TCP seq/flags/checksum fixed — exactly what the kernel's tcp_gso_segment does.
import { Summer, VXLAN_HLEN, fold16 } from './codec.ts';

/** size of the output buffer a Segmenter needs: a 64 KB frame cut into small segments + headers */
export const SEGMENT_OUT_BYTES = 2 * 65536 + 8192;

export class Segmenter {
  /** datagrams produced by the last segment(); datagram i is out[i*segLen, i*segLen + (last ? lastLen : segLen)) */
  count = 0;
  segLen = 0;
  lastLen = 0;
  private readonly inSum: Summer;
  private readonly outSum: Summer;

  constructor(
    readonly src: Buffer,
    /** the 8-byte VXLAN header every datagram starts with */
    readonly vxlan: Buffer,
    readonly out: Buffer = Buffer.alloc(SEGMENT_OUT_BYTES),
  ) {
    this.inSum = new Summer(src);
    this.outSum = new Summer(out);
  }

  /**
   * Segment the frame src[off, off+n) (TCP checksum field: pseudo-header sum, as the kernel leaves
   * it for CHECKSUM_PARTIAL; it is recomputed either way). mss = min(gsoSize, maxFrame − headers),
   * so every inner frame is ≤ maxFrame bytes. false: not a frame we can segment.
   */
  segment(off: number, n: number, gsoSize: number, thoff: number, v6: boolean, maxFrame: number): boolean {
    const inner = this.src;
    const out = this.out;
    let l3 = 14;
    let et = (inner[off + 12]! << 8) | inner[off + 13]!;
    if (et === 0x8100) {
      l3 = 18;
      et = (inner[off + 16]! << 8) | inner[off + 17]!;
    }
    if (et !== (v6 ? 0x86dd : 0x0800) || thoff < l3 + (v6 ? 40 : 20) || thoff + 20 > n) return false;
    if (!v6 && (inner[off + l3]! >>> 4) !== 4) return false;
    const thl = (inner[off + thoff + 12]! >>> 4) * 4;
    const hl = thoff + thl;
    if (thl < 20 || hl > n) return false;
    const payload = n - hl;
    const mss = Math.min(gsoSize || payload, maxFrame - hl);
    if (mss <= 0) return false;
    const k = payload === 0 ? 1 : Math.ceil(payload / mss);
    const segLen = VXLAN_HLEN + hl + mss;
    if (k * segLen > out.length) return false;
    const seq0 = inner.readUInt32BE(off + thoff + 4);
    const flags0 = inner[off + thoff + 13]!;
    const id0 = v6 ? 0 : (inner[off + l3 + 4]! << 8) | inner[off + l3 + 5]!;
    const ihl = v6 ? 40 : (inner[off + l3]! & 0x0f) * 4;
    // pseudo-header without the length: addresses + protocol
    const pseudo = 6 + (v6 ? this.inSum.sum(off + l3 + 8, 32) : this.inSum.sum(off + l3 + 12, 8));
    for (let i = 0; i < k; i++) {
      const plen = i === k - 1 ? payload - i * mss : mss;
      const pos = i * segLen;
      const fr = pos + VXLAN_HLEN;
      this.vxlan.copy(out, pos, 0, VXLAN_HLEN);
      inner.copy(out, fr, off, off + hl);
      inner.copy(out, fr + hl, off + hl + i * mss, off + hl + i * mss + plen);
      const frameLen = hl + plen;
      if (v6) {
        const pl = frameLen - l3 - 40;
        out[fr + l3 + 4] = pl >>> 8;
        out[fr + l3 + 5] = pl & 0xff;
      } else {
        const tot = frameLen - l3;
        out[fr + l3 + 2] = tot >>> 8;
        out[fr + l3 + 3] = tot & 0xff;
        const id = (id0 + i) & 0xffff;
        out[fr + l3 + 4] = id >>> 8;
        out[fr + l3 + 5] = id & 0xff;
        out[fr + l3 + 10] = 0;
        out[fr + l3 + 11] = 0;
        const ipc = ~this.outSum.sum(fr + l3, ihl) & 0xffff;
        out[fr + l3 + 10] = ipc >>> 8;
        out[fr + l3 + 11] = ipc & 0xff;
      }
      const t = fr + thoff;
      out.writeUInt32BE((seq0 + i * mss) >>> 0, t + 4);
      let fl = flags0;
      if (i < k - 1) fl &= ~0x09; // FIN, PSH only on the last segment
      if (i > 0) fl &= ~0x80; // CWR only on the first
      out[t + 13] = fl;
      out[t + 16] = 0;
      out[t + 17] = 0;
      const tcpLen = frameLen - thoff;
      const sum = fold16(pseudo + tcpLen + this.outSum.sum(t, thl) + this.inSum.sum(off + hl + i * mss, plen));
      const tc = ~sum & 0xffff;
      out[t + 16] = tc >>> 8;
      out[t + 17] = tc & 0xff;
    }
    this.count = k;
    this.segLen = segLen;
    this.lastLen = VXLAN_HLEN + hl + (payload - (k - 1) * mss);
    return true;
  }
}
