// rtnetlink numbers and the two builders every in-process path shares: the nlmsghdr in front of a request and a
// padded attribute (NLA). One place for them, so the writers (nl.ts, nl-link.ts, nl-fast.ts), the appliers (inns.ts,
// nl-apply.ts) and the state reader (nl-dump.ts) cannot disagree. Values from linux/netlink.h, linux/rtnetlink.h,
// linux/neighbour.h, linux/socket.h, linux/net.h. No I/O here.

// the socket: socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), options at level SOL_NETLINK
export const AF_NETLINK = 16;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0x80000;
export const NETLINK_ROUTE = 0;
export const SOL_NETLINK = 270;
/** acks echo only the request's header, not its whole body */
export const NETLINK_CAP_ACK = 10;
/** acks carry the kernel's extended ack TLVs (a message, the offending attribute) */
export const NETLINK_EXT_ACK = 11;
/** in an ack's flags: TLVs follow the echoed request */
export const NLM_F_ACK_TLVS = 0x200;
/** the extended ack's human-readable message */
export const NLMSGERR_ATTR_MSG = 1;

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;

export const RTM_NEWLINK = 16;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;
export const RTM_NEWNEIGH = 28;
export const RTM_DELNEIGH = 29;
export const RTM_GETNEIGH = 30;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
/** NLM_F_ROOT | NLM_F_MATCH */
export const NLM_F_DUMP = 0x300;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_BRIDGE = 7;
export const AF_INET6 = 10;

/** nlmsghdr (length, type, flags, seq, pid 0) followed by the body */
export function nlHeader(type: number, flags: number, seq: number, body: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(seq >>> 0, 8);
  return Buffer.concat([h, body]);
}

/** an attribute: length (unpadded), type, data, padded with zeros to 4 bytes */
export function attr(type: number, data: Buffer): Buffer {
  const len = 4 + data.length;
  const b = Buffer.alloc((len + 3) & ~3);
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type, 2);
  data.copy(b, 4);
  return b;
}

/** a 32-bit attribute (host order) */
export function u32attr(type: number, v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(8, 0);
  b.writeUInt16LE(type, 2);
  b.writeUInt32LE(v >>> 0, 4);
  return b;
}

// neighbours and FDB entries (ndmsg, NDA_*), routes (rtmsg, RTA_*): what the writers put in a request
export const NUD_NOARP = 0x40;
export const NUD_PERMANENT = 0x80;
export const NTF_SELF = 0x02;
export const NDA_DST = 1;
export const NDA_LLADDR = 2;
export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_METRICS = 8;
export const RTAX_MTU = 2;
export const RTNH_F_ONLINK = 4;
export const RT_TABLE_MAIN = 254;
export const RTPROT_BOOT = 3;
export const RTN_UNSPEC = 0;
export const RTN_UNICAST = 1;
export const RTN_BLACKHOLE = 6;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;
export const RT_SCOPE_NOWHERE = 255;
