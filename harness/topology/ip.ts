// IPv4 arithmetic for the planner. Pure. (IPv6 will get its own sibling; callers go through Cidr.)
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
