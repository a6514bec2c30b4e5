// Test-only helpers: a tiny classic-pcap writer and frame builders, so unit tests can produce
// byte-swapped files, VLAN tags, IPv6 extension headers and broken packets on demand.

export interface RawRecord {
  tsSec: number;
  /** microseconds or nanoseconds depending on the file precision */
  tsFrac: number;
  data: Uint8Array;
  /** defaults to data.length */
  origLen?: number;
  /** defaults to data.length (set larger to simulate a header that promises more bytes) */
  caplen?: number;
}

export interface WriteOptions {
  byteOrder?: 'le' | 'be';
  precision?: 'us' | 'ns';
  linkType?: number;
  snaplen?: number;
}

export function writePcap(records: RawRecord[], o: WriteOptions = {}): Uint8Array {
  const le = (o.byteOrder ?? 'le') === 'le';
  const total = 24 + records.reduce((n, r) => n + 16 + r.data.length, 0);
  const buf = new Uint8Array(total);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, o.precision === 'ns' ? 0xa1b23c4d : 0xa1b2c3d4, le);
  dv.setUint16(4, 2, le);
  dv.setUint16(6, 4, le);
  dv.setInt32(8, 0, le);
  dv.setUint32(12, 0, le);
  dv.setUint32(16, o.snaplen ?? 262144, le);
  dv.setUint32(20, o.linkType ?? 1, le);
  let off = 24;
  for (const r of records) {
    dv.setUint32(off, r.tsSec, le);
    dv.setUint32(off + 4, r.tsFrac, le);
    dv.setUint32(off + 8, r.caplen ?? r.data.length, le);
    dv.setUint32(off + 12, r.origLen ?? r.data.length, le);
    buf.set(r.data, off + 16);
    off += 16 + r.data.length;
  }
  return buf;
}

/** Raw records of a classic pcap file (either byte order), for round-tripping fixtures. */
export function readRawRecords(buf: Uint8Array): { opts: Required<WriteOptions>; records: RawRecord[] } {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const m = dv.getUint32(0, true);
  const le = m === 0xa1b2c3d4 || m === 0xa1b23c4d;
  const ns = m === 0xa1b23c4d || m === 0x4d3cb2a1;
  const opts = {
    byteOrder: le ? 'le' : 'be',
    precision: ns ? 'ns' : 'us',
    snaplen: dv.getUint32(16, le),
    linkType: dv.getUint32(20, le),
  } as const;
  const records: RawRecord[] = [];
  let off = 24;
  while (off + 16 <= buf.length) {
    const caplen = dv.getUint32(off + 8, le);
    records.push({
      tsSec: dv.getUint32(off, le),
      tsFrac: dv.getUint32(off + 4, le),
      origLen: dv.getUint32(off + 12, le),
      data: buf.slice(off + 16, off + 16 + caplen),
    });
    off += 16 + caplen;
  }
  return { opts, records };
}

// ---------------------------------------------------------------------------------------------
// frame builders
// ---------------------------------------------------------------------------------------------

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function bytes(...xs: number[]): Uint8Array {
  return Uint8Array.from(xs);
}

function be16(x: number): number[] {
  return [(x >> 8) & 0xff, x & 0xff];
}
function be32(x: number): number[] {
  return [(x >>> 24) & 0xff, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff];
}

export function mac(s: string): number[] {
  return s.split(':').map((h) => parseInt(h, 16));
}
export function ip4(s: string): number[] {
  return s.split('.').map(Number);
}
/** full or '::'-compressed IPv6 text → 16 bytes (test helper, no validation) */
export function ip6(s: string): number[] {
  const [l, r] = s.includes('::') ? s.split('::') : [s, undefined];
  const lg = l ? l.split(':') : [];
  const rg = r !== undefined && r !== '' ? r.split(':') : [];
  const groups = [...lg, ...Array(8 - lg.length - rg.length).fill('0'), ...rg];
  return groups.flatMap((g) => be16(parseInt(g, 16)));
}

export function eth(dst: string, src: string, etherType: number, payload: Uint8Array): Uint8Array {
  return concat(bytes(...mac(dst), ...mac(src), ...be16(etherType)), payload);
}

/** one 802.1Q-style tag: TPID is written by the caller's etherType; this is TCI + next type */
export function vlanTag(vid: number, next: number, pcp = 0, dei = false): Uint8Array {
  return bytes(...be16((pcp << 13) | (dei ? 0x1000 : 0) | vid), ...be16(next));
}

export function checksum(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

export interface Ip4Opts {
  src: string;
  dst: string;
  proto: number;
  id?: number;
  df?: boolean;
  mf?: boolean;
  /** in bytes, multiple of 8 */
  fragOffset?: number;
  ttl?: number;
  tos?: number;
  options?: number[];
  /** override the total length field */
  totalLength?: number;
}

export function ipv4(o: Ip4Opts, payload: Uint8Array): Uint8Array {
  const opt = o.options ?? [];
  const hl = 20 + opt.length;
  if (hl % 4) throw new Error('ipv4 options must pad to 4 bytes');
  const ff = (o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | ((o.fragOffset ?? 0) / 8);
  const h = bytes(
    0x40 | (hl / 4), o.tos ?? 0, ...be16(o.totalLength ?? hl + payload.length),
    ...be16(o.id ?? 1), ...be16(ff),
    o.ttl ?? 64, o.proto, 0, 0,
    ...ip4(o.src), ...ip4(o.dst), ...opt,
  );
  const c = checksum(h);
  h[10] = c >> 8;
  h[11] = c & 0xff;
  return concat(h, payload);
}

export function ipv6(o: { src: string; dst: string; nextHeader: number; hopLimit?: number; flowLabel?: number; tc?: number }, payload: Uint8Array): Uint8Array {
  const w = (6 << 28) | ((o.tc ?? 0) << 20) | (o.flowLabel ?? 0);
  return concat(
    bytes(...be32(w >>> 0), ...be16(payload.length), o.nextHeader, o.hopLimit ?? 64, ...ip6(o.src), ...ip6(o.dst)),
    payload,
  );
}

/** generic IPv6 extension header (hop-by-hop, routing, destination): padded to a multiple of 8 */
export function ext6(next: number, body: number[]): Uint8Array {
  const len = 2 + body.length;
  const padded = Math.ceil(len / 8) * 8;
  const b = new Uint8Array(padded);
  b[0] = next;
  b[1] = padded / 8 - 1;
  b.set(body, 2);
  return b;
}

export function frag6(next: number, offset: number, mf: boolean, id: number): Uint8Array {
  return bytes(next, 0, ...be16(offset | (mf ? 1 : 0)), ...be32(id));
}

export function udp(src: number, dst: number, payload: Uint8Array, lengthOverride?: number): Uint8Array {
  return concat(bytes(...be16(src), ...be16(dst), ...be16(lengthOverride ?? 8 + payload.length), 0, 0), payload);
}

export function vxlanHdr(o: { vni: number; flags?: number; reserved1?: number; reserved2?: number }): Uint8Array {
  const r1 = o.reserved1 ?? 0;
  return bytes(o.flags ?? 0x08, (r1 >> 16) & 0xff, (r1 >> 8) & 0xff, r1 & 0xff,
    (o.vni >> 16) & 0xff, (o.vni >> 8) & 0xff, o.vni & 0xff, o.reserved2 ?? 0);
}

export function icmpEcho(type: 0 | 8, id: number, seq: number, data: Uint8Array = new Uint8Array(16)): Uint8Array {
  const b = concat(bytes(type, 0, 0, 0, ...be16(id), ...be16(seq)), data);
  const c = checksum(b);
  b[2] = c >> 8;
  b[3] = c & 0xff;
  return b;
}

export function icmpFragNeeded(mtu: number, quoted: Uint8Array): Uint8Array {
  return concat(bytes(3, 4, 0, 0, 0, 0, ...be16(mtu)), quoted);
}

export function icmp6(type: number, code: number, rest: number[], quoted: Uint8Array = new Uint8Array(0)): Uint8Array {
  return concat(bytes(type, code, 0, 0, ...rest), quoted);
}

export function tcp(o: { src: number; dst: number; seq: number; ack?: number; flags: number; window?: number }, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  return concat(
    bytes(...be16(o.src), ...be16(o.dst), ...be32(o.seq), ...be32(o.ack ?? 0), 5 << 4, o.flags, ...be16(o.window ?? 65535), 0, 0, 0, 0),
    payload,
  );
}

export function arpPkt(op: number, senderMac: string, senderIp: string, targetMac: string, targetIp: string): Uint8Array {
  return bytes(0, 1, 8, 0, 6, 4, ...be16(op), ...mac(senderMac), ...ip4(senderIp), ...mac(targetMac), ...ip4(targetIp));
}

/** deterministic PRNG for garbage tests */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
