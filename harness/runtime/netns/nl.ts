// Pure pieces of the in-process path (harness/runtime/netns/inns.ts): iproute2 lines of the forms vxlab's plan and
// steps write — `bridge fdb add|replace|del`, `ip neigh add|replace|del`, `ip route add|replace|del` — as the
// rtnetlink requests ip(8) and bridge(8) send for them, byte for byte (iproute2 6.1, captured with strace; see
// test/unit/netlink-fdb.test.ts), and the acks read back; sysctl keys as /proc/sys paths, as sysctl(8) maps them.
// No I/O here.
//
// Stable API (shared with the link/address code of #16):
//   parseIpLine / parseBridgeLine   a plan line → NlEntry, or undefined for any form not modelled (left to iproute2)
//   nlMessage(entry, ifindex, seq)  the request (neighMessage / fdbMessage / routeMessage for one kind)
//   entryLine(entry)                the entry as the iproute2 line (for messages; parse ∘ entryLine is the identity)
//   requestName(entry)              RTM_NEWROUTE, RTM_DELNEIGH, …
//   parseAcks, errnoName            reading the answers
import { isIP } from 'node:net';

import {
  AF_BRIDGE, AF_INET, AF_INET6, attr, NDA_DST, NDA_LLADDR, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, NLMSG_ERROR, nlHeader, NTF_SELF, NUD_NOARP, NUD_PERMANENT,
  RT_SCOPE_HOST, RT_SCOPE_LINK, RT_SCOPE_NOWHERE, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN, RTA_DST, RTA_GATEWAY, RTA_METRICS, RTA_OIF, RTAX_MTU, RTM_DELNEIGH, RTM_DELROUTE, RTM_NEWNEIGH, RTM_NEWROUTE,
  RTN_BLACKHOLE, RTN_UNICAST, RTN_UNSPEC, RTNH_F_ONLINK, RTPROT_BOOT,
} from './nl-const.ts';

// the shared numbers and attr(), still exported from here (harness/runtime/netns/nl-const.ts)
export {
  AF_BRIDGE, AF_INET, AF_INET6, attr, NDA_DST, NDA_LLADDR, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, NLMSG_ERROR, NTF_SELF, NUD_NOARP, NUD_PERMANENT,
  RT_SCOPE_HOST, RT_SCOPE_LINK, RT_SCOPE_NOWHERE, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN, RTA_DST, RTA_GATEWAY, RTA_METRICS, RTA_OIF, RTAX_MTU, RTM_DELNEIGH, RTM_DELROUTE, RTM_NEWNEIGH, RTM_NEWROUTE,
  RTN_BLACKHOLE, RTN_UNICAST, RTN_UNSPEC, RTNH_F_ONLINK, RTPROT_BOOT,
} from './nl-const.ts';

/** add: create, fail if it exists (NLM_F_EXCL); replace: create or replace (NLM_F_REPLACE, as flannel and felix write); del */
export type NlOp = 'add' | 'replace' | 'del';

/** `ip neigh add|replace IP lladdr MAC dev DEV nud permanent`, `ip neigh del IP dev DEV` */
export interface NeighEntry {
  kind: 'neigh';
  op: NlOp;
  ip: string;
  /** add/replace only */
  mac?: string;
  dev: string;
}

/** `bridge fdb add|replace MAC dev DEV dst IP self permanent`, `bridge fdb del MAC dev DEV dst IP self` */
export interface FdbEntry {
  kind: 'fdb';
  op: NlOp;
  mac: string;
  dev: string;
  dst: string;
}

/** `ip route add|replace|del [blackhole] DST [via GW] [dev DEV] [onlink] [proto N] [scope S] [mtu N]` (table main) */
export interface RouteEntry {
  kind: 'route';
  op: NlOp;
  /** 'blackhole' or a unicast route (default) */
  type?: 'blackhole';
  /** a prefix `a.b.c.d/len`, `x::/len`, or 'default' */
  dst: string;
  via?: string;
  dev?: string;
  onlink?: boolean;
  /** rtm_protocol; iproute2's default is 3 (boot) for add/replace, unset (any) for del */
  proto?: number;
  scope?: 'global' | 'link' | 'host';
  /** RTA_METRICS / RTAX_MTU (felix's per-route mtu) */
  mtu?: number;
}

export type NlEntry = NeighEntry | FdbEntry | RouteEntry;

/** the `bridge fdb add … self permanent` entry of the first in-process path (kept: FdbEntry with op 'add') */
export interface FdbAdd {
  mac: string;
  dev: string;
  dst: string;
}

const MAC = '[0-9a-f]{2}(?::[0-9a-f]{2}){5}';
const DEV = '[A-Za-z0-9_.@:-]{1,15}';
const FDB_RE = new RegExp(`^fdb (add|replace|del) (${MAC}) dev (${DEV}) dst (\\S+) self( permanent)?$`);
const NEIGH_SET_RE = new RegExp(`^neigh (add|replace) (\\S+) lladdr (${MAC}) dev (${DEV}) nud permanent$`);
const NEIGH_DEL_RE = new RegExp(`^neigh del (\\S+) dev (${DEV})$`);
const DEV_RE = new RegExp(`^${DEV}$`);

/** an address ipBytes can encode: dotted IPv4, or IPv6 without an embedded IPv4 tail or zone */
function plainIp(ip: string): 0 | 4 | 6 {
  const v = isIP(ip);
  if (v === 6 && (ip.includes('.') || ip.includes('%'))) return 0;
  return v as 0 | 4 | 6;
}

/** A plan line `fdb add MAC dev DEV dst IP self permanent`, or undefined for any other form (left to bridge(8)). */
export function parseFdbAdd(line: string): FdbAdd | undefined {
  const e = parseBridgeLine(line);
  return e && e.op === 'add' ? { mac: e.mac, dev: e.dev, dst: e.dst } : undefined;
}

/** A `bridge` batch line of the forms modelled here (add/replace need `self permanent`, del `self`), else undefined. */
export function parseBridgeLine(line: string): FdbEntry | undefined {
  const m = FDB_RE.exec(line);
  if (!m || !plainIp(m[4]!)) return undefined;
  const op = m[1] as NlOp;
  if ((op === 'del') === !!m[5]) return undefined;
  return { kind: 'fdb', op, mac: m[2]!, dev: m[3]!, dst: m[4]! };
}

/** An `ip` batch line of the neighbour and route forms modelled here, else undefined (left to ip(8)). */
export function parseIpLine(line: string): NeighEntry | RouteEntry | undefined {
  let m = NEIGH_SET_RE.exec(line);
  if (m) return plainIp(m[2]!) ? { kind: 'neigh', op: m[1] as NlOp, ip: m[2]!, mac: m[3]!, dev: m[4]! } : undefined;
  m = NEIGH_DEL_RE.exec(line);
  if (m) return plainIp(m[1]!) ? { kind: 'neigh', op: 'del', ip: m[1]!, dev: m[2]! } : undefined;
  return parseRouteLine(line);
}

function parsePrefix(s: string): { family: 4 | 6; len: number; addr: string } | undefined {
  const [addr, len, extra] = s.split('/');
  if (extra !== undefined || !addr) return undefined;
  const family = plainIp(addr);
  if (!family) return undefined;
  const max = family === 4 ? 32 : 128;
  if (len === undefined) return { family, len: max, addr };
  if (!/^\d{1,3}$/.test(len) || Number(len) > max) return undefined;
  return { family, len: Number(len), addr };
}

function parseRouteLine(line: string): RouteEntry | undefined {
  const w = line.split(' ');
  if (w[0] !== 'route' || !['add', 'replace', 'del'].includes(w[1]!)) return undefined;
  const e: RouteEntry = { kind: 'route', op: w[1] as NlOp, dst: '' };
  let i = 2;
  if (w[i] === 'blackhole') {
    e.type = 'blackhole';
    i++;
  }
  const dst = w[i++];
  if (!dst) return undefined;
  if (dst !== 'default' && !parsePrefix(dst)) return undefined;
  e.dst = dst;
  const seen = new Set<string>();
  while (i < w.length) {
    const k = w[i++]!;
    if (seen.has(k)) return undefined;
    seen.add(k);
    if (k === 'onlink') {
      e.onlink = true;
      continue;
    }
    const v = w[i++];
    if (v === undefined) return undefined;
    if (k === 'via' && plainIp(v)) e.via = v;
    else if (k === 'dev' && DEV_RE.test(v)) e.dev = v;
    else if (k === 'proto' && /^\d{1,3}$/.test(v) && Number(v) < 256) e.proto = Number(v);
    else if (k === 'scope' && (v === 'global' || v === 'link' || v === 'host')) e.scope = v;
    else if (k === 'mtu' && /^\d{1,6}$/.test(v) && Number(v) > 0) e.mtu = Number(v);
    else return undefined;
  }
  const fam = routeFamily(e);
  if (e.via && plainIp(e.via) !== fam) return undefined;
  // blackhole routes have no next hop
  if (e.type === 'blackhole' && (e.via || e.dev || e.onlink)) return undefined;
  return e;
}

function routeFamily(e: RouteEntry): 4 | 6 {
  if (e.dst !== 'default') return parsePrefix(e.dst)!.family;
  return e.via && plainIp(e.via) === 6 ? 6 : 4;
}

/** The entry as the iproute2 batch line it stands for (`ip`/`bridge` without the program name). */
export function entryLine(e: NlEntry): string {
  switch (e.kind) {
    case 'fdb':
      return `fdb ${e.op} ${e.mac} dev ${e.dev} dst ${e.dst} self${e.op === 'del' ? '' : ' permanent'}`;
    case 'neigh':
      return e.op === 'del' ? `neigh del ${e.ip} dev ${e.dev}` : `neigh ${e.op} ${e.ip} lladdr ${e.mac} dev ${e.dev} nud permanent`;
    case 'route': {
      const w = ['route', e.op];
      if (e.type) w.push(e.type);
      w.push(e.dst);
      if (e.via) w.push('via', e.via);
      if (e.dev) w.push('dev', e.dev);
      if (e.onlink) w.push('onlink');
      if (e.proto !== undefined) w.push('proto', String(e.proto));
      if (e.scope) w.push('scope', e.scope);
      if (e.mtu !== undefined) w.push('mtu', String(e.mtu));
      return w.join(' ');
    }
  }
}

/** The device whose ifindex the request carries (none: a blackhole route, or a route without `dev`). */
export function entryDev(e: NlEntry): string | undefined {
  return e.dev;
}

export function requestName(e: NlEntry): string {
  if (e.kind === 'route') return e.op === 'del' ? 'RTM_DELROUTE' : 'RTM_NEWROUTE';
  return e.op === 'del' ? 'RTM_DELNEIGH' : 'RTM_NEWNEIGH';
}

export function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  // IPv6: expand '::'
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

const macBytes = (mac: string) => Buffer.from(mac.split(':').map((x) => parseInt(x, 16)));

const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return b;
};

/** nlmsghdr + body; flags by op as ip(8) sets them: add CREATE|EXCL, replace CREATE|REPLACE, del none */
export function nlmsg(type: number, op: NlOp, seq: number, body: Buffer): Buffer {
  return nlHeader(type, NLM_F_REQUEST | NLM_F_ACK | (op === 'add' ? NLM_F_CREATE | NLM_F_EXCL : op === 'replace' ? NLM_F_CREATE | NLM_F_REPLACE : 0), seq, body);
}

function ndmsg(family: number, ifindex: number, state: number, flags: number): Buffer {
  const ndm = Buffer.alloc(12);
  ndm.writeUInt8(family, 0);
  ndm.writeInt32LE(ifindex, 4);
  ndm.writeUInt16LE(state, 8);
  ndm.writeUInt8(flags, 10);
  return ndm;
}

/**
 * `ip neigh add|replace|del`: RTM_NEWNEIGH/RTM_DELNEIGH, family AF_INET/AF_INET6, state NUD_PERMANENT (ip sets it
 * for del too), NDA_DST then NDA_LLADDR.
 */
export function neighMessage(e: NeighEntry, ifindex: number, seq: number): Buffer {
  const fam = plainIp(e.ip) === 6 ? AF_INET6 : AF_INET;
  const attrs: Buffer[] = [attr(NDA_DST, ipBytes(e.ip))];
  if (e.op !== 'del') attrs.push(attr(NDA_LLADDR, macBytes(e.mac!)));
  return nlmsg(e.op === 'del' ? RTM_DELNEIGH : RTM_NEWNEIGH, e.op, seq, Buffer.concat([ndmsg(fam, ifindex, NUD_PERMANENT, 0), ...attrs]));
}

/**
 * `bridge fdb add|replace|del MAC dev DEV dst IP self [permanent]` as iproute2's fdb_modify builds it: family
 * PF_BRIDGE, state NUD_NOARP|NUD_PERMANENT (also on del), flags NTF_SELF, NDA_LLADDR then NDA_DST.
 */
export function fdbMessage(e: FdbEntry, ifindex: number, seq: number): Buffer {
  const body = Buffer.concat([ndmsg(AF_BRIDGE, ifindex, NUD_NOARP | NUD_PERMANENT, NTF_SELF), attr(NDA_LLADDR, macBytes(e.mac)), attr(NDA_DST, ipBytes(e.dst))]);
  return nlmsg(e.op === 'del' ? RTM_DELNEIGH : RTM_NEWNEIGH, e.op, seq, body);
}

/** The first in-process path's name for fdbMessage of an `add`. */
export function fdbAddMessage(e: FdbAdd, ifindex: number, seq: number): Buffer {
  return fdbMessage({ kind: 'fdb', op: 'add', ...e }, ifindex, seq);
}

/**
 * `ip route add|replace|del …` as iproute_modify builds it (table main): add/replace get protocol boot (3) unless
 * `proto`, type unicast or blackhole, scope link for an IPv4 unicast route without a gateway, else universe; del
 * leaves protocol and type unset (the kernel matches any) and asks scope NOWHERE (IPv4) / universe (IPv6), so a del
 * matches what ip's would. Attributes: RTA_DST (none for default), RTA_GATEWAY, RTA_OIF, RTA_METRICS{RTAX_MTU}.
 * `ifindex` is the ifindex of `dev` (ignored without one).
 */
export function routeMessage(e: RouteEntry, ifindex: number | undefined, seq: number): Buffer {
  const fam = routeFamily(e);
  const del = e.op === 'del';
  const p = e.dst === 'default' ? undefined : parsePrefix(e.dst)!;
  const scope = e.scope === 'link' ? RT_SCOPE_LINK : e.scope === 'host' ? RT_SCOPE_HOST : e.scope === 'global' ? RT_SCOPE_UNIVERSE
    : fam === 6 ? RT_SCOPE_UNIVERSE
    : del ? RT_SCOPE_NOWHERE
    : !e.type && !e.via ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  const rtm = Buffer.alloc(12);
  rtm.writeUInt8(fam === 6 ? AF_INET6 : AF_INET, 0);
  rtm.writeUInt8(p?.len ?? 0, 1);
  rtm.writeUInt8(RT_TABLE_MAIN, 4);
  rtm.writeUInt8(e.proto ?? (del ? 0 : RTPROT_BOOT), 5);
  rtm.writeUInt8(scope, 6);
  rtm.writeUInt8(e.type === 'blackhole' ? RTN_BLACKHOLE : del ? RTN_UNSPEC : RTN_UNICAST, 7);
  rtm.writeUInt32LE(e.onlink ? RTNH_F_ONLINK : 0, 8);
  const attrs: Buffer[] = [rtm];
  if (p) attrs.push(attr(RTA_DST, ipBytes(p.addr)));
  if (e.via) attrs.push(attr(RTA_GATEWAY, ipBytes(e.via)));
  if (e.dev && ifindex !== undefined) attrs.push(attr(RTA_OIF, u32(ifindex)));
  if (e.mtu !== undefined) attrs.push(attr(RTA_METRICS, attr(RTAX_MTU, u32(e.mtu))));
  return nlmsg(del ? RTM_DELROUTE : RTM_NEWROUTE, e.op, seq, Buffer.concat(attrs));
}

/** The request for any entry; `ifindex` is that of entryDev(e) (undefined when it has none). */
export function nlMessage(e: NlEntry, ifindex: number | undefined, seq: number): Buffer {
  switch (e.kind) {
    case 'neigh':
      return neighMessage(e, ifindex!, seq);
    case 'fdb':
      return fdbMessage(e, ifindex!, seq);
    case 'route':
      return routeMessage(e, ifindex, seq);
  }
}

/** The acks (NLMSG_ERROR) in a buffer read from the socket: sequence number and errno (0 = success). */
export function parseAcks(buf: Buffer, n: number): { seq: number; errno: number }[] {
  const out: { seq: number; errno: number }[] = [];
  let off = 0;
  while (off + 16 <= n) {
    const len = buf.readUInt32LE(off);
    if (len < 16 || off + len > n) break;
    const type = buf.readUInt16LE(off + 4);
    if (type === NLMSG_ERROR && len >= 20) out.push({ seq: buf.readUInt32LE(off + 8), errno: Math.abs(buf.readInt32LE(off + 16)) });
    off += (len + 3) & ~3;
  }
  return out;
}

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 5: 'EIO', 6: 'ENXIO', 7: 'E2BIG', 9: 'EBADF', 11: 'EAGAIN', 12: 'ENOMEM',
  13: 'EACCES', 14: 'EFAULT', 16: 'EBUSY', 17: 'EEXIST', 19: 'ENODEV', 22: 'EINVAL', 23: 'ENFILE', 24: 'EMFILE',
  28: 'ENOSPC', 34: 'ERANGE', 38: 'ENOSYS', 61: 'ENODATA', 67: 'ENOLINK', 71: 'EPROTO', 75: 'EOVERFLOW', 90: 'EMSGSIZE',
  93: 'EPROTONOSUPPORT', 95: 'EOPNOTSUPP', 97: 'EAFNOSUPPORT', 98: 'EADDRINUSE', 99: 'EADDRNOTAVAIL', 100: 'ENETDOWN',
  101: 'ENETUNREACH', 105: 'ENOBUFS', 107: 'ENOTCONN', 110: 'ETIMEDOUT', 113: 'EHOSTUNREACH',
};

/** EEXIST for 17, … ("errno 200" for one not in the table) */
export function errnoName(n: number): string {
  return ERRNO_NAMES[n] ?? `errno ${n}`;
}

/** sysctl(8)'s key → /proc/sys path: dots separate; a '/' inside a part is a '.' of the name (net.ipv6.conf.flannel/1.accept_ra). */
export function sysctlPath(key: string): string {
  const parts = key.split('.').map((p) => p.replace(/\//g, '.'));
  if (!/^net\.[A-Za-z0-9_./-]+$/.test(key) || parts.some((p) => !p || p === '.' || p === '..')) throw new Error(`not a network sysctl key: ${key}`);
  return '/proc/sys/' + parts.join('/');
}
