// IP arithmetic for the planner (IPv4 with numbers, IPv6 with bigints; Cidr covers both). Pure.
import { isIPv6 as nodeIsIPv6 } from 'node:net';

export interface Cidr4 {
  family: 4;
  /** network address as uint32 */
  net: number;
  prefix: number;
  text: string;
}

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function isIPv4(s: string): boolean {
  const m = IPV4_RE.exec(s);
  return !!m && m.slice(1).every((o) => Number(o) <= 255 && String(Number(o)) === o);
}

export function ipToInt(s: string): number {
  if (!isIPv4(s)) throw new Error(`not an IPv4 address: ${s}`);
  return s.split('.').reduce((a, o) => a * 256 + Number(o), 0) >>> 0;
}

export function intToIp(n: number): string {
  n >>>= 0;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parse `a.b.c.d/n`. With strict, host bits must be zero. */
export function parseCidr(s: string, strict = true): Cidr4 {
  const [addr, p, ...rest] = s.split('/');
  if (rest.length || p === undefined || !/^\d{1,2}$/.test(p) || Number(p) > 32 || !isIPv4(addr ?? '')) {
    throw new Error(`not an IPv4 CIDR (a.b.c.d/n): ${s}`);
  }
  const prefix = Number(p);
  const ip = ipToInt(addr!);
  const net = (ip & maskOf(prefix)) >>> 0;
  if (strict && net !== ip) throw new Error(`host bits set in ${s} (network is ${intToIp(net)}/${prefix})`);
  return { family: 4, net, prefix, text: `${intToIp(net)}/${prefix}` };
}

export function size(c: Cidr4): number {
  return 2 ** (32 - c.prefix);
}

export function contains(c: Cidr4, ip: number): boolean {
  return ((ip & maskOf(c.prefix)) >>> 0) === c.net;
}

export function overlaps(a: Cidr4, b: Cidr4): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.net & maskOf(p)) >>> 0) === ((b.net & maskOf(p)) >>> 0);
}

/** the i-th subnet of size `prefix` inside `c` */
export function nthSubnet(c: Cidr4, prefix: number, i: number): Cidr4 {
  const net = (c.net + i * 2 ** (32 - prefix)) >>> 0;
  return { family: 4, net, prefix, text: `${intToIp(net)}/${prefix}` };
}

/** host address at offset i (0 = network address) */
export function host(c: Cidr4, i: number): string {
  return intToIp((c.net + i) >>> 0);
}

export const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

// ---- IPv6, and both families behind one Cidr type (bigint arithmetic)
export type Family = 4 | 6;

export interface Cidr6 {
  family: 6;
  /** network address as a 128-bit bigint */
  net: bigint;
  prefix: number;
  text: string;
}

export type Cidr = Cidr4 | Cidr6;

/** An IPv6 address in text form (no zone id, no embedded IPv4 tail: vxlab never writes one). */
export function isIPv6(s: string): boolean {
  return typeof s === 'string' && !s.includes('%') && !s.includes('.') && nodeIsIPv6(s);
}

/** 4, 6, or 0 when `s` is neither. */
export function familyOfIp(s: string): Family | 0 {
  return isIPv4(s) ? 4 : isIPv6(s) ? 6 : 0;
}

/** The family of a CIDR's address part (or 0), without validating the prefix. */
export function familyOfCidr(s: string): Family | 0 {
  return familyOfIp(String(s).split('/')[0] ?? '');
}

/**
 * Parse an IPv6 address (RFC 4291 text: `::` and a trailing dotted quad included) into 16 bytes; throws
 * `bad IPv6: <s>` if invalid. The one IPv6 parser: the planner (via ip6ToBigInt), the CNI result checks and the
 * userspace VTEP's data path all use it.
 */
export function parseIp6(s: string): Uint8Array {
  const bad = () => new Error(`bad IPv6: ${s}`);
  if (typeof s !== 'string' || !/^[0-9a-fA-F:.]+$/.test(s)) throw bad();
  let text = s;
  const lastColon = text.lastIndexOf(':');
  if (lastColon < 0) throw bad();
  if (text.includes('.', lastColon)) {
    // trailing dotted quad (::ffff:192.0.2.1): rewrite as two hex groups
    const quad = text.slice(lastColon + 1);
    if (!isIPv4(quad)) throw bad();
    const v4 = ipToInt(quad);
    text = `${text.slice(0, lastColon + 1)}${((v4 >>> 16) & 0xffff).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) throw bad();
  const groups = (h: string) => (h === '' ? [] : h.split(':').map((g) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw bad();
    return parseInt(g, 16);
  }));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  let words: number[];
  if (halves.length === 2) {
    if (head.length + rest.length > 7) throw bad();
    words = [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  } else {
    if (head.length !== 8) throw bad();
    words = head;
  }
  const b = new Uint8Array(16);
  words.forEach((w, i) => {
    b[2 * i] = w >>> 8;
    b[2 * i + 1] = w & 0xff;
  });
  return b;
}

/** 16 bytes (network order) as a 128-bit bigint. */
export function ip6BytesToBigInt(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = 0; i < 16; i++) n = (n << 8n) + BigInt(b[i]!);
  return n;
}

/** A planner address (no zone id, no dotted-quad tail: see isIPv6) as a 128-bit bigint. */
export function ip6ToBigInt(s: string): bigint {
  if (!isIPv6(s)) throw new Error(`not an IPv6 address: ${s}`);
  return ip6BytesToBigInt(parseIp6(s));
}

/** RFC 5952 text (the capture decoder's formatter: lowercase, no leading zeros, the longest run of >= 2 zero groups as `::`). */
export function bigIntToIp6(n: bigint): string {
  const b = new Uint8Array(16);
  for (let i = 0; i < 16; i++) b[i] = Number((n >> BigInt((15 - i) * 8)) & 0xffn);
  return formatIp6(b);
}

const MASK128 = (1n << 128n) - 1n;
function mask6(prefix: number): bigint {
  return prefix === 0 ? 0n : (MASK128 << BigInt(128 - prefix)) & MASK128;
}

/** Parse `x:y::/n`. With strict, host bits must be zero. */
export function parseCidr6(s: string, strict = true): Cidr6 {
  const [addr, p, ...rest] = String(s).split('/');
  if (rest.length || p === undefined || !/^\d{1,3}$/.test(p) || Number(p) > 128 || !isIPv6(addr ?? '')) {
    throw new Error(`not an IPv6 CIDR (like fd00::/64): ${s}`);
  }
  const prefix = Number(p);
  const ip = ip6ToBigInt(addr!);
  const net = ip & mask6(prefix);
  if (strict && net !== ip) throw new Error(`host bits set in ${s} (network is ${bigIntToIp6(net)}/${prefix})`);
  return { family: 6, net, prefix, text: `${bigIntToIp6(net)}/${prefix}` };
}

/** Parse a CIDR of either family. */
export function parseAnyCidr(s: string, strict = true): Cidr {
  const f = familyOfCidr(s);
  if (f === 6) return parseCidr6(s, strict);
  if (f === 4) return parseCidr(s, strict);
  throw new Error(`not a CIDR (a.b.c.d/n or x:y::/n): ${s}`);
}

export function bits(f: Family): number {
  return f === 4 ? 32 : 128;
}

/** Number of addresses in `c`, as a bigint (IPv6 subnets do not fit a number). */
export function sizeN(c: Cidr): bigint {
  return 1n << BigInt(bits(c.family) - c.prefix);
}

function netN(c: Cidr): bigint {
  return c.family === 4 ? BigInt(c.net) : c.net;
}

function ipN(f: Family, ip: string): bigint {
  return f === 4 ? BigInt(ipToInt(ip)) : ip6ToBigInt(ip);
}

function fmtN(f: Family, n: bigint): string {
  return f === 4 ? intToIp(Number(n)) : bigIntToIp6(n);
}

/** Offset of `ip` inside `c` (bigint), or undefined when it is of another family or outside. */
export function offsetIn(c: Cidr, ip: string): bigint | undefined {
  if (familyOfIp(ip) !== c.family) return undefined;
  const off = ipN(c.family, ip) - netN(c);
  return off >= 0n && off < sizeN(c) ? off : undefined;
}

export function containsIp(c: Cidr, ip: string): boolean {
  return offsetIn(c, ip) !== undefined;
}

export function overlapsAny(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const p = BigInt(bits(a.family) - Math.min(a.prefix, b.prefix));
  return netN(a) >> p === netN(b) >> p;
}

/** the i-th subnet of size `prefix` inside `c` (either family) */
export function nthSubnetAny(c: Cidr, prefix: number, i: number | bigint): Cidr {
  const net = netN(c) + BigInt(i) * (1n << BigInt(bits(c.family) - prefix));
  const text = `${fmtN(c.family, net)}/${prefix}`;
  return c.family === 4 ? { family: 4, net: Number(net), prefix, text } : { family: 6, net, prefix, text };
}

/** host address at offset i (0 = network address), either family */
export function hostAny(c: Cidr, i: number | bigint): string {
  return fmtN(c.family, netN(c) + BigInt(i));
}

/** Canonical text of an address of either family (IPv6: RFC 5952), or the input when it is neither. */
export function canonicalIp(ip: string): string {
  return isIPv6(ip) ? bigIntToIp6(ip6ToBigInt(ip)) : ip;
}

/** Host prefix length of a family: 32 or 128. */
export function hostPrefix(f: Family): number {
  return bits(f);
}

// ---- address text from bytes (the capture decoder and the userspace VTEP print with these)

export function formatIp4(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/**
 * RFC 5952 compressed form as glibc's inet_ntop(3) writes it (so ip(8) and tcpdump): lowercase, the longest run of
 * two or more zero groups as '::' (the leftmost on a tie), IPv4-mapped ::ffff:a.b.c.d and IPv4-compatible ::a.b.c.d
 * tails dotted (test/unit/ip6-format.test.ts).
 */
export function formatIp6(b: Uint8Array, off = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[off + 2 * i]! << 8) | b[off + 2 * i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  // IPv4-mapped ::ffff:a.b.c.d, and IPv4-compatible ::a.b.c.d (six zero groups, then a non-zero one: glibc's rule)
  if (bestStart === 0 && bestLen === 5 && g[5] === 0xffff) {
    return `::ffff:${formatIp4(b, off + 12)}`;
  }
  if (bestStart === 0 && bestLen === 6) return `::${formatIp4(b, off + 12)}`;
  const hex = (x: number) => x.toString(16);
  if (bestLen < 2) return g.map(hex).join(':');
  const left = g.slice(0, bestStart).map(hex).join(':');
  const right = g.slice(bestStart + bestLen).map(hex).join(':');
  return `${left}::${right}`;
}
