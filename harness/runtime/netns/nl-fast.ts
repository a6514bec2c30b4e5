// The hot lines of `up` at scale (#16): a node of an N-node topology gets N−1 of each of
//   neigh add|replace IP lladdr MAC dev DEV nud permanent   (replace: the underlay neighbours of a large segment)
//   route add PREFIX via IP dev DEV [onlink] [proto N] [mtu N]
//   fdb add MAC dev DEV dst IP self permanent
// (3 million lines at 1,000 nodes). nl.ts's builders (parseIpLine/parseBridgeLine + nlMessage) are the reference for
// their bytes; these encoders write the same bytes straight into the batch buffer, without the intermediate objects
// and small Buffers (which made parsing and building cost ~10 µs a line, most of it allocation and GC).
// test/unit/nl-fast.test.ts checks them byte for byte against nl.ts for every form. A line of any other shape
// returns -1 and goes the general way. No I/O here.
import { isIP } from 'node:net';
import { ipBytes } from './nl.ts';
import {
  AF_BRIDGE, AF_INET, AF_INET6, NDA_DST, NDA_LLADDR, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, NTF_SELF, NUD_NOARP, NUD_PERMANENT, RT_TABLE_MAIN, RTA_DST,
  RTA_GATEWAY, RTA_METRICS, RTA_OIF, RTAX_MTU, RTM_NEWNEIGH, RTM_NEWROUTE, RTN_UNICAST, RTNH_F_ONLINK, RTPROT_BOOT,
} from './nl-const.ts';


const MAC_RE = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;
const DEV_RE = /^[A-Za-z0-9_.@:-]{1,15}$/;
const DEC_RE = /^\d{1,5}$/;

/** resolves a device name to its ifindex in the namespace (it may flush the batch first, moving sink.off; it throws when there is no such device) */
export type IfIndex = (dev: string) => number;

/** where the next message goes: the batch buffer and the offset in it (with FAST_MAX bytes free there) */
export interface Sink {
  buf: Buffer;
  off: number;
  /** set by a successful encode: where in the message the device's ifindex (4 bytes, little-endian) was written */
  ixAt?: number;
}

/** 4 or 16 address bytes written at `off`, or 0 when `ip` is not a plain address (then nothing is written) */
function putIp(buf: Buffer, off: number, ip: string): 0 | 4 | 16 {
  const v = isIP(ip);
  if (v === 4) {
    let p = 0;
    let acc = 0;
    let k = off;
    for (let i = 0; i <= ip.length; i++) {
      const ch = i < ip.length ? ip.charCodeAt(i) : 46;
      if (ch === 46) {
        buf[k++] = acc;
        acc = 0;
        p++;
      } else acc = acc * 10 + (ch - 48);
    }
    return p === 4 ? 4 : 0;
  }
  if (v === 6 && !ip.includes('.') && !ip.includes('%')) {
    ipBytes(ip).copy(buf, off);
    return 16;
  }
  return 0;
}

function putMac(buf: Buffer, off: number, mac: string): void {
  for (let i = 0; i < 6; i++) buf[off + i] = parseInt(mac.substr(i * 3, 2), 16);
}

function putAttrHdr(buf: Buffer, off: number, type: number, payload: number): number {
  buf.writeUInt16LE(4 + payload, off);
  buf.writeUInt16LE(type, off + 2);
  return off + 4;
}

const pad4 = (n: number) => (n + 3) & ~3;

function putNlHdr(buf: Buffer, off: number, len: number, type: number, seq: number, replace = false): void {
  buf.writeUInt32LE(len, off);
  buf.writeUInt16LE(type, off + 4);
  buf.writeUInt16LE(NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL), off + 6);
  buf.writeUInt32LE(seq >>> 0, off + 8);
  buf.writeUInt32LE(0, off + 12);
}

/** room a fast-encoded message needs at most */
export const FAST_MAX = 128;

/**
 * `neigh add IP lladdr MAC dev DEV nud permanent` or `route add …` (forms above) at sink.buf[sink.off] (read after
 * the device is resolved); returns the bytes written, or -1 when the line is of another form (nothing written, no
 * device resolved).
 */
export function encodeIpFast(line: string, sink: Sink, seq: number, ifindex: IfIndex): number {
  const c0 = line.charCodeAt(0);
  if (c0 === 110 /* n */) return encodeNeigh(line, sink, seq, ifindex);
  if (c0 === 114 /* r */) return encodeRoute(line, sink, seq, ifindex);
  return -1;
}

function encodeNeigh(line: string, sink: Sink, seq: number, ifindex: IfIndex): number {
  const w = line.split(' ');
  if (w.length !== 9 || w[0] !== 'neigh' || (w[1] !== 'add' && w[1] !== 'replace') || w[3] !== 'lladdr' || w[5] !== 'dev' || w[7] !== 'nud' || w[8] !== 'permanent') return -1;
  if (!MAC_RE.test(w[4]!) || !DEV_RE.test(w[6]!)) return -1;
  const fam = isIP(w[2]!);
  if (!fam || (fam === 6 && (w[2]!.includes('.') || w[2]!.includes('%')))) return -1;
  const ix = ifindex(w[6]!);
  const { buf, off } = sink;
  const alen = fam === 4 ? 4 : 16;
  const len = 16 + 12 + 4 + alen + pad4(4 + 6);
  buf.fill(0, off, off + len);
  putNlHdr(buf, off, len, RTM_NEWNEIGH, seq, w[1] === 'replace');
  let p = off + 16;
  buf[p] = fam === 4 ? AF_INET : AF_INET6;
  buf.writeInt32LE(ix, p + 4);
  sink.ixAt = p + 4 - off;
  buf.writeUInt16LE(NUD_PERMANENT, p + 8);
  p += 12;
  p = putAttrHdr(buf, p, NDA_DST, alen);
  putIp(buf, p, w[2]!);
  p += alen;
  p = putAttrHdr(buf, p, NDA_LLADDR, 6);
  putMac(buf, p, w[4]!);
  return len;
}

function encodeRoute(line: string, sink: Sink, seq: number, ifindex: IfIndex): number {
  const w = line.split(' ');
  if (w.length < 7 || w[0] !== 'route' || w[1] !== 'add' || w[3] !== 'via' || w[5] !== 'dev') return -1;
  let i = 7;
  let onlink = false;
  let proto = RTPROT_BOOT;
  let mtu = -1;
  if (w[i] === 'onlink') {
    onlink = true;
    i++;
  }
  if (w[i] === 'proto') {
    if (!DEC_RE.test(w[i + 1] ?? '') || Number(w[i + 1]) > 255) return -1;
    proto = Number(w[i + 1]);
    i += 2;
  }
  if (w[i] === 'mtu') {
    if (!DEC_RE.test(w[i + 1] ?? '') || Number(w[i + 1]) < 1) return -1;
    mtu = Number(w[i + 1]);
    i += 2;
  }
  if (i !== w.length) return -1;
  const slash = w[2]!.indexOf('/');
  if (slash < 0) return -1;
  const dst = w[2]!.slice(0, slash);
  const lenS = w[2]!.slice(slash + 1);
  const fam = isIP(dst);
  if (!fam || isIP(w[4]!) !== fam || !/^\d{1,3}$/.test(lenS) || Number(lenS) > (fam === 4 ? 32 : 128) || !DEV_RE.test(w[6]!)) return -1;
  if (fam === 6 && (dst.includes('.') || dst.includes('%') || w[4]!.includes('.') || w[4]!.includes('%'))) return -1;
  const ix = ifindex(w[6]!);
  const { buf, off } = sink;
  const alen = fam === 4 ? 4 : 16;
  const len = 16 + 12 + 2 * (4 + alen) + 8 + (mtu >= 0 ? 4 + 8 : 0);
  buf.fill(0, off, off + len);
  putNlHdr(buf, off, len, RTM_NEWROUTE, seq);
  let p = off + 16;
  buf[p] = fam === 4 ? AF_INET : AF_INET6;
  buf[p + 1] = Number(lenS);
  buf[p + 4] = RT_TABLE_MAIN;
  buf[p + 5] = proto;
  buf[p + 6] = 0; // RT_SCOPE_UNIVERSE: a route with a gateway
  buf[p + 7] = RTN_UNICAST;
  buf.writeUInt32LE(onlink ? RTNH_F_ONLINK : 0, p + 8);
  p += 12;
  p = putAttrHdr(buf, p, RTA_DST, alen);
  putIp(buf, p, dst);
  p += alen;
  p = putAttrHdr(buf, p, RTA_GATEWAY, alen);
  putIp(buf, p, w[4]!);
  p += alen;
  p = putAttrHdr(buf, p, RTA_OIF, 4);
  buf.writeUInt32LE(ix, p);
  sink.ixAt = p - off;
  p += 4;
  if (mtu >= 0) {
    p = putAttrHdr(buf, p, RTA_METRICS, 8);
    p = putAttrHdr(buf, p, RTAX_MTU, 4);
    buf.writeUInt32LE(mtu, p);
  }
  return len;
}

/** `fdb add MAC dev DEV dst IP self permanent` (as encodeIpFast); -1 for any other form. */
export function encodeFdbFast(line: string, sink: Sink, seq: number, ifindex: IfIndex): number {
  const w = line.split(' ');
  if (w.length !== 9 || w[0] !== 'fdb' || w[1] !== 'add' || w[3] !== 'dev' || w[5] !== 'dst' || w[7] !== 'self' || w[8] !== 'permanent') return -1;
  if (!MAC_RE.test(w[2]!) || !DEV_RE.test(w[4]!)) return -1;
  const fam = isIP(w[6]!);
  if (!fam || (fam === 6 && (w[6]!.includes('.') || w[6]!.includes('%')))) return -1;
  const ix = ifindex(w[4]!);
  const { buf, off } = sink;
  const alen = fam === 4 ? 4 : 16;
  const len = 16 + 12 + pad4(4 + 6) + 4 + alen;
  buf.fill(0, off, off + len);
  putNlHdr(buf, off, len, RTM_NEWNEIGH, seq);
  let p = off + 16;
  buf[p] = AF_BRIDGE;
  buf.writeInt32LE(ix, p + 4);
  sink.ixAt = p + 4 - off;
  buf.writeUInt16LE(NUD_NOARP | NUD_PERMANENT, p + 8);
  buf[p + 10] = NTF_SELF;
  p += 12;
  p = putAttrHdr(buf, p, NDA_LLADDR, 6);
  putMac(buf, p, w[2]!);
  p += 8;
  p = putAttrHdr(buf, p, NDA_DST, alen);
  putIp(buf, p, w[6]!);
  return len;
}
