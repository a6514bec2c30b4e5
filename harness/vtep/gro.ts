// Receive-side coalescing for a vnet-header TAP (software GRO): consecutive inner TCP segments of
// one flow (IPv4 or IPv6), as they arrive in one UDP_GRO train, are merged into one TCP super-frame
// written to the TAP with a virtio_net_hdr (gso_type TCPV4 or TCPV6, CHECKSUM_PARTIAL), so the kernel
// stack handles one large skb instead of ~45 small ones — exactly what GRO on a NIC would hand it.
//
// A segment joins only if it is what Linux GRO would merge (tcp_gro_receive, inet_gro_receive,
// ipv6_gro_receive): same Ethernet header; IPv4 without options or fragmentation, same
// addresses/TOS/TTL/DF — or IPv6 with TCP as the next header (no extension headers) and the same
// addresses, traffic class, flow label and hop limit; TCP with only ACK (PSH ends the train), the
// same ports, ack, window, header length and options, the next expected sequence number, a payload
// no larger than the first one's (a shorter one ends the train), and valid IPv4 and TCP checksums
// (each is verified here against the family's pseudo-header, since the merged frame is handed over
// as already checked). Anything else is flushed in order and written as it came.
import { Summer, fold16 } from './codec.ts';

export const VNET_HDR_LEN = 10;
const ETH = 14;
const IP = ETH; // IP header offset in the frame (no VLAN)
const TCP4 = ETH + 20; // TCP header offset behind IPv4 without options
const TCP6 = ETH + 40; // TCP header offset behind IPv6 without extension headers
/** merged IP length (IPv4 total length, IPv6 payload length) stays below this */
const MAX_IP_LEN = 65535 - 1024;
const GSO_TCPV4 = 1;
const GSO_TCPV6 = 4;

/** 4 (IPv4/TCP, no options), 6 (IPv6/TCP, no extension headers) or 0: the frame at b[fr, fr+L) is not a GRO candidate. */
export function tcpFamily(b: Buffer, fr: number, L: number): 0 | 4 | 6 {
  const et = (b[fr + 12]! << 8) | b[fr + 13]!;
  if (et === 0x0800) {
    if (L < TCP4 + 21 || b[fr + IP] !== 0x45 || b[fr + IP + 9] !== 6) return 0;
    if (((b[fr + IP + 6]! << 8) | b[fr + IP + 7]!) & 0x3fff) return 0; // fragment
    if (((b[fr + IP + 2]! << 8) | b[fr + IP + 3]!) !== L - ETH) return 0; // padded or truncated
    return 4;
  }
  if (et === 0x86dd) {
    if (L < TCP6 + 21 || b[fr + IP]! >>> 4 !== 6 || b[fr + IP + 6] !== 6) return 0;
    if (((b[fr + IP + 4]! << 8) | b[fr + IP + 5]!) !== L - ETH - 40) return 0; // jumbogram, padded or truncated
    return 6;
  }
  return 0;
}

export interface CoalescerSink {
  /**
   * Write agg[0, len) to the TAP: a virtio_net_hdr followed by one frame that carries `segs` inner
   * frames of `bytes` bytes in total. Returns the bytes written or < 0 on error.
   */
  (len: number, segs: number, bytes: number): void;
}

export class Coalescer {
  /** vnet header + merged frame */
  readonly agg = Buffer.alloc(VNET_HDR_LEN + 65536 + 2048);
  private readonly inSum: Summer;
  private readonly aggSum = new Summer(this.agg);
  /** segments merged so far (0: empty) */
  private n = 0;
  private fam: 4 | 6 = 4;
  private len = 0; // frame bytes in agg (after the vnet header)
  private bytes = 0; // sum of the merged frames' lengths
  private hl = 0; // Ethernet + IP + TCP header bytes
  private mss = 0;
  private nextSeq = 0;
  private closed = false;
  private psh = 0;
  /** frames merged in total / coalesced writes (for stats) */
  merged = 0;
  writes = 0;

  constructor(readonly src: Buffer, private readonly sink: CoalescerSink) {
    this.inSum = new Summer(src);
  }

  /**
   * Offer the inner frame src[fr, fr+L). true: taken (it is in the pending super-frame, or started a
   * new one after flushing the old). false: not mergeable — the caller must flush() and write it itself.
   */
  offer(fr: number, L: number): boolean {
    const b = this.src;
    const fam = tcpFamily(b, fr, L);
    if (fam === 0) return false;
    const tcp = fam === 4 ? TCP4 : TCP6;
    const thl = (b[fr + tcp + 12]! >>> 4) * 4;
    const hl = tcp + thl;
    const plen = L - hl;
    if (thl < 20 || plen <= 0) return false;
    const fl = b[fr + tcp + 13]!;
    if ((fl & ~0x08) !== 0x10) return false; // only ACK (+PSH)
    if (fam === 4 && this.inSum.sum(fr + IP, 20) !== 0xffff) return false;
    const tcpLen = L - tcp;
    // pseudo-header: addresses (8 or 32 bytes) + protocol + TCP length (RFC 793 / RFC 8200 §8.1)
    const pseudo = (fam === 4 ? this.inSum.sum(fr + IP + 12, 8) : this.inSum.sum(fr + IP + 8, 32)) + 6 + tcpLen;
    if (fold16(pseudo + this.inSum.sum(fr + tcp, tcpLen)) !== 0xffff) return false;
    const seq = b.readUInt32BE(fr + tcp + 4);
    if (
      this.n > 0 &&
      !this.closed &&
      fam === this.fam &&
      hl === this.hl &&
      plen <= this.mss &&
      seq === this.nextSeq &&
      this.len + plen - ETH <= MAX_IP_LEN &&
      this.sameFlow(fr, tcp, thl)
    ) {
      b.copy(this.agg, VNET_HDR_LEN + this.len, fr + hl, fr + L);
      this.len += plen;
      this.bytes += L;
      this.n++;
      this.nextSeq = (seq + plen) >>> 0;
      if (plen < this.mss || fl & 0x08) this.closed = true;
      this.psh |= fl & 0x08;
      return true;
    }
    this.flush();
    b.copy(this.agg, VNET_HDR_LEN, fr, fr + L);
    this.n = 1;
    this.fam = fam;
    this.len = L;
    this.bytes = L;
    this.hl = hl;
    this.mss = plen;
    this.nextSeq = (seq + plen) >>> 0;
    this.closed = (fl & 0x08) !== 0;
    this.psh = fl & 0x08;
    return true;
  }

  /** Same flow and mergeable headers as the pending first segment (bytes GRO requires equal). */
  private sameFlow(fr: number, tcp: number, thl: number): boolean {
    const b = this.src;
    const a = this.agg;
    const A = VNET_HDR_LEN;
    for (let i = 0; i < ETH; i++) if (b[fr + i] !== a[A + i]) return false;
    if (this.fam === 4) {
      if (b[fr + IP + 1] !== a[A + IP + 1] || b[fr + IP + 8] !== a[A + IP + 8]) return false; // TOS, TTL
      if ((b[fr + IP + 6]! & 0x40) !== (a[A + IP + 6]! & 0x40)) return false; // DF
      for (let i = 12; i < 20; i++) if (b[fr + IP + i] !== a[A + IP + i]) return false; // addresses
    } else {
      for (let i = 0; i < 4; i++) if (b[fr + IP + i] !== a[A + IP + i]) return false; // version, traffic class, flow label
      if (b[fr + IP + 7] !== a[A + IP + 7]) return false; // hop limit
      for (let i = 8; i < 40; i++) if (b[fr + IP + i] !== a[A + IP + i]) return false; // addresses
    }
    for (let i = 0; i < 4; i++) if (b[fr + tcp + i] !== a[A + tcp + i]) return false; // ports
    for (let i = 8; i < 13; i++) if (b[fr + tcp + i] !== a[A + tcp + i]) return false; // ack, data offset
    for (let i = 14; i < thl; i++) if (i !== 16 && i !== 17 && b[fr + tcp + i] !== a[A + tcp + i]) return false; // window, urg, options
    return true;
  }

  /** Write out the pending frame (if any). */
  flush(): void {
    const n = this.n;
    if (n === 0) return;
    this.n = 0;
    const a = this.agg;
    if (n === 1) {
      a.fill(0, 0, VNET_HDR_LEN);
      this.sink(VNET_HDR_LEN + this.len, 1, this.bytes);
      return;
    }
    const A = VNET_HDR_LEN;
    const v6 = this.fam === 6;
    const tcp = v6 ? TCP6 : TCP4;
    const tcpLen = this.len - tcp;
    let pseudo: number;
    if (v6) {
      const pl = this.len - ETH - 40;
      a[A + IP + 4] = pl >>> 8;
      a[A + IP + 5] = pl & 0xff;
      pseudo = this.aggSum.sum(A + IP + 8, 32);
    } else {
      const tot = this.len - ETH;
      a[A + IP + 2] = tot >>> 8;
      a[A + IP + 3] = tot & 0xff;
      a[A + IP + 10] = 0;
      a[A + IP + 11] = 0;
      const ipc = ~this.aggSum.sum(A + IP, 20) & 0xffff;
      a[A + IP + 10] = ipc >>> 8;
      a[A + IP + 11] = ipc & 0xff;
      pseudo = this.aggSum.sum(A + IP + 12, 8);
    }
    a[A + tcp + 13] = a[A + tcp + 13]! | this.psh;
    // CHECKSUM_PARTIAL: the field holds the (uncomplemented) pseudo-header sum
    const ps = fold16(pseudo + 6 + tcpLen);
    a[A + tcp + 16] = ps >>> 8;
    a[A + tcp + 17] = ps & 0xff;
    // virtio_net_hdr: NEEDS_CSUM, GSO TCPV4/TCPV6, hdr_len, gso_size, csum_start, csum_offset (LE)
    a[0] = 1;
    a[1] = v6 ? GSO_TCPV6 : GSO_TCPV4;
    a.writeUInt16LE(this.hl, 2);
    a.writeUInt16LE(this.mss, 4);
    a.writeUInt16LE(tcp, 6);
    a.writeUInt16LE(16, 8);
    this.merged += n;
    this.writes++;
    this.sink(VNET_HDR_LEN + this.len, n, this.bytes);
  }
}
