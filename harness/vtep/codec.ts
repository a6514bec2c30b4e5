// VXLAN (RFC 7348) header codec and the byte helpers the data path uses. Pure, no I/O.
//
//  VXLAN header (8 bytes):
//   0: flags  R R R R I R R R   (I = 0x08 must be 1 for a valid VNI)
//   1..3: reserved (24 bits)
//   4..6: VNI (24 bits)
//   7: reserved (8 bits)
//  RFC 7348 §5: reserved fields MUST be zero on send and MUST be ignored on receipt.

export const VXLAN_PORT = 4789;
export const VXLAN_HLEN = 8;
export const UDP_HLEN = 8;
export const IPV4_HLEN = 20;
export const ETH_HLEN = 14;
export const VXLAN_FLAG_I = 0x08;
/** outer IPv4 + UDP + VXLAN in front of the inner Ethernet frame */
export const OUTER_L3_OVERHEAD = IPV4_HLEN + UDP_HLEN + VXLAN_HLEN; // 36
/** overhead counted against the inner L3 MTU: outer IPv4/UDP/VXLAN + inner Ethernet header */
export const VXLAN_MTU_OVERHEAD = OUTER_L3_OVERHEAD + ETH_HLEN; // 50
/** the smallest datagram we accept: VXLAN header + an inner Ethernet header */
export const MIN_VXLAN_PAYLOAD = VXLAN_HLEN + ETH_HLEN;

/** Result codes of classifyVxlan (hot path, no allocation). */
export const VX_OK = 0;
export const VX_OK_RESERVED = 1;
export const VX_RUNT = -1;
export const VX_NO_I_FLAG = -2;
export const VX_WRONG_VNI = -3;

export type VxlanDropReason = 'runt' | 'noIFlag' | 'wrongVni';

export interface VxlanHeader {
  flags: number;
  vni: number;
  /** bytes 1..3 as a 24-bit number */
  reserved1: number;
  /** byte 7 */
  reserved2: number;
  /** any reserved bit set (flags other than I, reserved1, reserved2) */
  reservedBitsSet: boolean;
}

export type DecodeResult =
  | { ok: true; header: VxlanHeader; inner: Uint8Array }
  | { ok: false; reason: VxlanDropReason; detail: string; header?: VxlanHeader };

export interface EncodeOptions {
  /** send with the I flag cleared (fault injection) */
  clearIFlag?: boolean;
}

/** Write the 8-byte VXLAN header at buf[off]. */
export function writeVxlanHeader(buf: Uint8Array, off: number, vni: number, opts: EncodeOptions = {}): void {
  if (!Number.isInteger(vni) || vni < 0 || vni > 0xffffff) throw new RangeError(`VNI out of range: ${vni}`);
  buf[off] = opts.clearIFlag ? 0 : VXLAN_FLAG_I;
  buf[off + 1] = 0;
  buf[off + 2] = 0;
  buf[off + 3] = 0;
  buf[off + 4] = (vni >>> 16) & 0xff;
  buf[off + 5] = (vni >>> 8) & 0xff;
  buf[off + 6] = vni & 0xff;
  buf[off + 7] = 0;
}

/** VXLAN header + inner frame as a new buffer (UDP payload). */
export function encodeVxlan(vni: number, inner: Uint8Array, opts: EncodeOptions = {}): Buffer {
  const out = Buffer.allocUnsafe(VXLAN_HLEN + inner.length);
  writeVxlanHeader(out, 0, vni, opts);
  out.set(inner, VXLAN_HLEN);
  return out;
}

export function parseVxlanHeader(buf: Uint8Array, off = 0): VxlanHeader {
  if (buf.length - off < VXLAN_HLEN) throw new RangeError(`need ${VXLAN_HLEN} bytes for a VXLAN header, have ${buf.length - off}`);
  const flags = buf[off]!;
  const reserved1 = (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!;
  const vni = (buf[off + 4]! << 16) | (buf[off + 5]! << 8) | buf[off + 6]!;
  const reserved2 = buf[off + 7]!;
  return { flags, vni, reserved1, reserved2, reservedBitsSet: (flags & ~VXLAN_FLAG_I & 0xff) !== 0 || reserved1 !== 0 || reserved2 !== 0 };
}

/**
 * Hot-path validation of a UDP payload buf[off, off+len). Returns VX_OK, VX_OK_RESERVED (valid, some
 * reserved bit set — accepted and ignored per RFC 7348) or a negative VX_* drop code.
 * Order of checks: length, I flag, VNI.
 */
export function classifyVxlan(buf: Uint8Array, off: number, len: number, vni: number): number {
  if (len < MIN_VXLAN_PAYLOAD) return VX_RUNT;
  const flags = buf[off]!;
  if ((flags & VXLAN_FLAG_I) === 0) return VX_NO_I_FLAG;
  if (((buf[off + 4]! << 16) | (buf[off + 5]! << 8) | buf[off + 6]!) !== vni) return VX_WRONG_VNI;
  if ((flags & 0xf7) !== 0 || buf[off + 1]! !== 0 || buf[off + 2]! !== 0 || buf[off + 3]! !== 0 || buf[off + 7]! !== 0) return VX_OK_RESERVED;
  return VX_OK;
}

/** Friendly decoder with precise reasons; `expectedVni` omitted = accept any VNI. */
export function decodeVxlan(payload: Uint8Array, expectedVni?: number): DecodeResult {
  if (payload.length < MIN_VXLAN_PAYLOAD) {
    return {
      ok: false,
      reason: 'runt',
      detail: `UDP payload is ${payload.length} bytes; need ≥ ${MIN_VXLAN_PAYLOAD} (8 VXLAN + 14 inner Ethernet)`,
      header: payload.length >= VXLAN_HLEN ? parseVxlanHeader(payload) : undefined,
    };
  }
  const header = parseVxlanHeader(payload);
  if ((header.flags & VXLAN_FLAG_I) === 0) {
    return { ok: false, reason: 'noIFlag', detail: `flags 0x${hex2(header.flags)}: I flag (0x08) not set`, header };
  }
  if (expectedVni !== undefined && header.vni !== expectedVni) {
    return { ok: false, reason: 'wrongVni', detail: `VNI ${header.vni}, expected ${expectedVni}`, header };
  }
  return { ok: true, header, inner: payload.subarray(VXLAN_HLEN) };
}

// ---------------------------------------------------------------- addresses

export function parseMac(s: string): Buffer {
  const parts = s.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new Error(`bad MAC: ${s}`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function macToString(buf: Uint8Array, off = 0): string {
  let s = '';
  for (let i = 0; i < 6; i++) s += (i ? ':' : '') + hex2(buf[off + i]!);
  return s;
}

/** 48-bit MAC as a JS number (exact: < 2^53), for Map keys without string allocation. */
export function macKey(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 8) | buf[off + 1]!) * 0x100000000 + (((buf[off + 2]! << 24) | (buf[off + 3]! << 16) | (buf[off + 4]! << 8) | buf[off + 5]!) >>> 0);
}

export function macKeyFromString(s: string): number {
  return macKey(parseMac(s), 0);
}

export function macKeyToString(k: number): string {
  const b = Buffer.alloc(6);
  b.writeUIntBE(k, 0, 6);
  return macToString(b);
}

export function isMulticastMac(buf: Uint8Array, off: number): boolean {
  return (buf[off]! & 1) === 1;
}

export function ipv4ToInt(s: string): number {
  const p = s.split('.');
  if (p.length !== 4) throw new Error(`bad IPv4: ${s}`);
  let v = 0;
  for (const x of p) {
    const n = Number(x);
    if (!/^\d{1,3}$/.test(x) || n > 255) throw new Error(`bad IPv4: ${s}`);
    v = v * 256 + n;
  }
  return v >>> 0;
}

export function intToIpv4(v: number): string {
  return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

// ---------------------------------------------------------------- outer IPv4 / UDP

/** RFC 1071 ones'-complement sum of buf[off, off+len) added to `sum` (not folded). */
export function onesSum(buf: Uint8Array, off: number, len: number, sum = 0): number {
  let i = off;
  const end = off + len;
  for (; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8;
  return sum;
}

export function foldChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** UDP checksum over IPv4 pseudo-header + UDP header + payload at buf[udpOff, udpOff+udpLen) (checksum field must be 0). 0 is sent as 0xffff. */
export function udpChecksumIpv4(src: number, dst: number, buf: Uint8Array, udpOff: number, udpLen: number): number {
  let sum = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + 17 + udpLen;
  sum = onesSum(buf, udpOff, udpLen, sum);
  const c = foldChecksum(sum);
  return c === 0 ? 0xffff : c;
}

export interface OuterHeaderFields {
  src: number;
  dst: number;
  srcPort: number;
  dstPort: number;
  ttl?: number;
  tos?: number;
  id?: number;
  df?: boolean;
  /** compute the IPv4 header checksum (the kernel fills it for raw sends anyway) */
  ipChecksum?: boolean;
}

/**
 * Write outer IPv4 (20) + UDP (8) headers at buf[off] for a VXLAN payload of `payloadLen` bytes
 * (VXLAN header + inner frame). UDP checksum is written as 0 (RFC 7348 §5: SHOULD be zero for IPv4,
 * which is also what Linux vxlan sends unless `udpcsum` is on).
 */
export function writeOuterIpv4Udp(buf: Uint8Array, off: number, f: OuterHeaderFields, payloadLen: number): void {
  const total = IPV4_HLEN + UDP_HLEN + payloadLen;
  buf[off] = 0x45;
  buf[off + 1] = f.tos ?? 0;
  buf[off + 2] = total >>> 8;
  buf[off + 3] = total & 0xff;
  const id = f.id ?? 0;
  buf[off + 4] = id >>> 8;
  buf[off + 5] = id & 0xff;
  buf[off + 6] = f.df === false ? 0 : 0x40;
  buf[off + 7] = 0;
  buf[off + 8] = f.ttl ?? 64;
  buf[off + 9] = 17;
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  writeU32(buf, off + 12, f.src);
  writeU32(buf, off + 16, f.dst);
  if (f.ipChecksum) {
    const c = foldChecksum(onesSum(buf, off, IPV4_HLEN));
    buf[off + 10] = c >>> 8;
    buf[off + 11] = c & 0xff;
  }
  const u = off + IPV4_HLEN;
  const ulen = UDP_HLEN + payloadLen;
  buf[u] = f.srcPort >>> 8;
  buf[u + 1] = f.srcPort & 0xff;
  buf[u + 2] = f.dstPort >>> 8;
  buf[u + 3] = f.dstPort & 0xff;
  buf[u + 4] = ulen >>> 8;
  buf[u + 5] = ulen & 0xff;
  buf[u + 6] = 0;
  buf[u + 7] = 0;
}

function writeU32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = (v >>> 24) & 0xff;
  buf[off + 1] = (v >>> 16) & 0xff;
  buf[off + 2] = (v >>> 8) & 0xff;
  buf[off + 3] = v & 0xff;
}

export interface ParsedOuter {
  ipHeaderLen: number;
  src: number;
  dst: number;
  ttl: number;
  id: number;
  df: boolean;
  protocol: number;
  srcPort: number;
  dstPort: number;
  udpLen: number;
  udpChecksum: number;
  /** offset of the UDP payload (VXLAN header) in the buffer */
  payloadOff: number;
}

/** Parse an outer IPv4 + UDP header (e.g. from a capture) starting at buf[off]. */
export function parseOuterIpv4Udp(buf: Uint8Array, off: number): ParsedOuter {
  if ((buf[off]! >> 4) !== 4) throw new Error('not IPv4');
  const ihl = (buf[off]! & 0xf) * 4;
  const protocol = buf[off + 9]!;
  if (protocol !== 17) throw new Error(`not UDP (protocol ${protocol})`);
  const u = off + ihl;
  const rd16 = (o: number) => (buf[o]! << 8) | buf[o + 1]!;
  return {
    ipHeaderLen: ihl,
    src: ((buf[off + 12]! << 24) | (buf[off + 13]! << 16) | (buf[off + 14]! << 8) | buf[off + 15]!) >>> 0,
    dst: ((buf[off + 16]! << 24) | (buf[off + 17]! << 16) | (buf[off + 18]! << 8) | buf[off + 19]!) >>> 0,
    ttl: buf[off + 8]!,
    id: rd16(off + 4),
    df: (buf[off + 6]! & 0x40) !== 0,
    protocol,
    srcPort: rd16(u),
    dstPort: rd16(u + 2),
    udpLen: rd16(u + 4),
    udpChecksum: rd16(u + 6),
    payloadOff: u + UDP_HLEN,
  };
}

// ---------------------------------------------------------------- fast ones'-complement sums

/** Fold a non-negative sum (< 2^53) of 16-bit words to 16 bits with end-around carry (not complemented). */
export function fold16(sum: number): number {
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

const swap16 = (x: number) => ((x & 0xff) << 8) | (x >>> 8);

/**
 * Ones'-complement sums over one Buffer, reading aligned 32-bit words where it can (several times
 * faster than byte pairs in V8). `sum(off, len)` returns the folded, uncomplemented 16-bit sum of
 * the big-endian 16-bit words of buf[off, off+len) (an odd tail byte is padded with zero) — the
 * RFC 1071 sum; the result is the same as onesSum() folded.
 */
export class Summer {
  private readonly u32: Uint32Array;
  private readonly base: number;
  constructor(readonly buf: Buffer) {
    this.u32 = new Uint32Array(buf.buffer, 0, buf.buffer.byteLength >>> 2);
    this.base = buf.byteOffset;
  }

  sum(off: number, len: number): number {
    if (len <= 0) return 0;
    const b = this.buf;
    if (((this.base + off) & 1) !== 0) {
      // odd address: sum the rest from the next (even) byte, which pairs bytes one off → swap back
      return fold16((b[off]! << 8) + swap16(this.sum(off + 1, len - 1)));
    }
    let s = 0;
    let i = off;
    const end = off + len;
    while (((this.base + i) & 3) !== 0 && i + 1 < end) {
      s += (b[i]! << 8) | b[i + 1]!;
      i += 2;
    }
    const w0 = (this.base + i) >>> 2;
    const nw = (end - i) >>> 2;
    if (nw > 0) {
      const u = this.u32;
      let le = 0;
      const w1 = w0 + nw;
      for (let w = w0; w < w1; w++) le += u[w]!; // < 2^53 for any len here
      // little-endian host: the sum of LE words, folded, is the byte-swapped BE sum
      s += swap16(fold16(le));
      i += nw << 2;
    }
    for (; i + 1 < end; i += 2) s += (b[i]! << 8) | b[i + 1]!;
    if (i < end) s += b[i]! << 8;
    return fold16(s);
  }
}
