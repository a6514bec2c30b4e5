// Small IP / CIDR helpers for the CNI runtime (syntax checks, normalisation, containment).
import { isIPv4, isIPv6 } from 'node:net';
// the planner's address arithmetic and its one IPv6 parser and RFC 5952 formatter
import { bigIntToIp6, intToIp, ip6BytesToBigInt, ipToInt, parseIp6 } from '../topology/ip.ts';

export type Family = 4 | 6;

export function ipFamily(s: string): Family | 0 {
  if (typeof s !== 'string') return 0;
  if (isIPv4(s)) return 4;
  // zone ids (fe80::1%eth0) are not valid in CNI results
  if (!s.includes('%') && isIPv6(s)) return 6;
  return 0;
}

export interface Cidr {
  ip: string;
  prefix: number;
  family: Family;
}

/** Parse "ip/prefix". Returns a reason string when it is not valid CIDR syntax. */
export function parseCidr(s: unknown): Cidr | string {
  if (typeof s !== 'string') return `must be a string in CIDR notation, got ${describeType(s)}`;
  if (s.trim() !== s || s === '') return `${JSON.stringify(s)} is not in CIDR notation`;
  const parts = s.split('/');
  if (parts.length === 1) {
    return ipFamily(s) ? `${JSON.stringify(s)} is not in CIDR notation (missing "/prefix")` : `${JSON.stringify(s)} is not in CIDR notation`;
  }
  if (parts.length > 2) return `${JSON.stringify(s)} is not in CIDR notation (more than one "/")`;
  const [ip, pfx] = parts as [string, string];
  const family = ipFamily(ip);
  if (!family) return `${JSON.stringify(s)} is not in CIDR notation (${JSON.stringify(ip)} is not an IP address)`;
  if (!/^\d{1,3}$/.test(pfx)) return `${JSON.stringify(s)} is not in CIDR notation (prefix ${JSON.stringify(pfx)} is not a number)`;
  const prefix = Number(pfx);
  const max = family === 4 ? 32 : 128;
  if (prefix > max) return `${JSON.stringify(s)} is not in CIDR notation (prefix /${prefix} is larger than /${max} for IPv${family})`;
  return { ip, prefix, family };
}

export function isCidr(s: unknown): s is string {
  return typeof parseCidr(s) !== 'string';
}

export function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `string ${JSON.stringify(v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

export function ipToBigInt(ip: string): bigint {
  const fam = ipFamily(ip);
  if (fam === 4) return BigInt(ipToInt(ip));
  if (fam === 6) return ip6BytesToBigInt(parseIp6(ip));
  throw new Error(`not an IP address: ${ip}`);
}

export function bigIntToIp(n: bigint, family: Family): string {
  return family === 4 ? intToIp(Number(n & 0xffffffffn)) : bigIntToIp6(n);
}

/** Canonical text for an IP (lower-case, compressed IPv6). */
export function canonicalIp(ip: string): string {
  const fam = ipFamily(ip);
  if (!fam) return ip;
  return bigIntToIp(ipToBigInt(ip), fam);
}

/** Network address form of a CIDR: "10.1.2.3/24" -> "10.1.2.0/24". */
export function cidrNetwork(cidr: string): string {
  const c = parseCidr(cidr);
  if (typeof c === 'string') throw new Error(c);
  const bits = c.family === 4 ? 32 : 128;
  const mask = c.prefix === 0 ? 0n : ((1n << BigInt(c.prefix)) - 1n) << BigInt(bits - c.prefix);
  return `${bigIntToIp(ipToBigInt(c.ip) & mask, c.family)}/${c.prefix}`;
}

export function cidrContains(cidr: string, ip: string): boolean {
  const c = parseCidr(cidr);
  if (typeof c === 'string' || ipFamily(ip) !== c.family) return false;
  const net = cidrNetwork(cidr).split('/')[0]!;
  const bits = c.family === 4 ? 32 : 128;
  const mask = c.prefix === 0 ? 0n : ((1n << BigInt(c.prefix)) - 1n) << BigInt(bits - c.prefix);
  return (ipToBigInt(ip) & mask) === ipToBigInt(net);
}

/** Normalise a route destination as `ip route` prints it ("default", "10.0.0.1") to network CIDR form. */
export function normalizeRouteDst(dst: string, family: Family): string {
  if (dst === 'default') return family === 4 ? '0.0.0.0/0' : '::/0';
  if (!dst.includes('/')) return `${canonicalIp(dst)}/${family === 4 ? 32 : 128}`;
  return cidrNetwork(dst);
}
