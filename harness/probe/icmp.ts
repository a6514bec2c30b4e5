// In-process ICMP echo prober for the connectivity matrix (#16): one raw ICMP (ICMPv6) socket per source pod, opened
// inside the pod's network namespace (setns, harness/runtime/netns/inns.ts) and used from this process after it has
// returned home — a socket stays in the namespace it was created in. No process per source (fping), no process per
// pair: a 1,000-pod matrix is 999,000 echo requests sent from one loop, every reply read back on its source's socket.
//
// What it sends: echo requests to the pod addresses of the matrix only (the run's own namespaces, nothing else).
// What counts as an answer: an echo reply on source i's socket whose source address is target j's address, whose
// identifier and payload carry this probe's random tag, and whose payload names (i, j). The kernel answers echo
// requests itself (no responder to start); the socket's ICMP filter lets only echo replies through (the requests
// other sources send to this pod are not queued here).
//
// Bounded: every call ends by its deadline; the sends of one try are paced (a chunk of requests, then the socket is
// drained, with the event loop let through every few chunks so SIGINT and the run's health checks still fire) and at
// most `tries` requests go to each target.
import { c, errno, strerror, O_CLOEXEC } from '../vtep/ffi.ts';
import { withNetns } from '../runtime/netns/inns.ts';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { currentSignal, InterruptedError, throwIfAborted } from '../util/scope.ts';
import { tsWorker } from '../vtep/worker-boot.ts';
import { moduleUrl } from '../util/module.ts';
import { availableParallelism, loadavg } from 'node:os';
import { readFileSync } from 'node:fs';

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0x800;
const IPPROTO_ICMP = 1;
const IPPROTO_ICMPV6 = 58;
const SOL_RAW = 255;
const ICMP_FILTER = 1;
const ICMP6_FILTER = 1;
const SOL_SOCKET = 1;
const SO_RCVBUFFORCE = 33;
const EAGAIN = 11;
const EINTR = 4;

/** Requests sent to one source's targets before its socket is drained (bounds the replies queued on it). */
const CHUNK = 32;
/** Chunks sent between two turns of the event loop. */
const CHUNKS_PER_TURN = 16;
/** Receive buffer per socket (bytes; the kernel doubles it): room for the replies of a few chunks that arrive late. */
const RCVBUF = 1 << 20;
/** Payload after the 8-byte ICMP header: tag (4), source index (4), target index (4), try (4). */
const PAYLOAD = 16;

export interface EchoOptions {
  /** echo requests per target at most (the first plus retries to the silent ones), like fping's -r retries + 1 */
  tries?: number;
  /** how long to wait for replies after a try's last request (ms), like fping's -t */
  timeoutMs?: number;
  /**
   * every try goes to every target, answered or not, `gapMs` after the previous one (fping -c COUNT -p GAP: traffic to
   * be captured, not a reachability question); `timeoutMs` is then the wait after the last try only
   */
  resend?: boolean;
  gapMs?: number;
  /** hard end of the call (epoch ms): what has not answered by then is silent */
  deadline?: number;
  /** progress text */
  progress?: (msg: string) => void;
}

export interface EchoResult {
  /** alive[i][j] = 1: target j answered source i (a row per source, a byte per target) */
  alive: Uint8Array[];
  /** every planned request of every try was sent (false: the deadline or a stop cut the sends short) */
  complete: boolean;
  /** echo requests sent */
  sent: number;
  /** matching echo replies received (duplicates included) */
  replies: number;
  /** requests the kernel refused at once (no route, unreachable), counted, never answered */
  refused: number;
  /** the first refusal, "ns -> ip: why" */
  firstRefusal?: string;
}

interface Src {
  fd: number;
  ns: string;
}

/**
 * Probe, from each source i, the targets `targets[i]` (indices into `ips`), with ICMP echo requests from a raw socket
 * in namespace `nss[i]`. All addresses must be of one family. Returns which targets answered each source.
 */
export async function echoProbe(nss: string[], ips: string[], targets: number[][], o: EchoOptions = {}): Promise<EchoResult> {
  const tries = Math.max(1, o.tries ?? 2);
  const timeoutMs = o.timeoutMs ?? 300;
  const deadline = o.deadline ?? Date.now() + 60_000;
  const signal = currentSignal();
  const v6 = isIP(ips[0] ?? '') === 6;
  const fam = v6 ? AF_INET6 : AF_INET;
  const alive = nss.map(() => new Uint8Array(ips.length));
  const answered = new Uint32Array(nss.length);
  const res: EchoResult = { alive, complete: true, sent: 0, replies: 0, refused: 0 };
  const rows = targets.map((t, i) => (t.length ? i : -1)).filter((i) => i >= 0);
  if (!rows.length) return res;
  // addresses, as sockaddrs (targets) and as raw bytes (to match a reply's source)
  const addrs = ips.map((ip) => sockaddr(ip, v6));
  const raw = ips.map((ip) => rawAddr(ip, v6));
  const byAddr = new Map<string, number>();
  for (const [j, r] of raw.entries()) byAddr.set(r.toString('latin1'), j);
  const tag = randomBytes(4).readUInt32BE(0);
  const ident = tag & 0xffff;
  const srcs = new Map<number, Src>();
  try {
    for (const i of rows) srcs.set(i, { fd: openSocket(nss[i]!, fam), ns: nss[i]! });
    const rbuf = Buffer.alloc(2048);
    const from = Buffer.alloc(28);
    const fromLen = [28];
    const pkt = Buffer.alloc(8 + PAYLOAD);
    // read everything queued on one source's socket
    const drain = (i: number, s: Src) => {
      for (;;) {
        // IPv4: the sender is in the IP header (a plain read, no sockaddr to convert per call)
        let n: number;
        if (v6) {
          fromLen[0] = 28;
          n = c.recvfrom(s.fd, rbuf, rbuf.length, 0, from, fromLen) as number;
        } else n = c.read(s.fd, rbuf, rbuf.length) as number;
        if (n < 0) {
          const e = errno();
          if (e === EAGAIN || e === EINTR) return;
          throw new Error(`icmp probe: recv in ${s.ns}: ${strerror(e)}`);
        }
        // IPv4 raw sockets hand the IP header too; IPv6 ones the ICMPv6 message alone (the sender in the sockaddr)
        let off = 0;
        let srcKey: string;
        if (v6) {
          srcKey = from.toString('latin1', 8, 24);
        } else {
          if (n < 20) continue;
          off = (rbuf[0]! & 0x0f) * 4;
          srcKey = rbuf.toString('latin1', 12, 16);
        }
        if (n - off < 8 + PAYLOAD) continue;
        const type = rbuf[off]!;
        if (type !== (v6 ? 129 : 0) || rbuf.readUInt16BE(off + 4) !== ident || rbuf.readUInt32BE(off + 8) !== tag) continue;
        const si = rbuf.readUInt32BE(off + 12);
        const j = rbuf.readUInt32BE(off + 16);
        if (si !== i || byAddr.get(srcKey) !== j) continue;
        res.replies++;
        if (!alive[i]![j]) {
          alive[i]![j] = 1;
          answered[i]++;
        }
      }
    };
    const drainAll = () => {
      for (const [i, s] of srcs) drain(i, s);
    };
    const stop = () => signal?.aborted || Date.now() > deadline;
    for (let t = 0; t < tries && res.complete; t++) {
      if (stop()) {
        res.complete = false;
        break;
      }
      // this try's requests: every target that has not answered yet
      const todo = rows.map((i) => [i, o.resend ? targets[i]! : targets[i]!.filter((j) => !alive[i]![j])] as const).filter(([, js]) => js.length);
      const count = todo.reduce((a, [, js]) => a + js.length, 0);
      if (!count) break;
      o.progress?.(`icmp probe: try ${t + 1} of ${tries}, ${count} echo requests from ${todo.length} pods`);
      let chunks = 0;
      let done = 0;
      let said = Date.now();
      for (const [i, js] of todo) {
        // a big try takes a while: say how far it is every 5 s
        if (Date.now() - said > 5000) {
          said = Date.now();
          o.progress?.(`icmp probe: try ${t + 1} of ${tries}, ${done} of ${count} echo requests sent`);
        }
        done += js.length;
        const s = srcs.get(i)!;
        for (let k = 0; k < js.length; k += CHUNK) {
          for (const j of js.slice(k, k + CHUNK)) {
            buildEcho(pkt, v6, ident, tag, i, j, t);
            const a = addrs[j]!;
            let r = c.sendto(s.fd, pkt, pkt.length, 0, a, a.length) as number;
            // a full send queue: let the kernel catch up (drain, yield), then once more
            for (let w = 0; r < 0 && errno() === EAGAIN && w < 50 && !stop(); w++) {
              drain(i, s);
              await sleep(2);
              r = c.sendto(s.fd, pkt, pkt.length, 0, a, a.length) as number;
            }
            if (r < 0) {
              const e = errno();
              res.refused++;
              res.firstRefusal ??= `${s.ns} -> ${ips[j]}: ${strerror(e)}`;
              continue;
            }
            res.sent++;
          }
          drain(i, s);
          if (++chunks % CHUNKS_PER_TURN === 0) {
            await turn();
            if (stop()) {
              res.complete = false;
              break;
            }
          }
        }
        if (!res.complete) break;
      }
      // replies still in flight: wait up to timeoutMs after the try's last request, or until everything answered
      // (resending: gapMs between tries, timeoutMs after the last)
      const end = Math.min(deadline, Date.now() + (o.resend && t < tries - 1 ? (o.gapMs ?? 50) : timeoutMs));
      for (;;) {
        drainAll();
        // every target answered (resending: every request of every try answered)
        if (o.resend ? t === tries - 1 && res.replies >= res.sent : todo.every(([i]) => answered[i]! >= targets[i]!.length)) break;
        if (Date.now() >= end || signal?.aborted) break;
        await sleep(Math.min(20, Math.max(1, end - Date.now())));
      }
    }
    drainAll();
    throwIfAborted(signal);
    return res;
  } finally {
    for (const s of srcs.values()) c.close(s.fd);
  }
}

/** A raw ICMP / ICMPv6 socket inside NS, non-blocking, accepting echo replies only. */
function openSocket(ns: string, fam: number): number {
  return withNetns(ns, () => {
    const fd = c.socket(fam, SOCK_RAW | SOCK_NONBLOCK | O_CLOEXEC, fam === AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP) as number;
    if (fd < 0) throw new Error(`icmp probe: raw socket in ${ns}: ${strerror(errno())}`);
    let ok: boolean;
    if (fam === AF_INET6) {
      // struct icmp6_filter: 256 bits, a set bit blocks that type; only echo reply (129) passes
      const f = Buffer.alloc(32, 0xff);
      f.writeUInt32LE(~(1 << (129 & 31)) >>> 0, (129 >> 5) * 4);
      ok = (c.setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, f, 32) as number) >= 0;
    } else {
      // ICMP_FILTER: a set bit blocks that type; only echo reply (0) passes
      const f = Buffer.alloc(4);
      f.writeUInt32LE(0xfffffffe, 0);
      ok = (c.setsockopt(fd, SOL_RAW, ICMP_FILTER, f, 4) as number) >= 0;
    }
    if (!ok) {
      const e = errno();
      c.close(fd);
      throw new Error(`icmp probe: ICMP filter in ${ns}: ${strerror(e)}`);
    }
    const b = Buffer.alloc(4);
    b.writeInt32LE(RCVBUF, 0);
    c.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, b, 4);
    return fd;
  });
}

function buildEcho(p: Buffer, v6: boolean, ident: number, tag: number, i: number, j: number, t: number): void {
  p[0] = v6 ? 128 : 8;
  p[1] = 0;
  p.writeUInt16BE(0, 2);
  p.writeUInt16BE(ident, 4);
  p.writeUInt16BE(t & 0xffff, 6);
  p.writeUInt32BE(tag, 8);
  p.writeUInt32BE(i, 12);
  p.writeUInt32BE(j, 16);
  p.writeUInt32BE(t, 20);
  // ICMPv6: the kernel fills the checksum (it covers the pseudo-header); ICMP: ours
  if (!v6) p.writeUInt16BE(checksum(p), 2);
}

export function checksum(p: Buffer): number {
  let s = 0;
  for (let k = 0; k + 1 < p.length; k += 2) s += p.readUInt16BE(k);
  if (p.length & 1) s += p[p.length - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

function sockaddr(ip: string, v6: boolean): Buffer {
  if (v6) {
    const b = Buffer.alloc(28);
    b.writeUInt16LE(AF_INET6, 0);
    rawAddr(ip, true).copy(b, 8);
    return b;
  }
  const b = Buffer.alloc(16);
  b.writeUInt16LE(AF_INET, 0);
  rawAddr(ip, false).copy(b, 4);
  return b;
}

/** An address's bytes (4 or 16). */
export function rawAddr(ip: string, v6: boolean): Buffer {
  if (!v6) return Buffer.from(ip.split('.').map(Number));
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const hs = head ? head.split(':') : [];
  const ts = tail !== undefined && tail ? tail.split(':') : [];
  const groups = tail === undefined ? hs : [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts];
  const b = Buffer.alloc(16);
  for (const [k, g] of groups.entries()) b.writeUInt16BE(parseInt(g || '0', 16), k * 2);
  return b;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const turn = () => new Promise<void>((r) => setImmediate(r));


/**
 * Threads for a big probe: VXLAB_PROBE_THREADS when set (1 = the main thread only); else the CPU count (at most 4)
 * when the 1-minute load average leaves a CPU idle, else 1 — on a machine already busy a second sending thread only
 * competes with the first (measured: 200 nodes, 39,800 pairs at load 19: 4.8 s on one thread, 8.8 s on two).
 */
export function probeThreads(): number {
  const env = Number(process.env.VXLAB_PROBE_THREADS);
  if (Number.isInteger(env) && env >= 1) return Math.min(env, 16);
  const cpus = availableParallelism();
  return loadavg()[0]! <= cpus - 1 ? Math.min(4, cpus) : 1;
}

/**
 * Threads for a big probe, from what the CPUs are doing now rather than the load average (which counts this run's own
 * threads and lags by a minute): VXLAB_PROBE_THREADS when set; else the cores that were idle over the last `ms`
 * (/proc/stat) and this process's own use, counted by threadsForFreeCores, at least 1, at most 4 (#16).
 */
export async function idleProbeThreads(ms = 300): Promise<number> {
  const env = Number(process.env.VXLAB_PROBE_THREADS);
  if (Number.isInteger(env) && env >= 1) return Math.min(env, 16);
  const free = await freeCores(ms);
  if (free === undefined) return probeThreads();
  return threadsForFreeCores(free);
}

/**
 * Sending threads for `free` cores free (idle plus this process's own use, unrounded): one per core that is at least a
 * tenth free. The kernel's work for a request and its reply runs in the sending thread, and the scheduler gives a
 * second sending thread a fair share of a core other work also uses, so it still adds most of what that core has
 * spare. Measured at 1,000 nodes on a quiet machine (session 9): the matrix's 999,000 pairs took 57 s on one thread —
 * the measurement read 1.497 cores free (half a core was the kernel's and other processes' work), which rounding made
 * 1 — and 33 s on two. On a busy machine (free near 1 or below) it stays 1: at load 19, 39,800 pairs took 4.8 s on
 * one thread and 8.8 s on two.
 */
export function threadsForFreeCores(free: number): number {
  return Math.max(1, Math.min(4, Math.ceil(free - 0.1)));
}

/**
 * How many cores are free for this process's next piece of work, over the next `ms` (/proc/stat), unrounded; undefined
 * when it cannot tell: the idle ones, plus what this process itself was using (/proc/self/stat) — its own threads
 * (another lane's comparisons, its garbage collector) are not a competitor the new work should yield to: they run
 * either way, and on the main thread they would run one after the other with it (#16: at 1,000 nodes the matrix
 * measured one idle core while the run's own comparisons and collector used the other, and ran on one thread).
 */
export async function freeCores(ms = 300): Promise<number | undefined> {
  const cpus = availableParallelism();
  if (cpus < 2) return cpus - 1;
  const a = cpuTimes();
  await sleep(ms);
  const b = cpuTimes();
  if (!a || !b || b.total <= a.total) return undefined;
  return Math.min(cpus, ((b.idle - a.idle + Math.max(0, b.self - a.self)) / (b.total - a.total)) * cpus);
}

/**
 * The machine's CPU time so far (jiffies): all of it, the idle part (idle + iowait), from /proc/stat's first line, and
 * this process's (utime + stime of /proc/self/stat, in the same clock ticks; 0 when unreadable).
 */
function cpuTimes(): { total: number; idle: number; self: number } | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8');
    const xs = f.slice(0, f.indexOf('\n')).trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is counted in user already)
    const v = xs.slice(0, 8);
    let self = 0;
    try {
      // after the command name (in parentheses, may hold spaces): state is field 3, utime 14, stime 15
      const st = readFileSync('/proc/self/stat', 'utf8');
      const rest = st.slice(st.lastIndexOf(')') + 2).split(' ');
      self = Number(rest[11]) + Number(rest[12]) || 0;
    } catch {
      self = 0;
    }
    return { total: v.reduce((p, q) => p + q, 0), idle: (v[3] ?? 0) + (v[4] ?? 0), self };
  } catch {
    return undefined;
  }
}

/** Below this many requests a matrix is probed on the main thread (a worker's start-up costs more than it saves). */
export const PARALLEL_MIN_REQUESTS = 20_000;

/**
 * echoProbe with the source pods split over worker threads (at most `threads`, default the CPU count, at most 4):
 * the kernel's work for a request and its reply runs in the sending thread, so on an idle machine two threads send
 * about twice as fast as one. Sources are split into contiguous groups of about equal request counts; the result is
 * the same as one echoProbe over all of them. Small probes run on this thread.
 */
export async function echoProbeParallel(nss: string[], ips: string[], targets: number[][], o: EchoOptions = {}, threads?: number): Promise<EchoResult> {
  const total = targets.reduce((a, t) => a + t.length, 0);
  if (total < PARALLEL_MIN_REQUESTS) return echoProbe(nss, ips, targets, o);
  threads ??= await idleProbeThreads();
  if (threads < 2) return echoProbe(nss, ips, targets, o);
  o.progress?.(`icmp probe: ${threads} threads (cores idle now)`);
  const signal = currentSignal();
  throwIfAborted(signal);
  // contiguous groups of sources, about total / threads requests each
  const groups: number[][] = [];
  let cur: number[] = [];
  let acc = 0;
  for (let i = 0; i < nss.length; i++) {
    cur.push(i);
    acc += targets[i]!.length;
    if (acc >= (total * (groups.length + 1)) / threads && groups.length < threads - 1) {
      groups.push(cur);
      cur = [];
    }
  }
  if (cur.length) groups.push(cur);
  const { progress, ...opts } = o;
  const url = moduleUrl('./icmp-worker.ts', import.meta.url);
  const runs = groups.map((g, k) => {
    const w = tsWorker(url, { workerData: { nss: g.map((i) => nss[i]), ips, targets: g.map((i) => targets[i]), opts } });
    const onAbort = () => w.postMessage({ type: 'stop' });
    signal?.addEventListener('abort', onAbort, { once: true });
    return new Promise<EchoResult>((done, fail) => {
      let settled = false;
      w.on('message', (m: any) => {
        if (m.type === 'progress') {
          if (k === 0) progress?.(`${m.msg} (${groups.length} threads)`);
        } else if (m.type === 'done') {
          settled = true;
          done({ ...m.r, alive: (m.r.alive as Uint8Array[]).map((a) => new Uint8Array(a.buffer ?? a)) });
        } else if (m.type === 'error') {
          settled = true;
          fail(new Error(m.message));
        }
      });
      w.on('error', (e) => {
        settled = true;
        fail(e);
      });
      w.on('exit', (code) => {
        if (!settled) fail(new Error(`icmp probe worker exited (code ${code}) without a result`));
      });
    }).finally(() => signal?.removeEventListener('abort', onAbort));
  });
  const parts = await Promise.allSettled(runs);
  if (signal?.aborted) throw new InterruptedError(signal.reason);
  const bad = parts.find((p) => p.status === 'rejected');
  if (bad) throw (bad as PromiseRejectedResult).reason;
  const res: EchoResult = { alive: nss.map(() => new Uint8Array(ips.length)), complete: true, sent: 0, replies: 0, refused: 0 };
  for (const [k, p] of parts.entries()) {
    const r = (p as PromiseFulfilledResult<EchoResult>).value;
    for (const [x, i] of groups[k]!.entries()) res.alive[i] = r.alive[x]!;
    res.complete &&= r.complete;
    res.sent += r.sent;
    res.replies += r.replies;
    res.refused += r.refused;
    res.firstRefusal ??= r.firstRefusal;
  }
  return res;
}
