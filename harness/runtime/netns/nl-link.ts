// Pure pieces of the in-process path of `up` (#16) for links and addresses: the `ip` batch lines vxlab's plan writes
// for them — `link add NAME … type bridge|veth|vxlan …`, `link set NAME [mtu N] [master BR] [up]`,
// `link set NAME type bridge_slave hairpin on|off`, `addr add IP/LEN dev DEV [nodad]` — as the rtnetlink requests
// ip(8) (iproute2 6.1: iplink.c, iplink_vxlan.c, link_veth.c, ipaddress.c) sends for them. Any other form (an option
// not modelled here) parses to undefined and the op is left to ip(8). Devices are named, not numbered: the executor
// (harness/runtime/netns/nl-apply.ts) resolves the ifindex of every name a request needs inside the namespace, and
// opens the namespace a veth's peer goes to. No I/O here.
import { isIP } from 'node:net';
import { entryDev, ipBytes, nlMessage, parseBridgeLine, parseIpLine } from './nl.ts';
import { AF_INET, AF_INET6, attr, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, nlHeader, RT_SCOPE_HOST, RTM_NEWADDR, RTM_NEWLINK } from './nl-const.ts';

export { RTM_NEWADDR, RTM_NEWLINK } from './nl-const.ts';
const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_MASTER = 10;
const IFLA_LINKINFO = 18;
const IFLA_NET_NS_FD = 28;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const IFLA_INFO_SLAVE_KIND = 4;
const IFLA_INFO_SLAVE_DATA = 5;
const VETH_INFO_PEER = 1;
const IFLA_VXLAN_ID = 1;
const IFLA_VXLAN_LINK = 3;
const IFLA_VXLAN_LOCAL = 4;
const IFLA_VXLAN_TTL = 5;
const IFLA_VXLAN_LEARNING = 7;
const IFLA_VXLAN_PORT = 15;
const IFLA_VXLAN_LOCAL6 = 17;
const IFLA_VXLAN_DF = 29;
const IFLA_BRPORT_MODE = 4;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
export const IFA_F_NODAD = 0x02;
const IFF_UP = 0x1;
const VXLAN_DF: Record<string, number> = { unset: 0, set: 1, inherit: 2 };

const MAC_RE = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;
/** an interface name as the kernel takes it (≤ 15 bytes, no '/', ':' or whitespace) */
const NAME_RE = /^[A-Za-z0-9_.@-]{1,15}$/;
const UINT_RE = /^\d{1,10}$/;
/** a name under /var/run/netns (a file name; not limited to 15 bytes) */
const NETNS_RE = /^[A-Za-z0-9_.-]{1,200}$/;

export interface VethPeer {
  name: string;
  address?: string;
  mtu?: number;
  /** a namespace name under /var/run/netns (IFLA_NET_NS_FD of an fd the executor opens) */
  netns?: string;
}

export interface VxlanOpts {
  id: number;
  local?: string;
  /** the underlay device (IFLA_VXLAN_LINK: its ifindex) */
  dev?: string;
  dstport?: number;
  learning?: boolean;
  df?: 'unset' | 'set' | 'inherit';
  /** 0 = inherit */
  ttl?: number;
}

export type LinkReq =
  | { kind: 'link-add'; name: string; address?: string; mtu?: number; type: 'bridge' }
  | { kind: 'link-add'; name: string; address?: string; mtu?: number; type: 'veth'; peer: VethPeer }
  | { kind: 'link-add'; name: string; address?: string; mtu?: number; type: 'vxlan'; vxlan: VxlanOpts }
  | { kind: 'link-set'; name: string; mtu?: number; master?: string; up?: boolean }
  | { kind: 'link-brport'; name: string; hairpin: boolean }
  | { kind: 'addr-add'; ip: string; prefixLen: number; dev: string; nodad: boolean };

/** the names whose ifindex a request carries (resolved in the namespace before it is sent) */
export function linkReqDevs(r: LinkReq): string[] {
  switch (r.kind) {
    case 'link-add':
      return r.type === 'vxlan' && r.vxlan.dev ? [r.vxlan.dev] : [];
    case 'link-set':
      return r.master ? [r.name, r.master] : [r.name];
    case 'link-brport':
      return [r.name];
    case 'addr-add':
      return [r.dev];
  }
}

/** the namespaces a request moves something into (veth peer) */
export function linkReqNetns(r: LinkReq): string[] {
  return r.kind === 'link-add' && r.type === 'veth' && r.peer.netns ? [r.peer.netns] : [];
}

function uint(s: string | undefined, max: number): number | undefined {
  if (s === undefined || !UINT_RE.test(s)) return undefined;
  const n = Number(s);
  return n <= max ? n : undefined;
}

/** `address MAC`, `mtu N` and (peer only) `name X` / `netns NS` pairs, in any order, each at most once */
function linkArgs(w: string[], allowed: string[]): { address?: string; mtu?: number; name?: string; netns?: string } | undefined {
  const out: { address?: string; mtu?: number; name?: string; netns?: string } = {};
  if (w.length % 2) return undefined;
  for (let i = 0; i < w.length; i += 2) {
    const k = w[i]!;
    const v = w[i + 1]!;
    if (!allowed.includes(k) || k in out) return undefined;
    if (k === 'address' && MAC_RE.test(v)) out.address = v;
    else if (k === 'mtu' && uint(v, 65535) !== undefined && Number(v) >= 68) out.mtu = Number(v);
    else if (k === 'name' && NAME_RE.test(v)) out.name = v;
    else if (k === 'netns' && NETNS_RE.test(v) && v !== '.' && v !== '..') out.netns = v;
    else return undefined;
  }
  return out;
}

function parseVxlan(w: string[]): VxlanOpts | undefined {
  const o: Partial<VxlanOpts> = {};
  const seen = new Set<string>();
  for (let i = 0; i < w.length; ) {
    const k = w[i++]!;
    const key = k === 'nolearning' ? 'learning' : k;
    if (seen.has(key)) return undefined;
    seen.add(key);
    if (k === 'learning' || k === 'nolearning') {
      o.learning = k === 'learning';
      continue;
    }
    const v = w[i++];
    if (v === undefined) return undefined;
    if (k === 'id' && uint(v, 0xffffff) !== undefined) o.id = Number(v);
    else if (k === 'local' && (isIP(v) === 4 || (isIP(v) === 6 && !v.includes('.') && !v.includes('%')))) o.local = v;
    else if (k === 'dev' && NAME_RE.test(v)) o.dev = v;
    else if (k === 'dstport' && uint(v, 65535) !== undefined) o.dstport = Number(v);
    else if (k === 'df' && v in VXLAN_DF) o.df = v as VxlanOpts['df'];
    else if (k === 'ttl' && (v === 'inherit' || uint(v, 255) !== undefined)) o.ttl = v === 'inherit' ? 0 : Number(v);
    else return undefined;
  }
  return o.id === undefined ? undefined : (o as VxlanOpts);
}

/** An `ip` batch line of the link/address forms modelled here, else undefined (left to ip(8)). */
export function parseLinkLine(line: string): LinkReq | undefined {
  const w = line.split(' ');
  if (w.some((x) => x === '')) return undefined;
  if (w[0] === 'link' && w[1] === 'add') {
    const name = w[2];
    const ti = w.indexOf('type');
    if (!name || !NAME_RE.test(name) || ti < 0) return undefined;
    const head = linkArgs(w.slice(3, ti), ['address', 'mtu']);
    const type = w[ti + 1];
    const rest = w.slice(ti + 2);
    if (!head) return undefined;
    const base = { kind: 'link-add' as const, name, ...(head.address ? { address: head.address } : {}), ...(head.mtu !== undefined ? { mtu: head.mtu } : {}) };
    if (type === 'bridge') return rest.length ? undefined : { ...base, type };
    if (type === 'veth') {
      if (rest[0] !== 'peer') return undefined;
      const p = linkArgs(rest.slice(1), ['name', 'address', 'mtu', 'netns']);
      if (!p?.name) return undefined;
      return { ...base, type, peer: { name: p.name, ...(p.address ? { address: p.address } : {}), ...(p.mtu !== undefined ? { mtu: p.mtu } : {}), ...(p.netns ? { netns: p.netns } : {}) } };
    }
    if (type === 'vxlan') {
      const vxlan = parseVxlan(rest);
      return vxlan ? { ...base, type, vxlan } : undefined;
    }
    return undefined;
  }
  if (w[0] === 'link' && w[1] === 'set') {
    const name = w[2];
    if (!name || !NAME_RE.test(name)) return undefined;
    if (w[3] === 'type') {
      if (w.length === 7 && w[4] === 'bridge_slave' && w[5] === 'hairpin' && (w[6] === 'on' || w[6] === 'off')) return { kind: 'link-brport', name, hairpin: w[6] === 'on' };
      return undefined;
    }
    const r: LinkReq & { kind: 'link-set' } = { kind: 'link-set', name };
    const seen = new Set<string>();
    for (let i = 3; i < w.length; ) {
      const k = w[i++]!;
      if (seen.has(k)) return undefined;
      seen.add(k);
      if (k === 'up') r.up = true;
      else if (k === 'mtu' && uint(w[i], 65535) !== undefined && Number(w[i]) >= 68) r.mtu = Number(w[i++]);
      else if (k === 'master' && w[i] !== undefined && NAME_RE.test(w[i]!)) r.master = w[i++];
      else return undefined;
    }
    return seen.size ? r : undefined;
  }
  if (w[0] === 'addr' && w[1] === 'add' && w[3] === 'dev' && (w.length === 5 || (w.length === 6 && w[5] === 'nodad'))) {
    const [ip, len, extra] = w[2]!.split('/');
    const fam = ip ? isIP(ip) : 0;
    if (extra !== undefined || !fam || (fam === 6 && (ip!.includes('.') || ip!.includes('%')))) return undefined;
    const prefixLen = uint(len, fam === 4 ? 32 : 128);
    if (prefixLen === undefined || !NAME_RE.test(w[4]!)) return undefined;
    return { kind: 'addr-add', ip: ip!, prefixLen, dev: w[4]!, nodad: w.length === 6 };
  }
  return undefined;
}

const u8 = (v: number) => Buffer.from([v]);
const u16be = (v: number) => {
  const b = Buffer.allocUnsafe(2).fill(0);
  b.writeUInt16BE(v, 0);
  return b;
};
const u32 = (v: number) => {
  const b = Buffer.allocUnsafe(4).fill(0);
  b.writeUInt32LE(v >>> 0, 0);
  return b;
};
/** iproute2 writes names and kinds with their NUL for IFLA_IFNAME, without it for IFLA_INFO_KIND */
const cstr = (s: string) => Buffer.from(s + '\0');
const mac = (m: string) => Buffer.from(m.split(':').map((x) => parseInt(x, 16)));

function ifinfomsg(index: number, flags: number, change: number): Buffer {
  const b = Buffer.allocUnsafe(16).fill(0);
  b.writeUInt8(0, 0); // AF_UNSPEC
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags, 8);
  b.writeUInt32LE(change, 12);
  return b;
}

const msg = (type: number, flags: number, seq: number, body: Buffer) => nlHeader(type, NLM_F_REQUEST | NLM_F_ACK | flags, seq, body);

/**
 * The request for a parsed line. `ifindex(name)` gives the ifindex of a device in linkReqDevs(r) (resolved in the
 * namespace), `nsfd(name)` an open fd of a namespace in linkReqNetns(r).
 *  - link add: RTM_NEWLINK, NLM_F_CREATE|NLM_F_EXCL, IFLA_ADDRESS, IFLA_MTU, IFLA_IFNAME, IFLA_LINKINFO{kind, data}:
 *    veth: VETH_INFO_PEER{ifinfomsg, IFLA_IFNAME, IFLA_ADDRESS, IFLA_MTU, IFLA_NET_NS_FD}; vxlan: ID, LOCAL/LOCAL6,
 *    LINK, TTL, LEARNING (always, as ip sends it on create), PORT (network order), DF.
 *  - link set: RTM_NEWLINK with the device's ifi_index (as ip does; finding it by IFLA_IFNAME instead left some
 *    veths with a carrier while their peer was down, on 6.18): IFLA_MTU, IFLA_MASTER, IFF_UP in ifi_flags/ifi_change.
 *  - bridge_slave hairpin: IFLA_LINKINFO{IFLA_INFO_SLAVE_KIND bridge, IFLA_INFO_SLAVE_DATA{IFLA_BRPORT_MODE}}.
 *  - addr add: RTM_NEWADDR, NLM_F_CREATE|NLM_F_EXCL, ifaddrmsg{family, prefixlen, IFA_F_NODAD if nodad, scope host
 *    for 127/8 else global, index}, IFA_LOCAL and IFA_ADDRESS both the address (no peer).
 */
export function linkMessage(r: LinkReq, seq: number, ifindex: (name: string) => number, nsfd: (ns: string) => number): Buffer {
  switch (r.kind) {
    case 'link-add': {
      const attrs: Buffer[] = [];
      if (r.address) attrs.push(attr(IFLA_ADDRESS, mac(r.address)));
      if (r.mtu !== undefined) attrs.push(attr(IFLA_MTU, u32(r.mtu)));
      attrs.push(attr(IFLA_IFNAME, cstr(r.name)));
      const info: Buffer[] = [attr(IFLA_INFO_KIND, Buffer.from(r.type))];
      if (r.type === 'veth') {
        const p = r.peer;
        const pa: Buffer[] = [ifinfomsg(0, 0, 0), attr(IFLA_IFNAME, cstr(p.name))];
        if (p.address) pa.push(attr(IFLA_ADDRESS, mac(p.address)));
        if (p.mtu !== undefined) pa.push(attr(IFLA_MTU, u32(p.mtu)));
        if (p.netns) pa.push(attr(IFLA_NET_NS_FD, u32(nsfd(p.netns))));
        info.push(attr(IFLA_INFO_DATA, attr(VETH_INFO_PEER, Buffer.concat(pa))));
      } else if (r.type === 'vxlan') {
        const v = r.vxlan;
        const d: Buffer[] = [attr(IFLA_VXLAN_ID, u32(v.id))];
        if (v.local) d.push(attr(isIP(v.local) === 6 ? IFLA_VXLAN_LOCAL6 : IFLA_VXLAN_LOCAL, ipBytes(v.local)));
        if (v.dev) d.push(attr(IFLA_VXLAN_LINK, u32(ifindex(v.dev))));
        if (v.ttl !== undefined) d.push(attr(IFLA_VXLAN_TTL, u8(v.ttl)));
        d.push(attr(IFLA_VXLAN_LEARNING, u8(v.learning === false ? 0 : 1)));
        if (v.dstport) d.push(attr(IFLA_VXLAN_PORT, u16be(v.dstport)));
        if (v.df) d.push(attr(IFLA_VXLAN_DF, u8(VXLAN_DF[v.df]!)));
        info.push(attr(IFLA_INFO_DATA, Buffer.concat(d)));
      }
      attrs.push(attr(IFLA_LINKINFO, Buffer.concat(info)));
      return msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, seq, Buffer.concat([ifinfomsg(0, 0, 0), ...attrs]));
    }
    case 'link-set': {
      const attrs: Buffer[] = [];
      if (r.mtu !== undefined) attrs.push(attr(IFLA_MTU, u32(r.mtu)));
      if (r.master) attrs.push(attr(IFLA_MASTER, u32(ifindex(r.master))));
      return msg(RTM_NEWLINK, 0, seq, Buffer.concat([ifinfomsg(ifindex(r.name), r.up ? IFF_UP : 0, r.up ? IFF_UP : 0), ...attrs]));
    }
    case 'link-brport': {
      const info = Buffer.concat([attr(IFLA_INFO_SLAVE_KIND, Buffer.from('bridge')), attr(IFLA_INFO_SLAVE_DATA, attr(IFLA_BRPORT_MODE, u8(r.hairpin ? 1 : 0)))]);
      return msg(RTM_NEWLINK, 0, seq, Buffer.concat([ifinfomsg(ifindex(r.name), 0, 0), attr(IFLA_LINKINFO, info)]));
    }
    case 'addr-add': {
      const six = isIP(r.ip) === 6;
      const ifa = Buffer.allocUnsafe(8).fill(0);
      ifa.writeUInt8(six ? AF_INET6 : AF_INET, 0);
      ifa.writeUInt8(r.prefixLen, 1);
      ifa.writeUInt8(r.nodad ? IFA_F_NODAD : 0, 2);
      ifa.writeUInt8(!six && r.ip.startsWith('127.') ? RT_SCOPE_HOST : 0, 3);
      ifa.writeUInt32LE(ifindex(r.dev), 4);
      const a = ipBytes(r.ip);
      return msg(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, seq, Buffer.concat([ifa, attr(IFA_LOCAL, a), attr(IFA_ADDRESS, a)]));
    }
  }
}

/** One line as a request for the executor (harness/runtime/netns/nl-apply.ts). */
export interface NlReq {
  /** the batch line, for errors */
  line: string;
  /** device names whose ifindex build() needs */
  devs: string[];
  /** namespaces whose fd build() needs */
  netns: string[];
  build(seq: number, ifindex: (name: string) => number, nsfd: (ns: string) => number): Buffer;
}

/** The link/address lines of an `ip` batch as requests; undefined when any line is of a form not modelled. */
export function linkRequest(line: string): NlReq | undefined {
  const r = parseLinkLine(line);
  if (!r) return undefined;
  return { line, devs: linkReqDevs(r), netns: linkReqNetns(r), build: (seq, ifindex, nsfd) => linkMessage(r, seq, ifindex, nsfd) };
}

/** One `ip` batch line as a request: links and addresses (here), neighbours and routes (nl.ts); undefined for a form not modelled. */
export function ipRequest(line: string): NlReq | undefined {
  const c0 = line.charCodeAt(0);
  if (c0 === 108 /* link */ || c0 === 97 /* addr */) return linkRequest(line);
  const e = parseIpLine(line);
  if (!e) return undefined;
  const dev = entryDev(e);
  return { line, devs: dev ? [dev] : [], netns: [], build: (seq, ifindex) => nlMessage(e, dev ? ifindex(dev) : undefined, seq) };
}

/** One `bridge` batch line (fdb add|replace|del, nl.ts) as a request; undefined for a form not modelled. */
export function bridgeRequest(line: string): NlReq | undefined {
  const e = parseBridgeLine(line);
  if (!e) return undefined;
  return { line, devs: [e.dev], netns: [], build: (seq, ifindex) => nlMessage(e, ifindex(e.dev), seq) };
}

/** Every line of an `ip` batch as a request, in order; undefined when any line is of a form not modelled. */
export function ipRequests(lines: string[]): NlReq[] | undefined {
  const out: NlReq[] = [];
  for (const line of lines) {
    const r = ipRequest(line);
    if (!r) return undefined;
    out.push(r);
  }
  return out;
}
