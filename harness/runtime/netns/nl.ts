// Pure pieces of the in-process path of `up` (harness/runtime/netns/inns.ts): the plan's `bridge fdb add` lines as
// rtnetlink RTM_NEWNEIGH requests, byte for byte what `bridge fdb add` sends, and the acks read back; sysctl keys as
// /proc/sys paths, as sysctl(8) maps them. No I/O here.
import { isIP } from 'node:net';

export const RTM_NEWNEIGH = 28;
export const NLMSG_ERROR = 2;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const AF_BRIDGE = 7;
export const NUD_NOARP = 0x40;
export const NUD_PERMANENT = 0x80;
export const NTF_SELF = 0x02;
export const NDA_DST = 1;
export const NDA_LLADDR = 2;

export interface FdbAdd {
  mac: string;
  dev: string;
  dst: string;
}

const FDB_ADD_RE = /^fdb add ([0-9a-f]{2}(?::[0-9a-f]{2}){5}) dev (\S+) dst (\S+) self permanent$/;

/** A plan line `fdb add MAC dev DEV dst IP self permanent`, or undefined for any other form (left to bridge(8)). */
export function parseFdbAdd(line: string): FdbAdd | undefined {
  const m = FDB_ADD_RE.exec(line);
  if (!m || !isIP(m[3]!)) return undefined;
  return { mac: m[1]!, dev: m[2]!, dst: m[3]! };
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

export function attr(type: number, data: Buffer): Buffer {
  const len = 4 + data.length;
  const b = Buffer.alloc((len + 3) & ~3);
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type, 2);
  data.copy(b, 4);
  return b;
}

/**
 * RTM_NEWNEIGH for `bridge fdb add MAC dev DEV dst IP self permanent` as iproute2's fdb_modify builds it: family
 * PF_BRIDGE, state NUD_NOARP|NUD_PERMANENT, flags NTF_SELF, NLM_F_CREATE|NLM_F_EXCL, NDA_LLADDR then NDA_DST.
 */
export function fdbAddMessage(e: FdbAdd, ifindex: number, seq: number): Buffer {
  const ndm = Buffer.alloc(12);
  ndm.writeUInt8(AF_BRIDGE, 0);
  ndm.writeInt32LE(ifindex, 4);
  ndm.writeUInt16LE(NUD_NOARP | NUD_PERMANENT, 8);
  ndm.writeUInt8(NTF_SELF, 10);
  const body = Buffer.concat([ndm, attr(NDA_LLADDR, Buffer.from(e.mac.split(':').map((x) => parseInt(x, 16)))), attr(NDA_DST, ipBytes(e.dst))]);
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeUInt16LE(RTM_NEWNEIGH, 4);
  h.writeUInt16LE(NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, 6);
  h.writeUInt32LE(seq >>> 0, 8);
  h.writeUInt32LE(0, 12);
  return Buffer.concat([h, body]);
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

/** sysctl(8)'s key → /proc/sys path: dots separate; a '/' inside a part is a '.' of the name (net.ipv6.conf.flannel/1.accept_ra). */
export function sysctlPath(key: string): string {
  const parts = key.split('.').map((p) => p.replace(/\//g, '.'));
  if (!/^net\.[A-Za-z0-9_./-]+$/.test(key) || parts.some((p) => !p || p === '.' || p === '..')) throw new Error(`not a network sysctl key: ${key}`);
  return '/proc/sys/' + parts.join('/');
}
