// Underlay addresses of the userspace VTEP, IPv4 or IPv6, as numbers the data path can key maps with.
//
// One VTEP speaks one underlay family (that of its `local` address). IPv4 addresses are their uint32 value, as
// before. IPv6 addresses (128 bits do not fit a JS number) are interned: each distinct address gets a small id,
// local to the table (each thread keeps its own; FDB updates between threads carry the address as a string).
import { intToIpv4, ipv4ToInt } from './codec.ts';
import { AF_INET, AF_INET6, pinned } from './ffi.ts';
// RFC 5952 text of 16 bytes and the one IPv6 parser: those the capture decoder, the planner and the suites use, so all
// read and print addresses alike
import { formatIp6 as formatIpv6, parseIp6 as parseIpv6 } from '../topology/ip.ts';

export { formatIpv6, parseIpv6 };

export type Family = 4 | 6;

/** Per-family byte overheads of VXLAN on the underlay. */
export const OUTER_IP_HLEN: Record<Family, number> = { 4: 20, 6: 40 };
/** outer IP + UDP (8) + VXLAN (8): what the underlay carries in front of the inner Ethernet frame */
export const outerOverhead = (f: Family) => OUTER_IP_HLEN[f] + 16;
/** the MTU rule: TAP MTU = underlay MTU − this (50 over IPv4, 70 over IPv6) */
export const mtuOverhead = (f: Family) => outerOverhead(f) + 14;

export function familyOf(ip: string): Family {
  return ip.includes(':') ? 6 : 4;
}

/** Canonical text of an address of either family (throws if invalid). */
export function canonicalIp(s: string): string {
  return familyOf(s) === 6 ? formatIpv6(parseIpv6(s)) : intToIpv4(ipv4ToInt(s));
}

export class AddrTable {
  /** sockaddr_in (16) or sockaddr_in6 (28) */
  readonly saLen: number;
  private readonly ids = new Map<string, number>();
  private readonly texts: string[] = [''];
  private readonly bytes: Uint8Array[] = [new Uint8Array(16)];
  // the last address seen by fromSockaddr: a run of datagrams from one peer costs a 16-byte compare, no allocation
  private lastBytes = new Uint8Array(16);
  private lastId = 0;

  constructor(readonly family: Family) {
    this.saLen = family === 6 ? 28 : 16;
  }

  static forLocal(local: string): AddrTable {
    return new AddrTable(familyOf(local));
  }

  /** The number standing for `ip` (IPv4: its uint32; IPv6: its interned id ≥ 1). Throws on an address of the other family. */
  intern(ip: string): number {
    if (familyOf(ip) !== this.family) throw new Error(`${ip} is not an IPv${this.family} address (this VTEP's underlay is IPv${this.family})`);
    if (this.family === 4) return ipv4ToInt(ip);
    const b = parseIpv6(ip);
    const key = formatIpv6(b);
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.texts.length;
      this.ids.set(key, id);
      this.texts.push(key);
      this.bytes.push(b);
    }
    return id;
  }

  toString(n: number): string {
    return this.family === 4 ? intToIpv4(n) : (this.texts[n] ?? `?${n}`);
  }

  /** A pinned sockaddr for `n`:port (its address never moves: it may be stored in a msghdr). */
  sockaddr(n: number, port: number): Buffer {
    const b = pinned(this.saLen);
    if (this.family === 4) {
      b.writeUInt16LE(AF_INET, 0);
      b.writeUInt16BE(port, 2);
      b.writeUInt32BE(n >>> 0, 4);
    } else {
      b.writeUInt16LE(AF_INET6, 0);
      b.writeUInt16BE(port, 2);
      b.set(this.bytes[n] ?? new Uint8Array(16), 8); // flowinfo 0, scope id 0
    }
    return b;
  }

  /** The number of the source address in a sockaddr filled by recvmsg at buf[off]. */
  fromSockaddr(buf: Buffer, off: number): number {
    if (this.family === 4) return buf.readUInt32BE(off + 4);
    const a = off + 8;
    const last = this.lastBytes;
    let same = this.lastId !== 0;
    for (let i = 0; same && i < 16; i++) if (buf[a + i] !== last[i]) same = false;
    if (same) return this.lastId;
    const id = this.intern(formatIpv6(buf, a));
    last.set(buf.subarray(a, a + 16));
    this.lastId = id;
    return id;
  }
}
