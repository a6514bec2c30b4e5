// The in-process state reader (#16): the calling thread enters a node's network namespace (withNetns, setns), opens
// one rtnetlink socket there, sends the dump requests and `route get` questions `ip -d -j` / `bridge -j` would, and
// parses the answers into their JSON (harness/runtime/netns/nl-dump.ts) — links, addresses, routes, neighbours, FDB
// entries and the kernel's routing decisions of a node in one synchronous visit, no process. At 1,000 nodes the
// routes suite read every node this way instead of through two processes per node.
import { c, errno, strerror } from '../../vtep/ffi.ts';
import { InNsError, withNetns } from './inns.ts';
import {
  addrDumpRequest, fdbDumpRequest, linkDumpRequest, linkJson, messages, neighDumpRequest, encodeNeighGet, encodeRouteGet, GET_MAX, RTM_NEWNEIGH, NLMSG_DONE, NLMSG_ERROR, parseAddr, parseError, parseFdb,
  parseLink, parseNeigh, parseRoute, routeDumpRequest, RTM_NEWROUTE, type Names, type RawLink,
} from './nl-dump.ts';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;
const NETLINK_ROUTE = 0;
const SOL_NETLINK = 270;
const NETLINK_EXT_ACK = 11;
const NLM_F_DUMP_INTR = 0x10;
/** route gets per send: each answer (~200 bytes, a whole skb of truesize) waits in the 208 KB receive buffer until read */
const GET_BATCH = 64;

export interface ReadRequest {
  /** `ip addr show` (links with their addr_info) */
  addrs?: boolean;
  /** `ip route show table all` of these families, in order */
  routes?: (4 | 6)[];
  /**
   * `ip neigh show [dev DEV]` (null: every device); with `only`, just these addresses on DEV, each looked up by the
   * kernel (`ip neigh get`) instead of a dump — what ip's show would list of them, in the order asked
   */
  neigh?: { dev: string | null; only?: string[] };
  /** `bridge fdb show [dev DEV]` (null: every device) */
  fdb?: { dev: string | null };
  /** `ip route get DST [from SRC] [iif DEV]` each */
  gets?: { dst: string; from?: string; iif?: string }[];
}

/** A read that failed as ip's would (its error text), e.g. `Cannot find device "flannel.1"`. */
export interface Failed {
  error: string;
}

export interface ReadResult {
  /** `ip -d -j link show` (always read: every other answer names devices by it) */
  links: Record<string, any>[];
  /** links with addr_info, when asked */
  addrs?: Record<string, any>[];
  routes?: Record<string, any>[];
  neigh?: Record<string, any>[] | Failed;
  fdb?: Record<string, any>[] | Failed;
  /** per question: the route ip prints, or the error it gives */
  answers?: { route?: Record<string, any>; error?: string }[];
}

let rbuf: Buffer | undefined;
/** one batch of `get` requests, written in place (per thread: a worker has its own module instance) */
let sbuf: Buffer | undefined;
const sendBuf = () => (sbuf ??= Buffer.alloc(GET_BATCH * GET_MAX));
/** 32 KB: a dump's skb is sized after the reader's buffer (at most 32 KB), so nothing is cut */
const RBUF = 32 * 1024;

class Sock {
  seq = 0;
  constructor(
    readonly ns: string,
    readonly fd: number,
  ) {}

  send(b: Buffer): void {
    if (c.write(this.fd, b, b.length) !== b.length) throw new InNsError(`netns ${this.ns}: netlink send: ${strerror(errno())}`);
  }

  read(): number {
    const n = c.read(this.fd, (rbuf ??= Buffer.allocUnsafe(RBUF)), RBUF) as number;
    if (n <= 0) throw new InNsError(`netns ${this.ns}: netlink recv: ${strerror(errno())}`);
    return n;
  }

  /** one dump: `each` called per message of the answer; retried (up to 3 times) when the kernel marks it interrupted */
  dump(req: (seq: number) => Buffer, each: (buf: Buffer, off: number, end: number, type: number) => void, what: string): void {
    for (let attempt = 0; ; attempt++) {
      const seq = ++this.seq;
      this.send(req(seq));
      let intr = false;
      const got: [Buffer, number, number, number][] = [];
      for (let done = false; !done; ) {
        const n = this.read();
        // the read buffer is reused: the messages of this read are kept in one copy of it until the dump is whole
        let chunk: Buffer | undefined;
        for (const m of messages(rbuf!, n)) {
          if (m.seq !== seq) continue;
          if (m.flags & NLM_F_DUMP_INTR) intr = true;
          if (m.type === NLMSG_DONE) {
            const e = m.end - m.off >= 4 ? Math.abs(rbuf!.readInt32LE(m.off)) : 0;
            if (e) throw new InNsError(`netns ${this.ns}: ${what}: ${strerror(e)}`);
            done = true;
            break;
          }
          if (m.type === NLMSG_ERROR) {
            const e = parseError(rbuf!, m);
            if (e.errno) throw new InNsError(`netns ${this.ns}: ${what}: ${e.msg ?? strerror(e.errno)}`);
            continue;
          }
          chunk ??= Buffer.from(rbuf!.subarray(0, n));
          got.push([chunk, m.off, m.end, m.type]);
        }
      }
      if (intr && attempt < 2) continue;
      for (const [b, off, end, type] of got) each(b, off, end, type);
      return;
    }
  }
}

/**
 * Read what `req` asks inside /var/run/netns/NS, in one visit: returns the JSON ip/bridge would print. Throws an
 * InNsError when the namespace cannot be entered or the socket fails (the caller falls back to the processes).
 */
export function readState(ns: string, req: ReadRequest): ReadResult {
  return withNetns(ns, () => {
    const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE) as number;
    if (fd < 0) throw new InNsError(`netns ${ns}: netlink socket: ${strerror(errno())}`);
    try {
      const one = Buffer.alloc(4);
      one.writeInt32LE(1, 0);
      c.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one, 4);
      const s = new Sock(ns, fd);
      const raw: RawLink[] = [];
      s.dump(linkDumpRequest, (b, off, end) => raw.push(parseLink(b, off, end)), 'link show');
      const names: Names = new Map(raw.map((l) => [l.index, l]));
      const byName = new Map(raw.map((l) => [l.ifname, l.index]));
      const out: ReadResult = { links: raw.map((l) => linkJson(l, names)) };
      if (req.addrs) {
        const info = new Map<number, Record<string, any>[]>();
        s.dump(addrDumpRequest, (b, off, end) => {
          const a = parseAddr(b, off, end);
          (info.get(a.index) ?? info.set(a.index, []).get(a.index)!).push(a.info);
        }, 'addr show');
        out.addrs = out.links.map((l) => {
          const { linkinfo: _li, ...rest } = l;
          return { ...rest, addr_info: info.get(l.ifindex) ?? [] };
        });
      }
      if (req.routes) {
        const rs: Record<string, any>[] = [];
        for (const f of req.routes) s.dump((seq) => routeDumpRequest(f, seq), (b, off, end) => {
          const r = parseRoute(b, off, end, names);
          if (r) rs.push(r);
        }, 'route show');
        out.routes = rs;
      }
      const devIndex = (dev: string | null): number | Failed | undefined => {
        if (dev === null) return undefined;
        return byName.get(dev) ?? { error: `Cannot find device "${dev}"` };
      };
      if (req.neigh) {
        const ix = devIndex(req.neigh.dev);
        if (typeof ix === 'object') out.neigh = ix;
        else if (req.neigh.only && ix !== undefined) out.neigh = neighGets(s, req.neigh.only, ix, names);
        else {
          const ns_: Record<string, any>[] = [];
          s.dump((seq) => neighDumpRequest(ix, seq), (b, off, end) => {
            // the kernel filters by NDA_IFINDEX; an old one that does not is filtered here as ip does
            if (ix !== undefined && b.readInt32LE(off + 4) !== ix) return;
            const x = parseNeigh(b, off, end, names, ix !== undefined);
            if (x) ns_.push(x);
          }, 'neigh show');
          out.neigh = ns_;
        }
      }
      if (req.fdb) {
        const ix = devIndex(req.fdb.dev);
        if (typeof ix === 'object') out.fdb = ix;
        else {
          const fs: Record<string, any>[] = [];
          s.dump((seq) => fdbDumpRequest(ix, seq), (b, off, end) => {
            if (ix !== undefined && b.readInt32LE(off + 4) !== ix) return;
            const x = parseFdb(b, off, end, names, ix !== undefined);
            if (x) fs.push(x);
          }, 'fdb show');
          out.fdb = fs;
        }
      }
      if (req.gets?.length) out.answers = routeGets(s, req.gets, names, byName);
      return out;
    } finally {
      c.close(fd);
    }
  });
}

function routeGets(s: Sock, qs: NonNullable<ReadRequest['gets']>, names: Names, byName: Map<string, number>): NonNullable<ReadResult['answers']> {
  const answers: NonNullable<ReadResult['answers']> = new Array(qs.length);
  for (let i = 0; i < qs.length; ) {
    const first = s.seq + 1;
    const pending = new Map<number, number>();
    const out = sendBuf();
    let at = 0;
    for (let k = 0; i < qs.length && k < GET_BATCH; i++) {
      const q = qs[i]!;
      let iif: number | undefined;
      if (q.iif) {
        iif = byName.get(q.iif);
        if (iif === undefined) {
          answers[i] = { error: `Cannot find device "${q.iif}"` };
          continue;
        }
      }
      const seq = ++s.seq;
      pending.set(seq, i);
      at = encodeRouteGet(out, at, q, iif, seq);
      k++;
    }
    if (!at) continue;
    s.send(out.subarray(0, at));
    while (pending.size) {
      const n = s.read();
      const buf = rbuf!;
      for (const m of messages(buf, n)) {
        const ix = pending.get(m.seq);
        if (ix === undefined || m.seq < first) continue;
        if (m.type === NLMSG_ERROR) {
          const e = parseError(buf, m);
          if (!e.errno) continue;
          answers[ix] = { error: e.msg ? `Error: ${e.msg}${e.msg.endsWith('.') ? '' : '.'}` : strerror(e.errno) };
        } else if (m.type === RTM_NEWROUTE) {
          const r = parseRoute(buf, m.off, m.end, names, true);
          answers[ix] = r ? { route: r } : { error: 'no answer' };
        } else continue;
        pending.delete(m.seq);
      }
    }
  }
  return answers;
}

/** Each address's entry on device `ix` as ip's show prints it (filtered: no dev key); absent ones (ENOENT) and those show hides are left out. */
function neighGets(s: Sock, ips: string[], ix: number, names: Names): Record<string, any>[] {
  const found: (Record<string, any> | undefined)[] = new Array(ips.length);
  for (let i = 0; i < ips.length; ) {
    const first = s.seq + 1;
    const pending = new Map<number, number>();
    const out = sendBuf();
    let at = 0;
    for (let k = 0; i < ips.length && k < GET_BATCH; i++, k++) {
      const seq = ++s.seq;
      pending.set(seq, i);
      at = encodeNeighGet(out, at, ips[i]!, ix, seq);
    }
    s.send(out.subarray(0, at));
    while (pending.size) {
      const n = s.read();
      const buf = rbuf!;
      for (const m of messages(buf, n)) {
        const at = pending.get(m.seq);
        if (at === undefined || m.seq < first) continue;
        if (m.type === NLMSG_ERROR) {
          const e = parseError(buf, m);
          if (!e.errno) continue;
          if (e.errno !== 2) throw new InNsError(`netns ${s.ns}: neigh get ${ips[at]}: ${e.msg ?? strerror(e.errno)}`);
        } else if (m.type === RTM_NEWNEIGH) found[at] = parseNeigh(buf, m.off, m.end, names, true);
        else continue;
        pending.delete(m.seq);
      }
    }
  }
  return found.filter((x): x is Record<string, any> => !!x);
}
