// Pure decoder for classic pcap files (not pcapng). No dependencies (beyond the pure address helpers in harness/topology/ip.ts), never throws for a malformed
// packet: every layer that could not be fully decoded says so with `truncated: true` or `error`.
// Only a bad/unsupported file header throws (PcapFormatError).
//
// Output is plain JSON-friendly data (numbers, strings, arrays; no bigint, no Buffers).
// address text lives with the rest of vxlab's address math; re-exported for the decoder's users
import { formatIp4, formatIp6 } from '../topology/ip.ts';
export { formatIp4, formatIp6 };

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_LINUX_SLL2 = 276;

export const DEFAULT_VXLAN_PORTS: readonly number[] = [4789, 8472];

export const ETHERTYPE = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  QINQ: 0x88a8,
  VLAN_9100: 0x9100,
  IPV6: 0x86dd,
} as const;

export const IPPROTO = {
  HOPOPTS: 0,
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  ROUTING: 43,
  FRAGMENT: 44,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  NONE: 59,
  DSTOPTS: 60,
} as const;

const LINKTYPE_NAMES: Record<number, string> = {
  [LINKTYPE_ETHERNET]: 'EN10MB',
  [LINKTYPE_LINUX_SLL]: 'LINUX_SLL',
  [LINKTYPE_LINUX_SLL2]: 'LINUX_SLL2',
};

const SLL_PACKET_TYPES = ['host', 'broadcast', 'multicast', 'otherhost', 'outgoing', 'loopback', 'user', 'kernel'] as const;
export type SllPacketTypeName = (typeof SLL_PACKET_TYPES)[number] | 'unknown';

/** Header kinds recognised while walking an IPv6 extension-header chain. */
const IP6_EXT_NAMES: Record<number, string> = {
  0: 'hop-by-hop',
  43: 'routing',
  44: 'fragment',
  51: 'ah',
  60: 'destination',
  135: 'mobility',
  139: 'hip',
  140: 'shim6',
};

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

export class PcapFormatError extends Error {
  readonly code = 'VXLAB_PCAP_FORMAT';
  constructor(message: string) {
    super(message);
    this.name = 'PcapFormatError';
  }
}

export interface DecodeOptions {
  /** UDP destination ports decoded as VXLAN. Default [4789, 8472]. */
  vxlanPorts?: readonly number[];
  /** Max nesting of encapsulations (VXLAN inner frames, ICMP-quoted packets). Default 4. */
  maxDepth?: number;
}

/** Fields every layer may carry when decoding stopped inside it. */
export interface LayerStatus {
  /** the captured bytes ended before this layer (or its declared payload) was complete */
  truncated?: true;
  /** the bytes present are not a valid header of this kind */
  error?: string;
}

export type LayerName =
  | 'sll'
  | 'eth'
  | 'vlan'
  | 'ip4'
  | 'ip6'
  | 'arp'
  | 'udp'
  | 'tcp'
  | 'icmp'
  | 'icmp6'
  | 'vxlan';

export interface RecordInfo {
  /** 0-based record number in the file */
  index: number;
  /** timestamp, seconds part */
  tsSec: number;
  /** timestamp, nanoseconds part (0..999_999_999); for microsecond files this is usec*1000 */
  tsNsec: number;
  /** bytes of the packet present in the file (record header incl_len) */
  caplen: number;
  /** length of the packet on the wire (record header orig_len) */
  origLen: number;
  /** fewer bytes are present than were on the wire (snaplen cut or file cut) */
  truncated: boolean;
  /** the file ended inside this record: only `available` of `caplen` bytes exist */
  cut?: true;
  /** bytes actually available for decoding (= caplen unless cut) */
  available: number;
}

export interface SllLayer extends LayerStatus {
  version: 1 | 2;
  /** 0 host, 1 broadcast, 2 multicast, 3 otherhost, 4 outgoing, ... */
  packetType: number;
  packetTypeName: SllPacketTypeName;
  /** ARPHRD_* of the interface (1 = Ethernet) */
  arphrdType: number;
  /** link-layer source address; MAC form for 6-byte addresses, otherwise hex bytes joined by ':' */
  addr: string;
  addrLen: number;
  /** protocol (ethertype for ethertype >= 0x600) */
  protocol: number;
  /** SLL2 only: interface index */
  ifindex?: number;
}

export interface EthLayer extends LayerStatus {
  dst: string;
  src: string;
  /** type/length field; < 0x600 means an 802.3 length (LLC follows, not decoded) */
  etherType: number;
}

export interface VlanTag extends LayerStatus {
  /** the tag protocol identifier that introduced this tag (0x8100, 0x88a8, 0x9100) */
  tpid: number;
  pcp: number;
  dei: boolean;
  vid: number;
  /** ethertype following this tag */
  etherType: number;
}

export interface Ip4Option {
  type: number;
  /** total bytes including type/length bytes */
  length: number;
}

export interface Ip4Layer extends LayerStatus {
  version: number;
  /** header length in bytes (IHL*4) */
  headerLength: number;
  tos: number;
  dscp: number;
  ecn: number;
  totalLength: number;
  id: number;
  df: boolean;
  mf: boolean;
  /** fragment offset in BYTES (the header field times 8) */
  fragmentOffset: number;
  /** MF set or offset != 0 */
  isFragment: boolean;
  ttl: number;
  protocol: number;
  checksum: number;
  src: string;
  dst: string;
  options?: Ip4Option[];
  /** bytes of IP payload present (after the header, bounded by totalLength) */
  payloadCaptured: number;
}

export interface Ip6ExtHeader {
  type: number;
  name: string;
  /** header length in bytes */
  length: number;
  /** routing header only */
  routingType?: number;
  segmentsLeft?: number;
}

export interface Ip6Fragment {
  /** offset in BYTES */
  offset: number;
  mf: boolean;
  id: number;
}

export interface Ip6Layer extends LayerStatus {
  version: number;
  trafficClass: number;
  flowLabel: number;
  payloadLength: number;
  /** next-header field of the fixed header */
  nextHeader: number;
  hopLimit: number;
  src: string;
  dst: string;
  extHeaders: Ip6ExtHeader[];
  /** protocol after walking all extension headers (e.g. 58 ICMPv6, 17 UDP, 59 none) */
  finalNextHeader: number;
  fragment?: Ip6Fragment;
  /** bytes of upper-layer payload present */
  payloadCaptured: number;
}

export interface ArpLayer extends LayerStatus {
  htype: number;
  ptype: number;
  hlen: number;
  plen: number;
  op: number;
  opName: 'request' | 'reply' | 'rarp-request' | 'rarp-reply' | 'unknown';
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

export interface UdpLayer extends LayerStatus {
  srcPort: number;
  dstPort: number;
  length: number;
  checksum: number;
  payloadCaptured: number;
}

export interface TcpFlags {
  fin: boolean;
  syn: boolean;
  rst: boolean;
  psh: boolean;
  ack: boolean;
  urg: boolean;
  ece: boolean;
  cwr: boolean;
}

export interface TcpLayer extends LayerStatus {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** header length in bytes */
  headerLength: number;
  /** raw flags byte */
  flagsByte: number;
  flags: TcpFlags;
  window: number;
  payloadCaptured: number;
}

export interface IcmpLayer extends LayerStatus {
  type: number;
  code: number;
  checksum: number;
  /** echo request/reply */
  id?: number;
  seq?: number;
  /** type 3 code 4 (fragmentation needed) */
  nextHopMtu?: number;
  /** for error messages (3, 4, 5, 11, 12): the quoted original datagram, decoded from its IP header */
  quoted?: DecodedPacket;
  payloadCaptured: number;
}

export interface Icmp6Layer extends LayerStatus {
  type: number;
  code: number;
  checksum: number;
  /** echo request/reply (128/129) */
  id?: number;
  seq?: number;
  /** Packet Too Big (type 2) */
  mtu?: number;
  /** neighbor solicitation/advertisement (135/136) */
  targetAddress?: string;
  /** error messages 1-4: the quoted original packet */
  quoted?: DecodedPacket;
  payloadCaptured: number;
}

export interface VxlanLayer extends LayerStatus {
  /** first byte of the header */
  flags: number;
  /** the I (valid VNI) flag, 0x08 */
  iFlag: boolean;
  /** 24 reserved bits after the flags byte */
  reserved1: number;
  vni: number;
  /** 8 reserved bits after the VNI */
  reserved2: number;
  /** the encapsulated Ethernet frame (absent if the header itself is truncated) */
  inner?: DecodedPacket;
}

export interface DecodedPacket {
  /** record metadata; only on top-level packets decoded from a file */
  record?: RecordInfo;
  /** the layers decoded, outermost first */
  layers: LayerName[];
  sll?: SllLayer;
  eth?: EthLayer;
  vlan?: VlanTag[];
  arp?: ArpLayer;
  ip4?: Ip4Layer;
  ip6?: Ip6Layer;
  udp?: UdpLayer;
  tcp?: TcpLayer;
  icmp?: IcmpLayer;
  icmp6?: Icmp6Layer;
  vxlan?: VxlanLayer;
  /** some layer is truncated */
  truncated?: true;
  /** layer at which decoding stopped because of truncation or an error */
  stoppedAt?: LayerName;
  /** first decode error encountered, prefixed with the layer name */
  error?: string;
  /** why decoding ended without error before reaching an application payload, e.g. 'ethertype 0x88cc' */
  unsupported?: string;
}

export interface PcapFile {
  byteOrder: 'le' | 'be';
  tsPrecision: 'us' | 'ns';
  versionMajor: number;
  versionMinor: number;
  thiszone: number;
  snaplen: number;
  linkType: number;
  linkTypeName: string;
  packets: DecodedPacket[];
  /** the file ended inside a record (header or data) */
  truncatedFile?: true;
  /** reading records stopped early for this reason (e.g. an absurd record length) */
  error?: string;
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

export function formatMac(b: Uint8Array, off = 0, len = 6): string {
  const parts: string[] = [];
  for (let i = 0; i < len; i++) parts.push(b[off + i]!.toString(16).padStart(2, '0'));
  return parts.join(':');
}

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
function u24(b: Uint8Array, o: number): number {
  return (b[o]! << 16) | (b[o + 1]! << 8) | b[o + 2]!;
}
function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) >>> 0) + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
}

function hexAddr(b: Uint8Array, off: number, len: number): string {
  return len === 6 ? formatMac(b, off, 6) : formatMac(b, off, len);
}

/** Timestamp of a record as integer nanoseconds since the epoch. */
export function recordTimeNs(r: Pick<RecordInfo, 'tsSec' | 'tsNsec'>): bigint {
  return BigInt(r.tsSec) * 1_000_000_000n + BigInt(r.tsNsec);
}

// ---------------------------------------------------------------------------------------------
// Packet decoder
// ---------------------------------------------------------------------------------------------

interface Ctx {
  vxlanPorts: ReadonlySet<number>;
  depth: number;
  maxDepth: number;
}

function newPacket(): DecodedPacket {
  return { layers: [] };
}

function stop(p: DecodedPacket, layer: LayerName, l: LayerStatus, kind: 'truncated' | 'error', msg?: string): void {
  if (kind === 'truncated') {
    l.truncated = true;
    p.truncated = true;
  } else {
    l.error = msg ?? 'invalid';
    p.error ??= `${layer}: ${l.error}`;
  }
  p.stoppedAt ??= layer;
}

/** mark truncation on a layer whose header decoded fine but whose payload is short */
function markShort(p: DecodedPacket, l: LayerStatus): void {
  l.truncated = true;
  p.truncated = true;
}

/**
 * Decode one frame of the given link type. `data` holds the captured bytes only.
 * Never throws.
 */
export function decodePacket(data: Uint8Array, linkType: number, opts: DecodeOptions = {}): DecodedPacket {
  const ctx: Ctx = {
    vxlanPorts: new Set(opts.vxlanPorts ?? DEFAULT_VXLAN_PORTS),
    depth: 0,
    maxDepth: opts.maxDepth ?? 4,
  };
  const p = newPacket();
  try {
    decodeLink(p, data, linkType, ctx);
  } catch (e) {
    // defensive: a decoder bug must not take the test run down
    p.error ??= `internal: ${(e as Error)?.message ?? String(e)}`;
  }
  return p;
}

function decodeLink(p: DecodedPacket, b: Uint8Array, linkType: number, ctx: Ctx): void {
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      decodeEthernet(p, b, 0, b.length, ctx);
      return;
    case LINKTYPE_LINUX_SLL:
      decodeSll(p, b, ctx);
      return;
    case LINKTYPE_LINUX_SLL2:
      decodeSll2(p, b, ctx);
      return;
    default:
      p.unsupported = `link type ${linkType}`;
  }
}

function packetTypeName(t: number): SllPacketTypeName {
  return SLL_PACKET_TYPES[t] ?? 'unknown';
}

function decodeSll(p: DecodedPacket, b: Uint8Array, ctx: Ctx): void {
  const l: SllLayer = { version: 1, packetType: 0, packetTypeName: 'host', arphrdType: 0, addr: '', addrLen: 0, protocol: 0 };
  p.sll = l;
  p.layers.push('sll');
  if (b.length < 16) {
    if (b.length >= 2) {
      l.packetType = u16(b, 0);
      l.packetTypeName = packetTypeName(l.packetType);
    }
    return stop(p, 'sll', l, 'truncated');
  }
  l.packetType = u16(b, 0);
  l.packetTypeName = packetTypeName(l.packetType);
  l.arphrdType = u16(b, 2);
  l.addrLen = u16(b, 4);
  l.addr = hexAddr(b, 6, Math.min(l.addrLen, 8));
  l.protocol = u16(b, 14);
  decodeSllPayload(p, b, 16, l, ctx);
}

function decodeSll2(p: DecodedPacket, b: Uint8Array, ctx: Ctx): void {
  const l: SllLayer = { version: 2, packetType: 0, packetTypeName: 'host', arphrdType: 0, addr: '', addrLen: 0, protocol: 0 };
  p.sll = l;
  p.layers.push('sll');
  if (b.length < 20) {
    if (b.length >= 2) l.protocol = u16(b, 0);
    if (b.length >= 8) l.ifindex = u32(b, 4);
    if (b.length >= 11) {
      l.packetType = b[10]!;
      l.packetTypeName = packetTypeName(l.packetType);
    }
    return stop(p, 'sll', l, 'truncated');
  }
  l.protocol = u16(b, 0);
  l.ifindex = u32(b, 4);
  l.arphrdType = u16(b, 8);
  l.packetType = b[10]!;
  l.packetTypeName = packetTypeName(l.packetType);
  l.addrLen = b[11]!;
  l.addr = hexAddr(b, 12, Math.min(l.addrLen, 8));
  decodeSllPayload(p, b, 20, l, ctx);
}

function decodeSllPayload(p: DecodedPacket, b: Uint8Array, off: number, l: SllLayer, ctx: Ctx): void {
  if (l.protocol >= 0x600) {
    decodeEtherType(p, b, off, b.length, l.protocol, ctx);
  } else {
    // 0x0001 802.3 w/o LLC, 0x0004 802.2 LLC, 0x000c CAN, ... not decoded
    p.unsupported = `sll protocol 0x${l.protocol.toString(16).padStart(4, '0')}`;
  }
}

function decodeEthernet(p: DecodedPacket, b: Uint8Array, off: number, end: number, ctx: Ctx): void {
  const l: EthLayer = { dst: '', src: '', etherType: 0 };
  p.eth = l;
  p.layers.push('eth');
  const avail = end - off;
  if (avail >= 6) l.dst = formatMac(b, off);
  if (avail >= 12) l.src = formatMac(b, off + 6);
  if (avail < 14) return stop(p, 'eth', l, 'truncated');
  l.etherType = u16(b, off + 12);
  if (l.etherType < 0x600) {
    p.unsupported = `802.3 length frame (${l.etherType})`;
    return;
  }
  decodeEtherType(p, b, off + 14, end, l.etherType, ctx);
}

function decodeEtherType(p: DecodedPacket, b: Uint8Array, off: number, end: number, etherType: number, ctx: Ctx): void {
  let et = etherType;
  while (et === ETHERTYPE.VLAN || et === ETHERTYPE.QINQ || et === ETHERTYPE.VLAN_9100) {
    const tag: VlanTag = { tpid: et, pcp: 0, dei: false, vid: 0, etherType: 0 };
    if (!p.vlan) {
      p.vlan = [];
      p.layers.push('vlan');
    }
    p.vlan.push(tag);
    if (end - off < 4) {
      if (end - off >= 2) {
        const tci = u16(b, off);
        tag.pcp = tci >> 13;
        tag.dei = Boolean(tci & 0x1000);
        tag.vid = tci & 0x0fff;
      }
      return stop(p, 'vlan', tag, 'truncated');
    }
    const tci = u16(b, off);
    tag.pcp = tci >> 13;
    tag.dei = Boolean(tci & 0x1000);
    tag.vid = tci & 0x0fff;
    tag.etherType = u16(b, off + 2);
    et = tag.etherType;
    off += 4;
  }
  switch (et) {
    case ETHERTYPE.IPV4:
      return decodeIp4(p, b, off, end, ctx);
    case ETHERTYPE.IPV6:
      return decodeIp6(p, b, off, end, ctx);
    case ETHERTYPE.ARP:
      return decodeArp(p, b, off, end);
    default:
      p.unsupported = `ethertype 0x${et.toString(16).padStart(4, '0')}`;
  }
}

function decodeArp(p: DecodedPacket, b: Uint8Array, off: number, end: number): void {
  const l: ArpLayer = {
    htype: 0, ptype: 0, hlen: 0, plen: 0, op: 0, opName: 'unknown',
    senderMac: '', senderIp: '', targetMac: '', targetIp: '',
  };
  p.arp = l;
  p.layers.push('arp');
  if (end - off < 8) return stop(p, 'arp', l, 'truncated');
  l.htype = u16(b, off);
  l.ptype = u16(b, off + 2);
  l.hlen = b[off + 4]!;
  l.plen = b[off + 5]!;
  l.op = u16(b, off + 6);
  l.opName = l.op === 1 ? 'request' : l.op === 2 ? 'reply' : l.op === 3 ? 'rarp-request' : l.op === 4 ? 'rarp-reply' : 'unknown';
  const need = 8 + 2 * (l.hlen + l.plen);
  if (end - off < need) return stop(p, 'arp', l, 'truncated');
  const addr = (o: number, len: number, isIp: boolean) =>
    isIp && len === 4 ? formatIp4(b, o) : isIp && len === 16 ? formatIp6(b, o) : hexAddr(b, o, len);
  const isIp = l.ptype === ETHERTYPE.IPV4 || l.ptype === ETHERTYPE.IPV6;
  let o = off + 8;
  l.senderMac = hexAddr(b, o, l.hlen);
  o += l.hlen;
  l.senderIp = addr(o, l.plen, isIp);
  o += l.plen;
  l.targetMac = hexAddr(b, o, l.hlen);
  o += l.hlen;
  l.targetIp = addr(o, l.plen, isIp);
}

function decodeIp4(p: DecodedPacket, b: Uint8Array, off: number, end: number, ctx: Ctx): void {
  const l: Ip4Layer = {
    version: 4, headerLength: 0, tos: 0, dscp: 0, ecn: 0, totalLength: 0, id: 0, df: false, mf: false,
    fragmentOffset: 0, isFragment: false, ttl: 0, protocol: 0, checksum: 0, src: '', dst: '', payloadCaptured: 0,
  };
  p.ip4 = l;
  p.layers.push('ip4');
  const avail = end - off;
  if (avail < 1) return stop(p, 'ip4', l, 'truncated');
  l.version = b[off]! >> 4;
  l.headerLength = (b[off]! & 0x0f) * 4;
  if (l.version !== 4) return stop(p, 'ip4', l, 'error', `version ${l.version} is not 4`);
  if (l.headerLength < 20) return stop(p, 'ip4', l, 'error', `header length ${l.headerLength} < 20`);
  if (avail < 20) {
    if (avail >= 4) l.totalLength = u16(b, off + 2);
    return stop(p, 'ip4', l, 'truncated');
  }
  l.tos = b[off + 1]!;
  l.dscp = l.tos >> 2;
  l.ecn = l.tos & 3;
  l.totalLength = u16(b, off + 2);
  l.id = u16(b, off + 4);
  const ff = u16(b, off + 6);
  l.df = Boolean(ff & 0x4000);
  l.mf = Boolean(ff & 0x2000);
  l.fragmentOffset = (ff & 0x1fff) * 8;
  l.isFragment = l.mf || l.fragmentOffset !== 0;
  l.ttl = b[off + 8]!;
  l.protocol = b[off + 9]!;
  l.checksum = u16(b, off + 10);
  l.src = formatIp4(b, off + 12);
  l.dst = formatIp4(b, off + 16);
  if (l.totalLength < l.headerLength) {
    return stop(p, 'ip4', l, 'error', `total length ${l.totalLength} < header length ${l.headerLength}`);
  }
  if (avail < l.headerLength) return stop(p, 'ip4', l, 'truncated');
  if (l.headerLength > 20) l.options = parseIp4Options(b, off + 20, off + l.headerLength);
  // bound by the IP total length (strips Ethernet padding); short capture => truncated
  const ipEnd = off + l.totalLength;
  const payEnd = Math.min(end, ipEnd);
  const payOff = off + l.headerLength;
  l.payloadCaptured = payEnd - payOff;
  if (ipEnd > end) markShort(p, l);
  if (l.fragmentOffset !== 0) {
    // non-first fragment: payload is the middle of some upper-layer datagram, never a header
    return;
  }
  decodeL4(p, b, payOff, payEnd, l.protocol, l.isFragment, ctx);
  if (l.truncated && !p.stoppedAt) {
    // the IP datagram itself was cut; say so even if the upper layer looked complete
    p.stoppedAt = p.layers[p.layers.length - 1];
  }
}

function parseIp4Options(b: Uint8Array, off: number, end: number): Ip4Option[] {
  const out: Ip4Option[] = [];
  let o = off;
  while (o < end) {
    const type = b[o]!;
    if (type === 0) {
      out.push({ type, length: 1 });
      break;
    }
    if (type === 1) {
      out.push({ type, length: 1 });
      o++;
      continue;
    }
    if (o + 1 >= end) {
      out.push({ type, length: end - o });
      break;
    }
    const len = b[o + 1]!;
    if (len < 2 || o + len > end) {
      out.push({ type, length: end - o });
      break;
    }
    out.push({ type, length: len });
    o += len;
  }
  return out;
}

function decodeIp6(p: DecodedPacket, b: Uint8Array, off: number, end: number, ctx: Ctx): void {
  const l: Ip6Layer = {
    version: 6, trafficClass: 0, flowLabel: 0, payloadLength: 0, nextHeader: 0, hopLimit: 0, src: '', dst: '',
    extHeaders: [], finalNextHeader: 0, payloadCaptured: 0,
  };
  p.ip6 = l;
  p.layers.push('ip6');
  const avail = end - off;
  if (avail < 1) return stop(p, 'ip6', l, 'truncated');
  l.version = b[off]! >> 4;
  if (l.version !== 6) return stop(p, 'ip6', l, 'error', `version ${l.version} is not 6`);
  if (avail < 40) return stop(p, 'ip6', l, 'truncated');
  const w = u32(b, off);
  l.trafficClass = (w >>> 20) & 0xff;
  l.flowLabel = w & 0xfffff;
  l.payloadLength = u16(b, off + 4);
  l.nextHeader = b[off + 6]!;
  l.hopLimit = b[off + 7]!;
  l.src = formatIp6(b, off + 8);
  l.dst = formatIp6(b, off + 24);
  // payloadLength 0 with hop-by-hop may be a jumbogram: then use what we have
  const ipEnd = l.payloadLength === 0 && l.nextHeader === IPPROTO.HOPOPTS ? end : off + 40 + l.payloadLength;
  const payEnd = Math.min(end, ipEnd);
  if (ipEnd > end) markShort(p, l);
  let o = off + 40;
  let nh = l.nextHeader;
  for (let guard = 0; guard < 32; guard++) {
    const name = IP6_EXT_NAMES[nh];
    if (name === undefined) break;
    if (nh === IPPROTO.FRAGMENT) {
      if (payEnd - o < 8) {
        l.finalNextHeader = nh;
        l.payloadCaptured = Math.max(0, payEnd - o);
        return stop(p, 'ip6', l, 'truncated');
      }
      const fo = u16(b, o + 2);
      l.fragment = { offset: fo & 0xfff8, mf: Boolean(fo & 1), id: u32(b, o + 4) };
      l.extHeaders.push({ type: nh, name, length: 8 });
      nh = b[o]!;
      o += 8;
      continue;
    }
    if (payEnd - o < 2) {
      l.finalNextHeader = nh;
      l.payloadCaptured = Math.max(0, payEnd - o);
      return stop(p, 'ip6', l, 'truncated');
    }
    const len = nh === IPPROTO.AH ? (b[o + 1]! + 2) * 4 : (b[o + 1]! + 1) * 8;
    const ext: Ip6ExtHeader = { type: nh, name, length: len };
    if (nh === IPPROTO.ROUTING && payEnd - o >= 4) {
      ext.routingType = b[o + 2]!;
      ext.segmentsLeft = b[o + 3]!;
    }
    l.extHeaders.push(ext);
    if (payEnd - o < len) {
      l.finalNextHeader = nh;
      l.payloadCaptured = Math.max(0, payEnd - o);
      return stop(p, 'ip6', l, 'truncated');
    }
    nh = b[o]!;
    o += len;
  }
  l.finalNextHeader = nh;
  l.payloadCaptured = payEnd - o;
  if (l.fragment && l.fragment.offset !== 0) return; // non-first fragment: no upper-layer header here
  decodeL4(p, b, o, payEnd, nh, Boolean(l.fragment), ctx);
  if (l.truncated && !p.stoppedAt) p.stoppedAt = p.layers[p.layers.length - 1];
}

function decodeL4(p: DecodedPacket, b: Uint8Array, off: number, end: number, proto: number, fragmented: boolean, ctx: Ctx): void {
  switch (proto) {
    case IPPROTO.UDP:
      return decodeUdp(p, b, off, end, fragmented, ctx);
    case IPPROTO.TCP:
      return decodeTcp(p, b, off, end);
    case IPPROTO.ICMP:
      return decodeIcmp(p, b, off, end, ctx);
    case IPPROTO.ICMPV6:
      return decodeIcmp6(p, b, off, end, ctx);
    case IPPROTO.NONE:
      return;
    default:
      p.unsupported = `ip protocol ${proto}`;
  }
}

function decodeUdp(p: DecodedPacket, b: Uint8Array, off: number, end: number, fragmented: boolean, ctx: Ctx): void {
  const l: UdpLayer = { srcPort: 0, dstPort: 0, length: 0, checksum: 0, payloadCaptured: 0 };
  p.udp = l;
  p.layers.push('udp');
  const avail = end - off;
  if (avail >= 4) {
    l.srcPort = u16(b, off);
    l.dstPort = u16(b, off + 2);
  }
  if (avail < 8) return stop(p, 'udp', l, 'truncated');
  l.length = u16(b, off + 4);
  l.checksum = u16(b, off + 6);
  if (l.length < 8) return stop(p, 'udp', l, 'error', `length ${l.length} < 8`);
  const udpEnd = off + l.length;
  const payEnd = Math.min(end, udpEnd);
  l.payloadCaptured = payEnd - (off + 8);
  // a first fragment legitimately carries less than udp.length; that is not a capture truncation
  if (udpEnd > end && !fragmented) markShort(p, l);
  if (ctx.vxlanPorts.has(l.dstPort)) decodeVxlan(p, b, off + 8, payEnd, fragmented, ctx);
}

function decodeVxlan(p: DecodedPacket, b: Uint8Array, off: number, end: number, fragmented: boolean, ctx: Ctx): void {
  const l: VxlanLayer = { flags: 0, iFlag: false, reserved1: 0, vni: 0, reserved2: 0 };
  p.vxlan = l;
  p.layers.push('vxlan');
  const avail = end - off;
  if (avail >= 1) {
    l.flags = b[off]!;
    l.iFlag = Boolean(l.flags & 0x08);
  }
  if (avail < 8) {
    if (avail >= 4) l.reserved1 = u24(b, off + 1);
    if (avail >= 7) l.vni = u24(b, off + 4);
    return stop(p, 'vxlan', l, 'truncated');
  }
  l.reserved1 = u24(b, off + 1);
  l.vni = u24(b, off + 4);
  l.reserved2 = b[off + 7]!;
  if (ctx.depth >= ctx.maxDepth) {
    p.unsupported = 'max encapsulation depth reached';
    return;
  }
  const inner = newPacket();
  l.inner = inner;
  ctx.depth++;
  try {
    decodeEthernet(inner, b, off + 8, end, ctx);
  } finally {
    ctx.depth--;
  }
  // In the first fragment of a fragmented outer datagram the inner frame is necessarily incomplete;
  // the inner packet says so itself, but the outer record was captured in full.
  if (inner.truncated && !fragmented) p.truncated = true;
  if (inner.error || (inner.stoppedAt && !fragmented)) p.stoppedAt ??= 'vxlan';
}

function decodeTcp(p: DecodedPacket, b: Uint8Array, off: number, end: number): void {
  const l: TcpLayer = {
    srcPort: 0, dstPort: 0, seq: 0, ack: 0, headerLength: 0, flagsByte: 0,
    flags: { fin: false, syn: false, rst: false, psh: false, ack: false, urg: false, ece: false, cwr: false },
    window: 0, payloadCaptured: 0,
  };
  p.tcp = l;
  p.layers.push('tcp');
  const avail = end - off;
  if (avail >= 4) {
    l.srcPort = u16(b, off);
    l.dstPort = u16(b, off + 2);
  }
  if (avail >= 8) l.seq = u32(b, off + 4);
  if (avail < 20) return stop(p, 'tcp', l, 'truncated');
  l.ack = u32(b, off + 8);
  l.headerLength = (b[off + 12]! >> 4) * 4;
  const f = b[off + 13]!;
  l.flagsByte = f;
  l.flags = {
    fin: Boolean(f & 0x01), syn: Boolean(f & 0x02), rst: Boolean(f & 0x04), psh: Boolean(f & 0x08),
    ack: Boolean(f & 0x10), urg: Boolean(f & 0x20), ece: Boolean(f & 0x40), cwr: Boolean(f & 0x80),
  };
  l.window = u16(b, off + 14);
  if (l.headerLength < 20) return stop(p, 'tcp', l, 'error', `data offset ${l.headerLength} < 20`);
  if (avail < l.headerLength) return stop(p, 'tcp', l, 'truncated');
  l.payloadCaptured = avail - l.headerLength;
}

const ICMP_ERROR_TYPES = new Set([3, 4, 5, 11, 12]);

function decodeQuoted(b: Uint8Array, off: number, end: number, v6: boolean, ctx: Ctx): DecodedPacket | undefined {
  if (end <= off || ctx.depth >= ctx.maxDepth) return undefined;
  const q = newPacket();
  ctx.depth++;
  try {
    if (v6) decodeIp6(q, b, off, end, ctx);
    else decodeIp4(q, b, off, end, ctx);
  } finally {
    ctx.depth--;
  }
  return q;
}

function decodeIcmp(p: DecodedPacket, b: Uint8Array, off: number, end: number, ctx: Ctx): void {
  const l: IcmpLayer = { type: 0, code: 0, checksum: 0, payloadCaptured: 0 };
  p.icmp = l;
  p.layers.push('icmp');
  const avail = end - off;
  if (avail >= 1) l.type = b[off]!;
  if (avail >= 2) l.code = b[off + 1]!;
  if (avail < 4) return stop(p, 'icmp', l, 'truncated');
  l.checksum = u16(b, off + 2);
  const needs8 = l.type === 0 || l.type === 8 || ICMP_ERROR_TYPES.has(l.type) || l.type === 13 || l.type === 14;
  if (needs8 && avail < 8) return stop(p, 'icmp', l, 'truncated');
  l.payloadCaptured = Math.max(0, avail - 8);
  if (l.type === 0 || l.type === 8 || l.type === 13 || l.type === 14) {
    l.id = u16(b, off + 4);
    l.seq = u16(b, off + 6);
  }
  if (l.type === 3 && l.code === 4) l.nextHopMtu = u16(b, off + 6);
  if (ICMP_ERROR_TYPES.has(l.type)) {
    const q = decodeQuoted(b, off + 8, end, false, ctx);
    if (q) l.quoted = q;
  }
}

function decodeIcmp6(p: DecodedPacket, b: Uint8Array, off: number, end: number, ctx: Ctx): void {
  const l: Icmp6Layer = { type: 0, code: 0, checksum: 0, payloadCaptured: 0 };
  p.icmp6 = l;
  p.layers.push('icmp6');
  const avail = end - off;
  if (avail >= 1) l.type = b[off]!;
  if (avail >= 2) l.code = b[off + 1]!;
  if (avail < 4) return stop(p, 'icmp6', l, 'truncated');
  l.checksum = u16(b, off + 2);
  const isEcho = l.type === 128 || l.type === 129;
  const isError = l.type >= 1 && l.type <= 4;
  if ((isEcho || isError) && avail < 8) return stop(p, 'icmp6', l, 'truncated');
  l.payloadCaptured = Math.max(0, avail - 8);
  if (isEcho) {
    l.id = u16(b, off + 4);
    l.seq = u16(b, off + 6);
  }
  if (l.type === 2) l.mtu = u32(b, off + 4);
  if (l.type === 135 || l.type === 136) {
    if (avail < 24) return stop(p, 'icmp6', l, 'truncated');
    l.targetAddress = formatIp6(b, off + 8);
  }
  if (isError) {
    const q = decodeQuoted(b, off + 8, end, true, ctx);
    if (q) l.quoted = q;
  }
}

// ---------------------------------------------------------------------------------------------
// File decoder
// ---------------------------------------------------------------------------------------------

const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;
const MAGIC_US_SWAPPED = 0xd4c3b2a1;
const MAGIC_NS_SWAPPED = 0x4d3cb2a1;
const MAGIC_PCAPNG = 0x0a0d0d0a;
const MAGIC_KUZNETZOV = 0xa1b2cd34;
/** records larger than this are treated as corruption (libpcap's own limit is 256 KiB for most links) */
const MAX_RECORD = 16 * 1024 * 1024;

export interface PcapHeader {
  byteOrder: 'le' | 'be';
  tsPrecision: 'us' | 'ns';
  versionMajor: number;
  versionMinor: number;
  thiszone: number;
  snaplen: number;
  linkType: number;
  linkTypeName: string;
}

export function linkTypeName(t: number): string {
  return LINKTYPE_NAMES[t] ?? `LINKTYPE_${t}`;
}

/** Parse the 24-byte global header. Throws PcapFormatError on anything that is not classic pcap. */
export function parsePcapHeader(buf: Uint8Array): PcapHeader {
  if (buf.length < 24) {
    throw new PcapFormatError(`not a pcap file: ${buf.length} bytes is shorter than the 24-byte pcap file header`);
  }
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magicLE = dv.getUint32(0, true);
  let le: boolean;
  let ns: boolean;
  switch (magicLE) {
    case MAGIC_US: le = true; ns = false; break;
    case MAGIC_NS: le = true; ns = true; break;
    case MAGIC_US_SWAPPED: le = false; ns = false; break;
    case MAGIC_NS_SWAPPED: le = false; ns = true; break;
    case MAGIC_PCAPNG:
      throw new PcapFormatError('pcapng files are not supported (magic 0a0d0d0a); write classic pcap (tcpdump -w does by default)');
    default: {
      const magicBE = dv.getUint32(0, false);
      if (magicLE === MAGIC_KUZNETZOV || magicBE === MAGIC_KUZNETZOV) {
        throw new PcapFormatError('modified (Kuznetzov) pcap format is not supported (magic a1b2cd34)');
      }
      throw new PcapFormatError(`not a pcap file: bad magic 0x${magicBE.toString(16).padStart(8, '0')}`);
    }
  }
  const versionMajor = dv.getUint16(4, le);
  const versionMinor = dv.getUint16(6, le);
  if (versionMajor !== 2) {
    throw new PcapFormatError(`unsupported pcap version ${versionMajor}.${versionMinor} (expected 2.x)`);
  }
  const linkField = dv.getUint32(20, le);
  const linkType = linkField & 0xffff;
  return {
    byteOrder: le ? 'le' : 'be',
    tsPrecision: ns ? 'ns' : 'us',
    versionMajor,
    versionMinor,
    thiszone: dv.getInt32(8, le),
    snaplen: dv.getUint32(16, le),
    linkType,
    linkTypeName: linkTypeName(linkType),
  };
}

/** Decode a whole classic pcap file held in memory. */
export function decodePcap(buf: Uint8Array, opts: DecodeOptions = {}): PcapFile {
  const h = parsePcapHeader(buf);
  const le = h.byteOrder === 'le';
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: PcapFile = { ...h, packets: [] };
  let off = 24;
  let index = 0;
  while (off < buf.length) {
    if (buf.length - off < 16) {
      out.truncatedFile = true;
      break;
    }
    const tsSec = dv.getUint32(off, le);
    const frac = dv.getUint32(off + 4, le);
    const caplen = dv.getUint32(off + 8, le);
    const origLen = dv.getUint32(off + 12, le);
    if (caplen > MAX_RECORD) {
      out.error = `record ${index} at byte ${off}: captured length ${caplen} is implausible; stopped reading`;
      break;
    }
    const dataOff = off + 16;
    const available = Math.min(caplen, buf.length - dataOff);
    const data = buf.subarray(dataOff, dataOff + available);
    const rec: RecordInfo = {
      index,
      tsSec,
      tsNsec: h.tsPrecision === 'ns' ? frac : frac * 1000,
      caplen,
      origLen,
      truncated: available < origLen,
      available,
    };
    if (available < caplen) {
      rec.cut = true;
      out.truncatedFile = true;
    }
    const pkt = decodePacket(data, h.linkType, opts);
    out.packets.push({ record: rec, ...pkt });
    off = dataOff + caplen;
    index++;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Text rendering
// ---------------------------------------------------------------------------------------------

export interface SummarizeOptions {
  /** prefix with the record timestamp (seconds.fraction). Default true when the packet has a record. */
  time?: boolean;
  /** print link-layer addresses like tcpdump -e. Default false for the outer frame; inner VXLAN frames always show MACs. */
  ether?: boolean;
}

function icmpText(l: IcmpLayer): string {
  switch (l.type) {
    case 8: return `ICMP echo request, id ${l.id}, seq ${l.seq}`;
    case 0: return `ICMP echo reply, id ${l.id}, seq ${l.seq}`;
    case 3:
      return l.code === 4
        ? `ICMP unreachable - need to frag (mtu ${l.nextHopMtu})`
        : `ICMP unreachable, code ${l.code}`;
    case 11: return `ICMP time exceeded, code ${l.code}`;
    default: return `ICMP type ${l.type}, code ${l.code}`;
  }
}

function icmp6Text(l: Icmp6Layer): string {
  switch (l.type) {
    case 128: return `ICMP6, echo request, id ${l.id}, seq ${l.seq}`;
    case 129: return `ICMP6, echo reply, id ${l.id}, seq ${l.seq}`;
    case 1: return `ICMP6, destination unreachable, code ${l.code}`;
    case 2: return `ICMP6, packet too big, mtu ${l.mtu}`;
    case 3: return `ICMP6, time exceeded, code ${l.code}`;
    case 135: return `ICMP6, neighbor solicitation, who has ${l.targetAddress ?? '?'}`;
    case 136: return `ICMP6, neighbor advertisement, tgt is ${l.targetAddress ?? '?'}`;
    default: return `ICMP6, type ${l.type}, code ${l.code}`;
  }
}

function tcpFlagText(f: TcpFlags): string {
  let s = '';
  if (f.fin) s += 'F';
  if (f.syn) s += 'S';
  if (f.rst) s += 'R';
  if (f.psh) s += 'P';
  if (f.urg) s += 'U';
  if (f.ece) s += 'E';
  if (f.cwr) s += 'W';
  if (f.ack) s += '.';
  return s || 'none';
}

function vxlanText(v: VxlanLayer): string {
  let s = `VXLAN, flags [${v.iFlag ? 'I' : '.'}] (0x${v.flags.toString(16).padStart(2, '0')}), vni ${v.vni}`;
  if (v.reserved1 || v.reserved2) s += `, reserved 0x${v.reserved1.toString(16)}/0x${v.reserved2.toString(16)}`;
  return s;
}

/** length of the upper-layer data as tcpdump reports it for ICMP/ICMPv6 */
function l4Length(p: DecodedPacket): number {
  if (p.ip4) return Math.max(0, p.ip4.totalLength - p.ip4.headerLength);
  if (p.ip6) return Math.max(0, p.ip6.payloadLength - p.ip6.extHeaders.reduce((n, e) => n + e.length, 0));
  return 0;
}

function body(p: DecodedPacket, ether: boolean): string {
  const out: string[] = [];
  if (p.sll) {
    const t = p.sll.packetTypeName;
    const dir = t === 'outgoing' ? 'Out' : t === 'host' ? 'In' : t === 'broadcast' ? 'B' : t === 'multicast' ? 'M' : t === 'otherhost' ? 'P' : t;
    out.push(p.sll.ifindex !== undefined ? `if${p.sll.ifindex} ${dir}` : dir);
    if (ether && p.sll.addr) out.push(`${p.sll.addr}`);
  }
  if (p.eth && ether) out.push(`${p.eth.src || '?'} > ${p.eth.dst || '?'},`);
  for (const v of p.vlan ?? []) {
    out.push(`vlan ${v.vid}${v.pcp ? ` p ${v.pcp}` : ''}${v.tpid !== ETHERTYPE.VLAN ? ` (tpid 0x${v.tpid.toString(16)})` : ''},`);
  }
  const ip = p.ip4 ?? p.ip6;
  if (p.arp) {
    const a = p.arp;
    if (a.op === 1) out.push(`ARP, Request who-has ${a.targetIp} tell ${a.senderIp}`);
    else if (a.op === 2) out.push(`ARP, Reply ${a.senderIp} is-at ${a.senderMac}`);
    else out.push(`ARP, op ${a.op}`);
  } else if (ip) {
    const kind = p.ip4 ? 'IP' : 'IP6';
    const l4 = p.udp ?? p.tcp;
    let s = l4 ? `${kind} ${ip.src}.${l4.srcPort} > ${ip.dst}.${l4.dstPort}` : `${kind} ${ip.src} > ${ip.dst}`;
    const frag = p.ip4?.isFragment
      ? { id: p.ip4.id, offset: p.ip4.fragmentOffset, mf: p.ip4.mf }
      : p.ip6?.fragment;
    if (frag) s += ` (frag id ${frag.id} off ${frag.offset}${frag.mf ? ' MF' : ''})`;
    if (p.vxlan) {
      s += `: ${vxlanText(p.vxlan)}`;
      if (p.vxlan.inner) s += ` | ${body(p.vxlan.inner, true)}`;
    } else if (p.udp) {
      s += `: UDP, length ${Math.max(0, p.udp.length - 8)}`;
    } else if (p.tcp) {
      s += `: Flags [${tcpFlagText(p.tcp.flags)}], seq ${p.tcp.seq}, length ${p.tcp.payloadCaptured}`;
    } else if (p.icmp) {
      s += `: ${icmpText(p.icmp)}, length ${l4Length(p)}`;
    } else if (p.icmp6) {
      s += `: ${icmp6Text(p.icmp6)}, length ${l4Length(p)}`;
    } else if (frag && frag.offset !== 0) {
      s += `: proto ${p.ip4 ? p.ip4.protocol : p.ip6!.finalNextHeader}, length ${ip.payloadCaptured}`;
    } else {
      s += `: length ${ip.payloadCaptured}`;
    }
    out.push(s);
  } else if (p.eth && !ether) {
    out.push(`${p.eth.src} > ${p.eth.dst}, ethertype 0x${p.eth.etherType.toString(16).padStart(4, '0')}`);
  } else if (p.eth) {
    out.push(`ethertype 0x${p.eth.etherType.toString(16).padStart(4, '0')}`);
  }
  if (p.unsupported && !p.arp && !ip) out.push(`[${p.unsupported}]`);
  if (p.error) out.push(`[error ${p.error}]`);
  else if (p.truncated && p.stoppedAt) out.push(`[|${p.stoppedAt}]`);
  return out.join(' ') || '[empty]';
}

/** One line, tcpdump-like. Handy in assertion messages. */
export function summarize(p: DecodedPacket, opts: SummarizeOptions = {}): string {
  const showTime = opts.time ?? Boolean(p.record);
  let prefix = '';
  if (showTime && p.record) {
    prefix = `${p.record.tsSec}.${String(p.record.tsNsec).padStart(9, '0')} `;
  }
  return prefix + body(p, opts.ether ?? false);
}
