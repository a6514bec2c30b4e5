// The in-process executor of a namespace's `ip` batch (#16): the main thread enters the namespace (withNetns,
// setns), opens one rtnetlink socket there and sends the plan's lines as requests, up to 128 per send, in order
// (the hot forms encoded by nl-fast.ts, the rest by nl-link.ts/nl.ts); the first failure stops the op with the
// namespace, the line and the kernel's answer (its extended ack message when it gives one, as ip(8) prints it). Device names are resolved to ifindexes inside the namespace when a
// request needs one (after the requests before it were acked: a device created by an earlier line has one by then);
// a veth's peer namespace is opened by name and the fd closed when the op ends. The pure half (which lines, which
// bytes) is harness/runtime/netns/nl-fast.ts, nl-link.ts and nl.ts.
import { c, errno, O_CLOEXEC, strerror } from '../../vtep/ffi.ts';
import { InNsError, withNetns } from './inns.ts';
import { bridgeRequest, ipRequest } from './nl-link.ts';
import { encodeFdbFast, encodeIpFast, FAST_MAX, type Sink } from './nl-fast.ts';
import { AF_NETLINK, NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_ROUTE, NLM_F_ACK, NLM_F_ACK_TLVS, NLMSG_ERROR, NLMSGERR_ATTR_MSG, SOCK_CLOEXEC, SOCK_RAW, SOL_NETLINK } from './nl-const.ts';

const O_RDONLY = 0;
/**
 * requests per send. Only failures and each batch's last request are answered; an answer queues as a whole skb
 * (~1 KB of truesize) in the socket's 208 KB receive buffer until read: 128 failing requests in one send still fit.
 */
const BATCH = 128;

/**
 * The hot lines repeat across namespaces: at N nodes, every node's `neigh add`/`fdb add`/`route add`/underlay `neigh
 * replace` for a peer is the same text in the N−1 other nodes (the device is named, not numbered). Their encoding is
 * kept per line (per program): a hit copies the bytes and writes the two fields that differ, the sequence number and
 * the device's ifindex (resolved in the namespace as before). The encoders are pure functions of (line, seq,
 * ifindex), so the bytes are the same as encoding again (test/unit/nl-fast.test.ts). Bounded: cleared when full.
 */
interface Encoded {
  bytes: Buffer;
  dev: string;
  /** offset of the ifindex in the message */
  ixAt: number;
}
const MEMO_MAX = 32_768;
const memos = { ip: new Map<string, Encoded>(), bridge: new Map<string, Encoded>() };

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

/**
 * Apply the lines of an `ip` (or `bridge`) batch inside /var/run/netns/NS, in order, up to the first line of a form
 * not modelled here; returns how many were applied (the caller hands the rest to ip(8)/bridge(8), in order). The
 * first failing request throws, naming the namespace, the line and the kernel's answer; as with `ip -batch`,
 * nothing after the failing line's batch is sent (requests after it within the same batch of 128 were already sent).
 */
export function applyLines(ns: string, prog: 'ip' | 'bridge', lines: string[]): number {
  if (!lines.length) return 0;
  return withNetns(ns, () => {
    const sock = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (sock < 0) throw new InNsError(`netns ${ns}: netlink socket: ${strerror(errno())}`);
    const fds = new Map<string, number>();
    try {
      const one = Buffer.alloc(4);
      one.writeInt32LE(1, 0);
      c.setsockopt(sock, SOL_NETLINK, NETLINK_CAP_ACK, one, 4);
      c.setsockopt(sock, SOL_NETLINK, NETLINK_EXT_ACK, one, 4);
      const index = new Map<string, number>();
      const rbuf = Buffer.allocUnsafe(8192); // one answer per read: small (koffi's cost grows with the buffer)
      const sink: Sink = { buf: Buffer.allocUnsafe(64 * 1024), off: 0 };
      // the batch: lines[first .. first+count-1], sent with sequence numbers line index + 1
      let first = 0;
      let count = 0;
      const fail = (ix: number, why: string) => new InNsError(`netns ${ns}: ${prog} ${lines[ix]}: ${why}`);
      let lastOff = 0; // where the batch's last message starts: the one that asks for an ack
      const flush = () => {
        if (!count) return;
        // only the last request of a batch asks for an ack: the kernel answers every failing request anyway (an
        // NLMSG_ERROR is sent for any error, NLM_F_ACK or not) and handles a socket's requests in order, so once the
        // last one's ack is read, every earlier failure has been read too. One ack per batch, not one per line.
        const f = sink.buf.readUInt16LE(lastOff + 6);
        sink.buf.writeUInt16LE(f | NLM_F_ACK, lastOff + 6);
        if (c.write(sock, sink.buf, sink.off) !== sink.off) throw new InNsError(`netns ${ns}: netlink send: ${strerror(errno())}`);
        const last = first + count;
        let failed: Ack | undefined;
        for (let done = false; !done; ) {
          const n = c.read(sock, rbuf, rbuf.length);
          if (n <= 0) throw new InNsError(`netns ${ns}: netlink recv: ${strerror(errno())}`);
          for (const a of parseExtAcks(rbuf, n)) {
            if (a.seq <= first || a.seq > last) continue;
            if (a.errno && (!failed || a.seq < failed.seq)) failed = a;
            if (a.seq === last) done = true;
          }
        }
        if (failed) throw fail(failed.seq - 1, `${failed.msg ? `Error: ${failed.msg}. ` : ''}RTNETLINK answers: ${strerror(failed.errno)}`);
        sink.off = 0;
        count = 0;
      };
      let cur = 0;
      const resolve = (d: string) => {
        let ix = index.get(d);
        if (ix !== undefined) return ix;
        flush(); // a device an earlier line creates exists once that line is acked
        ix = c.ifNameToIndex(d) as number;
        if (!ix) throw fail(cur, `Cannot find device "${d}"`);
        index.set(d, ix);
        return ix;
      };
      const nsfd = (n: string) => {
        let fd = fds.get(n);
        if (fd !== undefined) return fd;
        fd = c.open(`/var/run/netns/${n}`, O_RDONLY | O_CLOEXEC) as number;
        if (fd < 0) throw fail(cur, `Invalid "netns" value "${n}": ${strerror(errno())}`);
        fds.set(n, fd);
        return fd;
      };
      const memo = memos[prog];
      let dev: string | undefined;
      const resolveNoting = (d: string) => {
        dev = d;
        return resolve(d);
      };
      for (cur = 0; cur < lines.length; cur++) {
        if (sink.buf.length - sink.off < FAST_MAX) flush();
        const line = lines[cur]!;
        const seq = cur + 1;
        let n: number;
        const hit = memo.get(line);
        if (hit) {
          const ix = resolve(hit.dev); // first: it may flush (sink.off moves)
          hit.bytes.copy(sink.buf, sink.off);
          sink.buf.writeUInt32LE(seq, sink.off + 8);
          sink.buf.writeInt32LE(ix, sink.off + hit.ixAt);
          n = hit.bytes.length;
        } else {
          dev = undefined;
          sink.ixAt = undefined;
          n = prog === 'bridge' ? encodeFdbFast(line, sink, seq, resolveNoting) : encodeIpFast(line, sink, seq, resolveNoting);
          if (n >= 0 && dev !== undefined && sink.ixAt !== undefined) {
            if (memo.size >= MEMO_MAX) memo.clear();
            memo.set(line, { bytes: Buffer.from(sink.buf.subarray(sink.off, sink.off + n)), dev, ixAt: sink.ixAt });
          }
        }
        if (n < 0) {
          const req = prog === 'bridge' ? bridgeRequest(line) : ipRequest(line);
          if (!req) {
            flush();
            return cur;
          }
          for (const d of req.devs) resolve(d);
          for (const x of req.netns) nsfd(x);
          const m = req.build(seq, (d) => index.get(d)!, nsfd);
          if (sink.buf.length - sink.off < m.length) {
            flush();
            if (sink.buf.length < m.length) sink.buf = Buffer.allocUnsafe(m.length * 2);
          }
          m.copy(sink.buf, sink.off);
          n = m.length;
        }
        if (!count) first = cur;
        sink.buf.writeUInt16LE(sink.buf.readUInt16LE(sink.off + 6) & ~NLM_F_ACK, sink.off + 6);
        lastOff = sink.off;
        sink.off += n;
        count++;
        if (count >= BATCH) flush();
      }
      flush();
      return lines.length;
    } finally {
      c.close(sock);
      for (const fd of fds.values()) c.close(fd);
    }
  });
}
