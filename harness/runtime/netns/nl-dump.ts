// Pure half of the in-process state reader (#16): the rtnetlink dump requests `ip` and `bridge` send for `ip -d link
// show`, `ip addr show`, `ip route show table all`, `ip neigh show dev DEV`, `bridge fdb show [dev DEV]` and `ip route
// get DST [from SRC] [iif DEV]` (iproute2 6.1, read with strace), and the answers parsed into the JSON objects `ip -d
// -j` / `bridge -j` print for them: the same keys, the same value formats (dst "default" or a prefix, "onlink" in
// flags, ["PERMANENT"] states, vxlan info_data id/port/local/link, metrics [{mtu}], protocol and table names from
// /etc/iproute2 like ip's). Only the keys vxlab's readers use are produced (see the interfaces in
// harness/probe/kernel.ts); test/integration/nl-dump.test.ts holds every one of them to iproute2's output, node by
// node. No I/O here except reading iproute2's name tables once.
import { readdirSync, readFileSync } from 'node:fs';
import { formatIp4, formatIp6 } from '../../topology/ip.ts';

import { AF_BRIDGE, AF_INET, AF_INET6, attr as rawAttr, NLM_F_DUMP, NLM_F_REQUEST, nlHeader as msg, RTM_GETADDR, RTM_GETLINK, RTM_GETNEIGH, RTM_GETROUTE, u32attr } from './nl-const.ts';

// the shared numbers (harness/runtime/netns/nl-const.ts), still exported from here
export { NLMSG_DONE, NLMSG_ERROR, RTM_GETADDR, RTM_GETLINK, RTM_GETNEIGH, RTM_GETROUTE, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWNEIGH, RTM_NEWROUTE } from './nl-const.ts';

// ------------------------------------------------------------------------------------------------ requests

const IFLA_EXT_MASK = 29;
const RTEXT_FILTER_SKIP_STATS = 8;

/** `ip link show`: RTM_GETLINK dump, every family, counters left out (ip prints none without -s) */
export function linkDumpRequest(seq: number): Buffer {
  return msg(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, Buffer.concat([Buffer.alloc(16), u32attr(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS)]));
}

/** `ip addr show`'s address half: RTM_GETADDR dump, every family */
export function addrDumpRequest(seq: number): Buffer {
  return msg(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq, Buffer.alloc(8));
}

/** `ip route show table all` of one family (IPv4 or IPv6: the order ip prints them in) */
export function routeDumpRequest(family: 4 | 6, seq: number): Buffer {
  const rtm = Buffer.alloc(12);
  rtm[0] = family === 6 ? AF_INET6 : AF_INET;
  return msg(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, seq, rtm);
}

const NDA_IFINDEX = 8;

/** `ip neigh show [dev DEV]`: RTM_GETNEIGH dump of IPv4 and IPv6 neighbours, filtered by the kernel to ifindex (NDA_IFINDEX) as ip asks */
export function neighDumpRequest(ifindex: number | undefined, seq: number): Buffer {
  const body: Buffer[] = [Buffer.alloc(12)];
  if (ifindex) body.push(u32attr(NDA_IFINDEX, ifindex));
  return msg(RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, seq, Buffer.concat(body));
}

/**
 * `ip neigh get IP dev DEV`: one neighbour looked up by the kernel (RTM_GETNEIGH without NLM_F_DUMP: a hash lookup in
 * the device's table), where a dump walks the host-wide table of every namespace (at 1,000 nodes two million entries
 * per dump). The answer is the entry (RTM_NEWNEIGH) or ENOENT.
 */
export function neighGetRequest(ip: string, ifindex: number, seq: number): Buffer {
  const b = Buffer.alloc(GET_MAX);
  return b.subarray(0, encodeNeighGet(b, 0, ip, ifindex, seq));
}

/** The most bytes one `route get` or `neigh get` request takes (header, rtmsg, two IPv6 attributes, iif). */
export const GET_MAX = 16 + 12 + 20 + 20 + 8;

/** nlmsghdr at `at` (its length written by the caller's end) */
function header(b: Buffer, at: number, type: number, flags: number, seq: number): void {
  b.writeUInt16LE(type, at + 4);
  b.writeUInt16LE(flags, at + 6);
  b.writeUInt32LE(seq >>> 0, at + 8);
  b.writeUInt32LE(0, at + 12);
}

/** an address attribute at `at`; returns the offset after it */
function addrAttr(b: Buffer, at: number, type: number, ip: Buffer): number {
  b.writeUInt16LE(4 + ip.length, at);
  b.writeUInt16LE(type, at + 2);
  ip.copy(b, at + 4);
  return at + 4 + ip.length;
}

/**
 * neighGetRequest written into `b` at `at` (#16: a 1,000-node read asks a million of these; written in place, no
 * buffer per request); returns the offset after it.
 */
export function encodeNeighGet(b: Buffer, at: number, ip: string, ifindex: number, seq: number): number {
  const dst = ipBytesOnce(ip);
  header(b, at, RTM_GETNEIGH, NLM_F_REQUEST, seq);
  const m = at + 16;
  b.fill(0, m, m + 12);
  b[m] = dst.length === 16 ? AF_INET6 : AF_INET;
  b.writeInt32LE(ifindex, m + 4);
  const end = addrAttr(b, m + 12, 1, dst);
  b.writeUInt32LE(end - at, at);
  return end;
}

/** `bridge fdb show [dev DEV]`: RTM_GETNEIGH dump of PF_BRIDGE with an ifinfomsg header whose ifi_index is the port (the kernel filters by it) */
export function fdbDumpRequest(ifindex: number | undefined, seq: number): Buffer {
  const ifm = Buffer.alloc(16);
  ifm[0] = AF_BRIDGE;
  ifm.writeInt32LE(ifindex ?? 0, 4);
  return msg(RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, seq, ifm);
}

const RTA_DST = 1;
const RTA_SRC = 2;
const RTA_IIF = 3;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_PREFSRC = 7;
const RTA_METRICS = 8;
const RTA_MULTIPATH = 9;
const RTA_TABLE = 15;
const RTA_VIA = 18;
const RTA_PREF = 20;
const RTA_NH_ID = 30;
const RTM_F_CLONED = 0x200;
const RTM_F_LOOKUP_TABLE = 0x1000;

/**
 * `ip route get DST [from SRC] [iif DEV]` as ip sends it: rtm_dst_len (and rtm_src_len) the full address length,
 * RTM_F_LOOKUP_TABLE (the answer names the table the lookup found it in), RTA_DST, RTA_SRC, RTA_IIF. No ack asked:
 * the kernel answers with the route or an NLMSG_ERROR.
 */
export function routeGetRequest(q: { dst: string; from?: string; iif?: string }, iifIndex: number | undefined, seq: number): Buffer {
  const b = Buffer.alloc(GET_MAX);
  return b.subarray(0, encodeRouteGet(b, 0, q, iifIndex, seq));
}

/** routeGetRequest written into `b` at `at` (no buffer per request); returns the offset after it. */
export function encodeRouteGet(b: Buffer, at: number, q: { dst: string; from?: string; iif?: string }, iifIndex: number | undefined, seq: number): number {
  const dst = ipBytesOnce(q.dst);
  header(b, at, RTM_GETROUTE, NLM_F_REQUEST, seq);
  const m = at + 16;
  b.fill(0, m, m + 12);
  b[m] = dst.length === 16 ? AF_INET6 : AF_INET;
  b[m + 1] = dst.length * 8;
  b.writeUInt32LE(RTM_F_LOOKUP_TABLE, m + 8);
  let end = addrAttr(b, m + 12, RTA_DST, dst);
  if (q.from) {
    const src = ipBytesOnce(q.from);
    b[m + 2] = src.length * 8;
    end = addrAttr(b, end, RTA_SRC, src);
  }
  if (q.iif) {
    b.writeUInt16LE(8, end);
    b.writeUInt16LE(RTA_IIF, end + 2);
    b.writeUInt32LE((iifIndex ?? 0) >>> 0, end + 4);
    end += 8;
  }
  b.writeUInt32LE(end - at, at);
  return end;
}

// ------------------------------------------------------------------------------------------------ addresses

/** ipBytes, remembered (read-only results): a 1,000-node read asks about the same thousand addresses on every node (#16) */
const ipCache = new Map<string, Buffer>();
function ipBytesOnce(ip: string): Buffer {
  let b = ipCache.get(ip);
  if (!b) {
    if (ipCache.size > 65_536) ipCache.clear();
    ipCache.set(ip, (b = ipBytes(ip)));
  }
  return b;
}

/** An IPv4 or IPv6 address (no zone, no embedded IPv4) as bytes. */
export function ipBytes(ip: string): Buffer {
  if (!ip.includes(':')) return Buffer.from(ip.split('.').map(Number));
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

// Interned text (#16): a 1,000-node read holds ~3 million entries whose addresses, prefixes and MACs are the same
// ~3,000 values on every node (every node routes to the same subnets via the same VTEPs). Each value is formatted once
// and the one string shared — no new string per entry, and a heap of thousands of strings instead of millions (which
// the garbage collector otherwise walks on every full collection for the rest of the run). Bounded: a table that
// grows past INTERN_MAX is emptied.
const INTERN_MAX = 1 << 18;
const ip4s = new Map<number, string>();
const prefixes4 = new Map<number, string>();
const macs = new Map<number, string>();
const texts = new Map<string, string>();
function interned<K>(m: Map<K, string>, key: K, make: () => string): string {
  let v = m.get(key);
  if (v === undefined) {
    if (m.size >= INTERN_MAX) m.clear();
    m.set(key, (v = make()));
  }
  return v;
}
/** one string per distinct text (IPv6 addresses and prefixes, whose bytes make no number key) */
const intern = (x: string) => interned(texts, x, () => x);

/** inet_ntop(3) as glibc writes it (what ip prints): harness/topology/ip.ts's formatters (test/unit/ip6-format.test.ts) */
export function formatIp(b: Buffer, off: number, len: number): string {
  if (len === 4) return interned(ip4s, b.readUInt32BE(off), () => formatIp4(b, off));
  return len === 16 ? intern(formatIp6(b, off)) : hex(b, off, len);
}

/** "ADDR/LEN" as ip prints a route's prefix */
function formatPrefix(b: Buffer, off: number, len: number, plen: number): string {
  if (len === 4) return interned(prefixes4, b.readUInt32BE(off) * 256 + plen, () => `${formatIp4(b, off)}/${plen}`);
  return intern(`${formatIp(b, off, len)}/${plen}`);
}

function hex(b: Buffer, off: number, len: number): string {
  if (len === 6) return interned(macs, b.readUIntBE(off, 6), () => hexText(b, off, 6));
  return hexText(b, off, len);
}

function hexText(b: Buffer, off: number, len: number): string {
  const out: string[] = [];
  for (let i = 0; i < len; i++) out.push(b[off + i]!.toString(16).padStart(2, '0'));
  return out.join(':');
}

const ARPHRD_TUNNEL = 768;
const ARPHRD_TUNNEL6 = 769;
const ARPHRD_SIT = 776;
const ARPHRD_IPGRE = 778;
const ARPHRD_IP6GRE = 823;

/** ll_addr_n2a: a link-layer address as ip prints it (dotted/IPv6 for IP tunnels, colon hex otherwise) */
function llAddr(b: Buffer, off: number, len: number, type: number): string {
  if (len === 4 && (type === ARPHRD_TUNNEL || type === ARPHRD_SIT || type === ARPHRD_IPGRE)) return formatIp(b, off, 4);
  if (len === 16 && (type === ARPHRD_TUNNEL6 || type === ARPHRD_IP6GRE)) return formatIp(b, off, 16);
  return hex(b, off, len);
}

// ------------------------------------------------------------------------------------------------ messages

/** Every netlink message in buf[0..n): its type, flags, sequence number and where its payload is. */
export function* messages(buf: Buffer, n: number): Generator<{ type: number; flags: number; seq: number; off: number; end: number }> {
  let off = 0;
  while (off + 16 <= n) {
    const len = buf.readUInt32LE(off);
    if (len < 16 || off + len > n) return;
    yield { type: buf.readUInt16LE(off + 4), flags: buf.readUInt16LE(off + 6), seq: buf.readUInt32LE(off + 8), off: off + 16, end: off + len };
    off += (len + 3) & ~3;
  }
}

/** attributes in buf[off..end): type (nested flag cleared) → [payload offset, payload length] (the first of each type, as iproute2's parse_rtattr keeps the last; types repeat only in nests we walk ourselves) */
function attrs(buf: Buffer, off: number, end: number): Map<number, [number, number]> {
  const m = new Map<number, [number, number]>();
  while (off + 4 <= end) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > end) break;
    m.set(buf.readUInt16LE(off + 2) & 0x3fff, [off + 4, len - 4]);
    off += (len + 3) & ~3;
  }
  return m;
}

/**
 * The top-level attributes of one message, in a table reused for every message (#16: a Map and a tuple per attribute
 * of three million entries was most of a 1,000-node read's garbage): scan() fills it, has/atOff/atLen read it. The
 * last attribute of a type wins, as with attrs(). Only one message's table at a time: nested attributes use attrs().
 */
const AT_MAX = 64;
const atOff = new Int32Array(AT_MAX);
const atLen = new Int32Array(AT_MAX);
const atGen = new Uint32Array(AT_MAX);
let gen = 0;
function scan(buf: Buffer, off: number, end: number): void {
  if (++gen > 0xfffffff0) {
    atGen.fill(0);
    gen = 1;
  }
  while (off + 4 <= end) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > end) break;
    const t = buf.readUInt16LE(off + 2) & 0x3fff;
    if (t < AT_MAX) {
      atGen[t] = gen;
      atOff[t] = off + 4;
      atLen[t] = len - 4;
    }
    off += (len + 3) & ~3;
  }
}
const has = (t: number) => atGen[t] === gen;
/** the scanned attribute t as attrs() would give it, or undefined */
const at = (t: number): [number, number] | undefined => (atGen[t] === gen ? [atOff[t]!, atLen[t]!] : undefined);
const atU32 = (buf: Buffer, t: number) => (atGen[t] === gen ? buf.readUInt32LE(atOff[t]!) : undefined);
const atU8 = (buf: Buffer, t: number) => (atGen[t] === gen ? buf[atOff[t]!]! : undefined);

const u32 = (buf: Buffer, a: [number, number] | undefined) => (a ? buf.readUInt32LE(a[0]) : undefined);
const u8 = (buf: Buffer, a: [number, number] | undefined) => (a ? buf[a[0]]! : undefined);
const str = (buf: Buffer, a: [number, number]) => buf.toString('utf8', a[0], a[0] + a[1]).replace(/\0.*$/s, '');

/** The error of an NLMSG_ERROR (0: an ack) and the kernel's extended-ack message, if any. */
export function parseError(buf: Buffer, m: { off: number; end: number; flags: number }): { errno: number; msg?: string } {
  const errno = Math.abs(buf.readInt32LE(m.off));
  let msgText: string | undefined;
  // NLM_F_ACK_TLVS: TLVs after the echoed request (its header only when NLM_F_CAPPED)
  if (m.flags & 0x200) {
    const echoed = m.flags & 0x100 ? 16 : buf.readUInt32LE(m.off + 4);
    const a = attrs(buf, m.off + 4 + ((echoed + 3) & ~3), m.end).get(1);
    if (a) msgText = str(buf, a);
  }
  return { errno, msg: msgText };
}

// ------------------------------------------------------------------------------------------------ names

/** iproute2's built-in names, overridden by /etc/iproute2/FILE and FILE.d/*.conf, as rtnl_tab_initialize reads them */
function nameTable(file: string, builtin: Record<number, string>): Map<number, string> {
  const m = new Map<number, string>(Object.entries(builtin).map(([k, v]) => [Number(k), v]));
  const files = [`/etc/iproute2/${file}`];
  try {
    for (const f of readdirSync(`/etc/iproute2/${file}.d`).sort()) if (f.endsWith('.conf')) files.push(`/etc/iproute2/${file}.d/${f}`);
  } catch {
    // no .d directory
  }
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const x = /^\s*(0x[0-9a-fA-F]+|\d+)\s+(\S+)/.exec(line);
      if (x) m.set(Number(x[1]), x[2]!);
    }
  }
  return m;
}

let protos: Map<number, string> | undefined;
let tables: Map<number, string> | undefined;
const PROTOS: Record<number, string> = { 0: 'unspec', 1: 'redirect', 2: 'kernel', 3: 'boot', 4: 'static', 8: 'gated', 9: 'ra', 10: 'mrt', 11: 'zebra', 12: 'bird', 13: 'dnrouted', 14: 'xorp', 15: 'ntk', 16: 'dhcp', 18: 'keepalived', 42: 'babel', 186: 'bgp', 187: 'isis', 188: 'ospf', 189: 'rip', 192: 'eigrp' };
const TABLES: Record<number, string> = { 0: 'unspec', 253: 'default', 254: 'main', 255: 'local' };
const protoName = (p: number) => (protos ??= nameTable('rt_protos', PROTOS)).get(p) ?? String(p);
const tableName = (t: number) => (tables ??= nameTable('rt_tables', TABLES)).get(t) ?? String(t);
const SCOPES: Record<number, string> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };
const scopeName = (s: number) => SCOPES[s] ?? String(s);
const RTN = ['unspec', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat', 'xresolve'];
const typeName = (t: number) => RTN[t] ?? String(t);

// ------------------------------------------------------------------------------------------------ links

const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_LINK = 5;
const IFLA_MASTER = 10;
const IFLA_OPERSTATE = 16;
const IFLA_LINKINFO = 18;
const IFLA_LINK_NETNSID = 37;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const IFLA_INFO_SLAVE_KIND = 4;
const IFLA_INFO_SLAVE_DATA = 5;
const IFLA_BRPORT_MODE = 4;
const OPERSTATES = ['UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP'];
const IFF_UP = 0x1;
const IFF_RUNNING = 0x40;
/** print_link_flags' order */
const IFF_NAMES: [number, string][] = [
  [0x8, 'LOOPBACK'], [0x2, 'BROADCAST'], [0x10, 'POINTOPOINT'], [0x1000, 'MULTICAST'], [0x80, 'NOARP'], [0x200, 'ALLMULTI'], [0x100, 'PROMISC'],
  [0x400, 'MASTER'], [0x800, 'SLAVE'], [0x4, 'DEBUG'], [0x8000, 'DYNAMIC'], [0x4000, 'AUTOMEDIA'], [0x2000, 'PORTSEL'], [0x20, 'NOTRAILERS'],
  [0x1, 'UP'], [0x10000, 'LOWER_UP'], [0x20000, 'DORMANT'], [0x40000, 'ECHO'],
];

/** one RTM_NEWLINK, before names are resolved (a link's master or lower device may come later in the dump) */
export interface RawLink {
  index: number;
  type: number;
  flags: number;
  ifname: string;
  mtu?: number;
  address?: string;
  operstate?: string;
  master?: number;
  link?: number;
  linkNetnsid?: number;
  kind?: string;
  slaveKind?: string;
  /** vxlan IFLA_INFO_DATA, with `link` as an ifindex */
  vxlan?: Record<string, unknown>;
  hairpin?: boolean;
}

const IFLA_VXLAN_ID = 1;
const IFLA_VXLAN_GROUP = 2;
const IFLA_VXLAN_LINK = 3;
const IFLA_VXLAN_LOCAL = 4;
const IFLA_VXLAN_TTL = 5;
const IFLA_VXLAN_LEARNING = 7;
const IFLA_VXLAN_AGEING = 8;
const IFLA_VXLAN_PORT = 15;
const IFLA_VXLAN_GROUP6 = 16;
const IFLA_VXLAN_LOCAL6 = 17;
const IFLA_VXLAN_TTL_INHERIT = 26;
const IFLA_VXLAN_DF = 29;
const VXLAN_DF = ['unset', 'set', 'inherit'];

const isMulticast = (b: Buffer, off: number, len: number) => (len === 4 ? (b[off]! & 0xf0) === 0xe0 : b[off] === 0xff);

function vxlanData(buf: Buffer, off: number, end: number): Record<string, unknown> {
  const a = attrs(buf, off, end);
  const d: Record<string, unknown> = {};
  const id = u32(buf, a.get(IFLA_VXLAN_ID));
  if (id !== undefined) d.id = id;
  for (const t of [IFLA_VXLAN_GROUP, IFLA_VXLAN_GROUP6]) {
    const g = a.get(t);
    if (!g) continue;
    const zero = buf.subarray(g[0], g[0] + g[1]).every((x) => x === 0);
    if (!zero) d[isMulticast(buf, g[0], g[1]) ? 'group' : 'remote'] = formatIp(buf, g[0], g[1]);
  }
  const l4 = a.get(IFLA_VXLAN_LOCAL);
  if (l4 && l4[1] === 4 && buf.readUInt32LE(l4[0]) !== 0) d.local = formatIp(buf, l4[0], 4);
  const l6 = a.get(IFLA_VXLAN_LOCAL6);
  if (l6 && l6[1] === 16 && !buf.subarray(l6[0], l6[0] + 16).every((x) => x === 0)) d.local6 = formatIp(buf, l6[0], 16);
  const link = u32(buf, a.get(IFLA_VXLAN_LINK));
  if (link) d.link = link;
  const port = a.get(IFLA_VXLAN_PORT);
  if (port) d.port = buf.readUInt16BE(port[0]);
  const learning = u8(buf, a.get(IFLA_VXLAN_LEARNING));
  if (learning !== undefined) d.learning = !!learning;
  if (u8(buf, a.get(IFLA_VXLAN_TTL_INHERIT))) d.ttl = 'inherit';
  else {
    const ttl = u8(buf, a.get(IFLA_VXLAN_TTL));
    if (ttl !== undefined) d.ttl = ttl;
  }
  const df = u8(buf, a.get(IFLA_VXLAN_DF));
  if (df !== undefined) d.df = VXLAN_DF[df] ?? df;
  const ageing = u32(buf, a.get(IFLA_VXLAN_AGEING));
  if (ageing !== undefined) d.ageing = ageing;
  return d;
}

export function parseLink(buf: Buffer, off: number, end: number): RawLink {
  const type = buf.readUInt16LE(off + 2);
  const l: RawLink = { index: buf.readInt32LE(off + 4), type, flags: buf.readUInt32LE(off + 8), ifname: '' };
  const a = attrs(buf, off + 16, end);
  const name = a.get(IFLA_IFNAME);
  if (name) l.ifname = str(buf, name);
  l.mtu = u32(buf, a.get(IFLA_MTU));
  const addr = a.get(IFLA_ADDRESS);
  if (addr) l.address = llAddr(buf, addr[0], addr[1], type);
  const os = u8(buf, a.get(IFLA_OPERSTATE));
  if (os !== undefined) l.operstate = OPERSTATES[os] ?? String(os);
  l.master = u32(buf, a.get(IFLA_MASTER));
  l.link = u32(buf, a.get(IFLA_LINK));
  const ns = a.get(IFLA_LINK_NETNSID);
  if (ns) l.linkNetnsid = buf.readInt32LE(ns[0]);
  const li = a.get(IFLA_LINKINFO);
  if (li) {
    const info = attrs(buf, li[0], li[0] + li[1]);
    const kind = info.get(IFLA_INFO_KIND);
    if (kind) l.kind = str(buf, kind);
    const sk = info.get(IFLA_INFO_SLAVE_KIND);
    if (sk) l.slaveKind = str(buf, sk);
    const data = info.get(IFLA_INFO_DATA);
    if (data && l.kind === 'vxlan') l.vxlan = vxlanData(buf, data[0], data[0] + data[1]);
    const sd = info.get(IFLA_INFO_SLAVE_DATA);
    if (sd && l.slaveKind === 'bridge') {
      const h = u8(buf, attrs(buf, sd[0], sd[0] + sd[1]).get(IFLA_BRPORT_MODE));
      if (h !== undefined) l.hairpin = !!h;
    }
  }
  return l;
}

/** ll_index_to_name: a name, or "if%d" for an ifindex not in the namespace */
export type Names = Map<number, RawLink>;
const nameOf = (names: Names, ix: number) => names.get(ix)?.ifname ?? `if${ix}`;

function linkFlags(l: RawLink, names: Names): string[] {
  const out: string[] = [];
  let f = l.flags;
  if (f & IFF_UP && !(f & IFF_RUNNING)) out.push('NO-CARRIER');
  f &= ~IFF_RUNNING;
  for (const [bit, name] of IFF_NAMES) {
    if (f & bit) {
      out.push(name);
      f &= ~bit;
    }
  }
  if (f) out.push(f.toString(16));
  // M-DOWN: the lower device (same namespace) is down
  if (l.link && l.linkNetnsid === undefined && l.link !== l.index) {
    const lower = names.get(l.link);
    if (lower && !(lower.flags & IFF_UP)) out.push('M-DOWN');
  }
  return out;
}

/** One link as `ip -d -j link show` prints it (the keys vxlab reads; see LinkInfo in harness/probe/kernel.ts). */
export function linkJson(l: RawLink, names: Names): Record<string, any> {
  const o: Record<string, any> = { ifindex: l.index };
  if (l.link) {
    if (l.linkNetnsid === undefined) o.link = nameOf(names, l.link);
    else o.link_index = l.link;
  }
  o.ifname = l.ifname;
  o.flags = linkFlags(l, names);
  if (l.mtu !== undefined) o.mtu = l.mtu;
  if (l.master) o.master = nameOf(names, l.master);
  if (l.operstate !== undefined) o.operstate = l.operstate;
  if (l.address !== undefined) o.address = l.address;
  if (l.linkNetnsid !== undefined) o.link_netnsid = l.linkNetnsid;
  if (l.kind || l.slaveKind) {
    const li: Record<string, any> = {};
    if (l.kind) li.info_kind = l.kind;
    if (l.vxlan) {
      const d = { ...l.vxlan };
      if (typeof d.link === 'number') d.link = nameOf(names, d.link);
      li.info_data = d;
    }
    if (l.slaveKind) {
      li.info_slave_kind = l.slaveKind;
      if (l.hairpin !== undefined) li.info_slave_data = { hairpin: l.hairpin };
    }
    o.linkinfo = li;
  }
  return o;
}

// ------------------------------------------------------------------------------------------------ addresses

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_LABEL = 3;

/** One RTM_NEWADDR as an entry of `ip -j addr show`'s addr_info, with the ifindex it belongs to. */
export function parseAddr(buf: Buffer, off: number, end: number): { index: number; info: Record<string, any> } {
  const family = buf[off]!;
  const prefixlen = buf[off + 1]!;
  const scope = buf[off + 3]!;
  const index = buf.readInt32LE(off + 4);
  const a = attrs(buf, off + 8, end);
  const info: Record<string, any> = { family: family === AF_INET6 ? 'inet6' : family === AF_INET ? 'inet' : String(family) };
  const local = a.get(IFA_LOCAL);
  const address = a.get(IFA_ADDRESS);
  const l = local ?? address;
  if (l) info.local = formatIp(buf, l[0], l[1]);
  if (local && address && !buf.subarray(local[0], local[0] + local[1]).equals(buf.subarray(address[0], address[0] + address[1]))) info.address = formatIp(buf, address[0], address[1]);
  info.prefixlen = prefixlen;
  info.scope = scopeName(scope);
  const label = a.get(IFA_LABEL);
  if (label) info.label = str(buf, label);
  return { index, info };
}

// ------------------------------------------------------------------------------------------------ routes

/** print_rt_flags' order */
const RT_FLAGS: [number, string][] = [[1, 'dead'], [4, 'onlink'], [2, 'pervasive'], [8, 'offload'], [0x100, 'notify'], [16, 'linkdown'], [32, 'unresolved'], [0x4000, 'rt_offload'], [0x8000, 'rt_trap'], [0x20000000, 'rt_offload_failed']];
const MX_NAMES: Record<number, string> = { 2: 'mtu', 3: 'window', 6: 'ssthresh', 7: 'cwnd', 8: 'advmss', 9: 'reordering', 10: 'hoplimit', 11: 'initcwnd', 14: 'initrwnd', 15: 'quickack', 17: 'fastopen_no_cookie' };
const PREFS: Record<number, string> = { 0: 'medium', 1: 'high', 3: 'low' };
/** A route's flag words, one array per distinct flags value, shared by every route that has it (never changed in place). */
const rtFlagWords = new Map<number, string[]>();
const rtFlags = (f: number) => interned2(rtFlagWords, f, () => RT_FLAGS.filter(([bit]) => f & bit).map(([, n]) => n));
function interned2<V extends object>(m: Map<number, V>, key: number, make: () => V): V {
  let v = m.get(key);
  if (v === undefined) m.set(key, (v = Object.freeze(make()) as V));
  return v;
}

/**
 * One RTM_NEWROUTE as `ip -d -j route show table all` (or the answer of `ip -d -j route get`) prints it; undefined
 * for an entry ip leaves out (a cached clone in a dump).
 */
export function parseRoute(buf: Buffer, off: number, end: number, names: Names, get = false): Record<string, any> | undefined {
  const family = buf[off]!;
  const dstLen = buf[off + 1]!;
  const srcLen = buf[off + 2]!;
  const rtmFlags = buf.readUInt32LE(off + 8);
  if (!get && rtmFlags & RTM_F_CLONED) return undefined;
  scan(buf, off + 12, end);
  const hostLen = family === AF_INET6 ? 128 : 32;
  const o: Record<string, any> = { type: typeName(buf[off + 7]!) };
  if (has(RTA_DST)) o.dst = dstLen !== hostLen ? formatPrefix(buf, atOff[RTA_DST]!, atLen[RTA_DST]!, dstLen) : formatIp(buf, atOff[RTA_DST]!, atLen[RTA_DST]!);
  else o.dst = dstLen ? `0/${dstLen}` : 'default';
  if (has(RTA_SRC)) o.from = srcLen !== hostLen ? formatPrefix(buf, atOff[RTA_SRC]!, atLen[RTA_SRC]!, srcLen) : formatIp(buf, atOff[RTA_SRC]!, atLen[RTA_SRC]!);
  else if (srcLen) o.from = `0/${srcLen}`;
  const nh = atU32(buf, RTA_NH_ID);
  if (nh !== undefined) o.nhid = nh;
  if (has(RTA_GATEWAY)) o.gateway = formatIp(buf, atOff[RTA_GATEWAY]!, atLen[RTA_GATEWAY]!);
  if (has(RTA_VIA)) {
    const v = atOff[RTA_VIA]!;
    o.via = { family: buf.readUInt16LE(v) === AF_INET6 ? 'inet6' : 'inet', host: formatIp(buf, v + 2, atLen[RTA_VIA]! - 2) };
  }
  const oif = atU32(buf, RTA_OIF);
  if (oif !== undefined) o.dev = nameOf(names, oif);
  const table = atU32(buf, RTA_TABLE) ?? buf[off + 4]!;
  if (table) o.table = tableName(table);
  if (!(rtmFlags & RTM_F_CLONED)) {
    o.protocol = protoName(buf[off + 5]!);
    o.scope = scopeName(buf[off + 6]!);
  }
  if (has(RTA_PREFSRC)) o.prefsrc = formatIp(buf, atOff[RTA_PREFSRC]!, atLen[RTA_PREFSRC]!);
  const prio = atU32(buf, RTA_PRIORITY);
  if (prio !== undefined) o.metric = prio;
  o.flags = rtFlags(rtmFlags);
  const mx = at(RTA_METRICS);
  const iif = atU32(buf, RTA_IIF);
  const mp = at(RTA_MULTIPATH);
  const pref = atU8(buf, RTA_PREF);
  if (mx) {
    const m: Record<string, number> = {};
    for (const [t, [p, l]] of attrs(buf, mx[0], mx[0] + mx[1])) {
      if (l < 4 || !MX_NAMES[t]) continue;
      const v = buf.readUInt32LE(p);
      if (t === 10 && v === 0xffffffff) continue;
      m[MX_NAMES[t]!] = v;
    }
    o.metrics = [m];
  }
  if (iif !== undefined) o.iif = nameOf(names, iif);
  if (mp) {
    // rtnexthop: len u16, flags u8, hops u8, ifindex i32, then attributes
    const hops: Record<string, any>[] = [];
    for (let p = mp[0]; p + 8 <= mp[0] + mp[1]; ) {
      const len = buf.readUInt16LE(p);
      if (len < 8) break;
      const h: Record<string, any> = {};
      const ha = attrs(buf, p + 8, p + len);
      const g = ha.get(RTA_GATEWAY);
      if (g) h.gateway = formatIp(buf, g[0], g[1]);
      h.dev = nameOf(names, buf.readInt32LE(p + 4));
      h.weight = buf[p + 3]! + 1;
      h.flags = rtFlags(buf[p + 2]!);
      hops.push(h);
      p += (len + 3) & ~3;
    }
    o.nexthops = hops;
  }
  if (pref !== undefined) o.pref = PREFS[pref] ?? String(pref);
  return o;
}

// ------------------------------------------------------------------------------------------------ neighbours and FDB

const NDA_DST = 1;
const NDA_LLADDR = 2;
const NDA_VLAN = 5;
const NDA_PORT = 6;
const NDA_VNI = 7;
const NDA_MASTER = 9;
const NDA_LINK_NETNSID = 10;
const NDA_SRC_VNI = 11;
const NDA_NH_ID = 13;
const NDA_FLAGS_EXT = 15;
const NUD_NOARP = 0x40;
const NUD_PERMANENT = 0x80;
const NUD_STALE = 0x04;
const NUD_REACHABLE = 0x02;
const NTF_SELF = 0x02;
const NTF_MASTER = 0x04;
const NTF_PROXY = 0x08;
const NTF_EXT_LEARNED = 0x10;
const NTF_OFFLOADED = 0x20;
const NTF_STICKY = 0x40;
const NTF_ROUTER = 0x80;
const NUD_NAMES: [number, string][] = [[0x01, 'INCOMPLETE'], [0x02, 'REACHABLE'], [0x04, 'STALE'], [0x08, 'DELAY'], [0x10, 'PROBE'], [0x20, 'FAILED'], [0x40, 'NOARP'], [0x80, 'PERMANENT']];

/**
 * One IPv4/IPv6 neighbour as `ip -j neigh show [dev DEV]` prints it (dev only without a dev filter), or undefined for
 * one ip leaves out: its default state filter hides NOARP-only and NONE entries unless proxy or externally learned.
 */
export function parseNeigh(buf: Buffer, off: number, end: number, names: Names, filtered: boolean): Record<string, any> | undefined {
  const family = buf[off]!;
  if (family !== AF_INET && family !== AF_INET6) return undefined;
  const ifindex = buf.readInt32LE(off + 4);
  const state = buf.readUInt16LE(off + 8);
  const flags = buf[off + 10]!;
  if (!(state & (0xff & ~NUD_NOARP)) && !(flags & NTF_PROXY) && !(flags & NTF_EXT_LEARNED)) return undefined;
  scan(buf, off + 12, end);
  const o: Record<string, any> = {};
  if (has(NDA_DST)) o.dst = formatIp(buf, atOff[NDA_DST]!, atLen[NDA_DST]!);
  if (!filtered && ifindex) o.dev = nameOf(names, ifindex);
  if (has(NDA_LLADDR)) o.lladdr = llAddr(buf, atOff[NDA_LLADDR]!, atLen[NDA_LLADDR]!, names.get(ifindex)?.type ?? 1);
  if (flags & NTF_ROUTER) o.router = null;
  if (flags & NTF_PROXY) o.proxy = null;
  if (flags & NTF_EXT_LEARNED) o.extern_learn = null;
  if (flags & NTF_OFFLOADED) o.offload = null;
  if (state) o.state = nudWords(state);
  return o;
}

/** A neighbour state's words, one array per distinct state, shared (never changed in place). */
const nudWordsOf = new Map<number, string[]>();
const nudWords = (state: number) =>
  interned2(nudWordsOf, state, () => {
    const s: string[] = [];
    let rest = state;
    for (const [bit, n] of NUD_NAMES) {
      if (rest & bit) {
        s.push(n);
        rest &= ~bit;
      }
    }
    if (rest) s.push(`0x${rest.toString(16)}`);
    return s;
  });

function fdbState(s: number): string {
  if (s & NUD_PERMANENT) return 'permanent';
  if (s & NUD_NOARP) return 'static';
  if (s & NUD_STALE) return 'stale';
  if (s & NUD_REACHABLE) return '';
  return `0x${s.toString(16)}`;
}

/** One bridge/VXLAN FDB entry as `bridge -j fdb show [dev DEV]` prints it (ifname only without a dev filter). */
export function parseFdb(buf: Buffer, off: number, end: number, names: Names, filtered: boolean): Record<string, any> | undefined {
  if (buf[off] !== AF_BRIDGE) return undefined;
  const ifindex = buf.readInt32LE(off + 4);
  const state = buf.readUInt16LE(off + 8);
  const flags = buf[off + 10]!;
  scan(buf, off + 12, end);
  const o: Record<string, any> = {};
  if (has(NDA_LLADDR)) o.mac = llAddr(buf, atOff[NDA_LLADDR]!, atLen[NDA_LLADDR]!, names.get(ifindex)?.type ?? 1);
  if (!filtered && ifindex) o.ifname = nameOf(names, ifindex);
  if (has(NDA_DST)) o.dst = formatIp(buf, atOff[NDA_DST]!, atLen[NDA_DST]!);
  if (has(NDA_VLAN) && buf.readUInt16LE(atOff[NDA_VLAN]!)) o.vlan = buf.readUInt16LE(atOff[NDA_VLAN]!);
  if (has(NDA_PORT)) o.port = buf.readUInt16BE(atOff[NDA_PORT]!);
  const vni = atU32(buf, NDA_VNI);
  if (vni !== undefined) o.vni = vni;
  const svni = atU32(buf, NDA_SRC_VNI);
  if (svni !== undefined) o.src_vni = svni;
  const via = atU32(buf, NDA_IFINDEX);
  if (via) {
    if (has(NDA_LINK_NETNSID)) o.viaIfIndex = via;
    else o.viaIf = nameOf(names, via);
  }
  const nh = atU32(buf, NDA_NH_ID);
  if (nh !== undefined) o.nhid = nh;
  if (has(NDA_LINK_NETNSID)) o.linkNetNsId = buf.readInt32LE(atOff[NDA_LINK_NETNSID]!);
  const ext = atU32(buf, NDA_FLAGS_EXT) ?? 0;
  o.flags = fdbFlags(flags, ext);
  const master = atU32(buf, NDA_MASTER);
  if (master) o.master = nameOf(names, master);
  o.state = fdbState(state);
  return o;
}

/** An FDB entry's flag words, one array per distinct (flags, extended flags), shared (never changed in place). */
const fdbFlagWords = new Map<number, string[]>();
const fdbFlags = (flags: number, ext: number) =>
  interned2(fdbFlagWords, flags + (ext & 0x2) * 256, () => {
    const f: string[] = [];
    if (flags & NTF_SELF) f.push('self');
    if (flags & NTF_ROUTER) f.push('router');
    if (flags & NTF_EXT_LEARNED) f.push('extern_learn');
    if (flags & NTF_OFFLOADED) f.push('offload');
    if (flags & NTF_MASTER) f.push('master');
    if (flags & NTF_STICKY) f.push('sticky');
    if (ext & 0x2) f.push('locked');
    return f;
  });
