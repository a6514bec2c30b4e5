// The in-process executor of a namespace's `ip` batch (#16): the main thread enters the namespace (withNetns,
// setns), opens one rtnetlink socket there and sends the plan's lines as requests, up to 64 per send, in order, each
// ack checked; the first failure stops the op with the namespace, the line and the kernel's answer (its extended ack
// message when it gives one, as ip(8) prints it). Device names are resolved to ifindexes inside the namespace when a
// request needs one (after the requests before it were acked: a device created by an earlier line has one by then);
// a veth's peer namespace is opened by name and the fd closed when the op ends. The pure half (which lines, which
// bytes) is harness/runtime/netns/nl-link.ts and nl.ts.
import { c, errno, O_CLOEXEC, strerror } from '../../vtep/ffi.ts';
import { InNsError, withNetns } from './inns.ts';
import type { NlReq } from './nl-link.ts';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;
const NETLINK_ROUTE = 0;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const NLMSG_ERROR = 2;
const NLM_F_ACK_TLVS = 0x200;
const NLMSGERR_ATTR_MSG = 1;
const O_RDONLY = 0;
/** acks queue as whole skbs in the receive buffer until read: 64 per send stays far below its 208 KB (see inns.ts) */
const BATCH = 64;

interface Ack {
  seq: number;
  errno: number;
  /** the kernel's extended ack message (NLMSGERR_ATTR_MSG), when it sent one */
  msg?: string;
}

/** NLMSG_ERROR messages with NETLINK_CAP_ACK (the request echoed as its header only) and NETLINK_EXT_ACK TLVs. */
export function parseExtAcks(buf: Buffer, n: number): Ack[] {
  const out: Ack[] = [];
  let off = 0;
  while (off + 16 <= n) {
    const len = buf.readUInt32LE(off);
    if (len < 16 || off + len > n) break;
    if (buf.readUInt16LE(off + 4) === NLMSG_ERROR && len >= 36) {
      const a: Ack = { seq: buf.readUInt32LE(off + 8), errno: Math.abs(buf.readInt32LE(off + 16)) };
      if (buf.readUInt16LE(off + 6) & NLM_F_ACK_TLVS) {
        for (let t = off + 36; t + 4 <= off + len; ) {
          const tl = buf.readUInt16LE(t);
          if (tl < 4) break;
          if ((buf.readUInt16LE(t + 2) & 0x3fff) === NLMSGERR_ATTR_MSG) a.msg = buf.toString('utf8', t + 4, t + tl).replace(/\0+$/, '');
          t += (tl + 3) & ~3;
        }
      }
      out.push(a);
    }
    off += (len + 3) & ~3;
  }
  return out;
}

/** Send `reqs` in order inside /var/run/netns/NS; `prog` names the program the lines are written for (errors). */
export function applyInNs(ns: string, prog: string, reqs: NlReq[]): void {
  if (!reqs.length) return;
  withNetns(ns, () => {
    const sock = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (sock < 0) throw new InNsError(`netns ${ns}: netlink socket: ${strerror(errno())}`);
    const fds = new Map<string, number>();
    try {
      const one = Buffer.alloc(4);
      one.writeInt32LE(1, 0);
      c.setsockopt(sock, SOL_NETLINK, NETLINK_CAP_ACK, one, 4);
      c.setsockopt(sock, SOL_NETLINK, NETLINK_EXT_ACK, one, 4);
      const index = new Map<string, number>();
      const rbuf = Buffer.alloc(256 * 1024);
      let pending: { seq: number; req: NlReq; buf: Buffer }[] = [];
      const fail = (req: NlReq, why: string) => new InNsError(`netns ${ns}: ${prog} ${req.line}: ${why}`);
      const flush = () => {
        if (!pending.length) return;
        const out = Buffer.concat(pending.map((p) => p.buf));
        const bySeq = new Map(pending.map((p) => [p.seq, p.req]));
        pending = [];
        if (c.write(sock, out, out.length) !== out.length) throw new InNsError(`netns ${ns}: netlink send: ${strerror(errno())}`);
        while (bySeq.size) {
          const n = c.read(sock, rbuf, rbuf.length);
          if (n <= 0) throw new InNsError(`netns ${ns}: netlink recv: ${strerror(errno())}`);
          for (const a of parseExtAcks(rbuf, n)) {
            const req = bySeq.get(a.seq);
            if (!req) continue;
            bySeq.delete(a.seq);
            if (a.errno) throw fail(req, `${a.msg ? `Error: ${a.msg}. ` : ''}RTNETLINK answers: ${strerror(a.errno)}`);
          }
        }
      };
      const ifindex = (name: string) => {
        const ix = index.get(name);
        if (ix === undefined) throw new Error(`internal: ${name} was not resolved`);
        return ix;
      };
      const nsfd = (name: string) => fds.get(name)!;
      let seq = 0;
      for (const req of reqs) {
        for (const d of req.devs) {
          if (index.has(d)) continue;
          flush(); // a device an earlier line creates exists once that line is acked
          const ix = c.ifNameToIndex(d);
          if (!ix) throw fail(req, `Cannot find device "${d}"`);
          index.set(d, ix);
        }
        for (const n of req.netns) {
          if (fds.has(n)) continue;
          const fd = c.open(`/var/run/netns/${n}`, O_RDONLY | O_CLOEXEC);
          if (fd < 0) throw fail(req, `Invalid "netns" value "${n}": ${strerror(errno())}`);
          fds.set(n, fd);
        }
        seq++;
        pending.push({ seq, req, buf: req.build(seq, ifindex, nsfd) });
        if (pending.length >= BATCH) flush();
      }
      flush();
    } finally {
      c.close(sock);
      for (const fd of fds.values()) c.close(fd);
    }
  });
}
