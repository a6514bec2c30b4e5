// TAP → UDP data path, on its own thread: blocking read(2) on the TAP fd, encapsulate in place,
// sendto(2) on the source-port socket chosen by the inner flow hash. See main.ts for why.
// With a vnet-header TAP (offloads), TCP super-frames (TSO, up to 64 KB) are segmented here into
// complete VXLAN datagrams of equal size, sent with one sendmsg + UDP_SEGMENT (GSO) per ≤ 64.
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { OUTER_L3_OVERHEAD, Summer, VXLAN_HLEN, macKey, macKeyFromString, udpChecksumIpv4, writeOuterIpv4Udp } from './codec.ts';
import { AddrTable, outerOverhead } from './addr.ts';
import {
  EINTR,
  EMSGSIZE,
  SOL_UDP,
  UDP_SEGMENT,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VNET_HDR_LEN,
  addressOf,
  c,
  pinned,
  errno,
  strerror,
  trySetIntOpt,
} from './ffi.ts';
import { Fdb } from './fdb.ts';
import { SEGMENT_OUT_BYTES, Segmenter } from './tso.ts';
import { flowHash, poolIndexFromHash, srcPortFromHash } from './hash.ts';
import { COUNTER_INDEX as I } from './stats.ts';
import { prng, type FdbUpdate, type TxInit, type WorkerToMain } from './worker-shared.ts';

const init = workerData as TxInit;
const { cfg, tapFd, sockFds, sockPorts, rawFd } = init;
const C = new Float64Array(init.counters);
const ctl = new Int32Array(init.ctl);
const post = (m: WorkerToMain) => parentPort!.postMessage(m);

const f = cfg.faults;
const vni = f.wrongVni ?? cfg.vni;
const flags = f.clearIFlag ? 0 : 0x08;
const addrs = AddrTable.forLocal(cfg.local);
const SA = addrs.saLen;
const local = addrs.intern(cfg.local);
const maxIpLen = cfg.underlayMtu;
/** outer IP + UDP + VXLAN in front of the inner frame on the wire: 36 over IPv4, 56 over IPv6 */
const OUTER = outerOverhead(addrs.family);
const dropPct = f.txDropPercent ?? 0;
const rand = prng((f.seed ?? 1) ^ 0x1badf00d);
const nSock = sockFds.length;
const fixedSport = f.fixedSrcPort;

const fdb = new Fdb({ ageingSec: cfg.ageingSec, addrs });
const portOf = new Map<number, number>();
for (const e of cfg.fdb) {
  fdb.addStatic(macKeyFromString(e.mac), addrs.intern(e.dst));
  if (e.port !== undefined) portOf.set(addrs.intern(e.dst), e.port);
}
// sockaddr_in / sockaddr_in6 per destination, built once
const saCache = new Map<number, Buffer>();
const saAddr = new Map<number, number>();
function sockaddr(ip: number): Buffer {
  let sa = saCache.get(ip);
  if (!sa) {
    sa = addrs.sockaddr(ip, f.wrongPort ?? portOf.get(ip) ?? cfg.port);
    saCache.set(ip, sa);
    saAddr.set(ip, addressOf(sa));
  }
  return sa;
}

// buffer layout: [0,20) outer IPv4 (raw mode only) [20,28) UDP (raw only) [28,36) VXLAN [36,…) inner frame
// with a vnet-header TAP, read() puts the 10-byte virtio_net_hdr at [26,36), parsed before the
// VXLAN header overwrites it.
const READ_MAX = init.vnetHdr ? 65536 + 4096 + VNET_HDR_LEN : 65536;
const buf = Buffer.alloc(READ_MAX + OUTER_L3_OVERHEAD + 64);
const INNER = OUTER_L3_OVERHEAD;
const VX = INNER - VXLAN_HLEN;
const inner = buf.subarray(INNER);
const udpPayload = buf.subarray(VX);
buf[VX] = flags;
buf[VX + 4] = (vni >>> 16) & 0xff;
buf[VX + 5] = (vni >>> 8) & 0xff;
buf[VX + 6] = vni & 0xff;

let seenGen = 0;
function drainFdbUpdates(): void {
  for (;;) {
    const m = receiveMessageOnPort(init.fdbPort);
    if (!m) return;
    const u = m.message as FdbUpdate;
    if (u.op === 'set') fdb.setLearned(u.key, addrs.intern(u.addr), u.lastSeen);
    else fdb.forget(u.key);
  }
}

let sendErrLogged = 0;
function sendFailed(ip: number, e: number, what: string, count: number): void {
  if (e === EMSGSIZE) C[I.tooBig]! += count;
  else {
    C[I.sendError]! += count;
    if (sendErrLogged++ < 5) console.error(`vtep tx: ${what} ${addrs.toString(ip)}: ${strerror(e)}`);
  }
}

function send(ip: number, n: number, hash: number): void {
  const payloadLen = VXLAN_HLEN + n;
  let r: number;
  if (rawFd >= 0) {
    const sport = fixedSport ?? srcPortFromHash(hash);
    writeOuterIpv4Udp(buf, 0, { src: local, dst: ip, srcPort: sport, dstPort: f.wrongPort ?? portOf.get(ip) ?? cfg.port }, payloadLen);
    // corruptUdpChecksum: a non-zero checksum that is guaranteed wrong (0 would mean "no checksum").
    const good = udpChecksumIpv4(local, ip, buf, 20, 8 + payloadLen);
    const bad = good ^ 0x5a5a || 1;
    buf[26] = bad >>> 8;
    buf[27] = bad & 0xff;
    r = c.sendto(rawFd, buf, 28 + payloadLen, 0, sockaddr(ip), 16) as number;
  } else {
    const fd = nSock === 1 ? sockFds[0]! : sockFds[poolIndexFromHash(hash, nSock)]!;
    r = c.sendto(fd, udpPayload, payloadLen, 0, sockaddr(ip), SA) as number;
  }
  if (r < 0) {
    sendFailed(ip, errno(), 'sendto', 1);
    return;
  }
  C[I.txPackets]!++;
  C[I.txBytes]! += payloadLen;
}

// ------------------------------------------------------------------ offload path (vnet-header TAP)

const inSum = new Summer(buf);
// segments of one super-frame: datagram i (VXLAN header + inner frame) at [i*segLen, …)
const out = Buffer.alloc(SEGMENT_OUT_BYTES);
const outAddr = addressOf(out);
const vxTemplate = Buffer.from(buf.subarray(VX, INNER));
// GSO: one UDP_SEGMENT cmsg; msghdr/iovec/cmsg built once, pointers patched per send
let gsoOk = init.sockOffloads && rawFd < 0 && trySetIntOpt(sockFds[0]!, SOL_UDP, UDP_SEGMENT, 0);
if (init.sockOffloads && rawFd < 0 && !gsoOk) {
  C[I.gsoRefused]!++;
  console.error(`vtep tx: UDP_SEGMENT (GSO) refused by the kernel on an IPv${addrs.family} socket; sending one datagram per syscall`);
}
const UDP_MAX_SEGMENTS = 64;
const msg = pinned(56);
const iov = pinned(16);
const cmsg = pinned(24);
msg.writeUIntLE(addressOf(iov), 16, 6);
msg.writeUInt32LE(1, 24); // iovlen
msg.writeUIntLE(addressOf(cmsg), 32, 6);
msg.writeUInt32LE(24, 40); // controllen = CMSG_SPACE(2)
cmsg.writeUInt32LE(18, 0); // cmsg_len = CMSG_LEN(sizeof(u16))
cmsg.writeInt32LE(SOL_UDP, 8);
cmsg.writeInt32LE(UDP_SEGMENT, 12);

/** Complete a CHECKSUM_PARTIAL frame: the field at start+off holds the pseudo-header sum. */
function completeCsum(n: number, start: number, off: number): boolean {
  if (start + off + 2 > n) return false;
  let v = ~inSum.sum(INNER + start, n - start) & 0xffff;
  if (v === 0 && off === 6) v = 0xffff; // UDP: 0 means "no checksum"
  buf[INNER + start + off] = v >>> 8;
  buf[INNER + start + off + 1] = v & 0xff;
  return true;
}

const seg = new Segmenter(buf, vxTemplate, out);
let tsoErrLogged = 0;

/** Send the segments in `out` to `ip`: GSO batches when the kernel takes them, else one by one. */
function sendSegments(ip: number, hash: number): void {
  const fd = nSock === 1 ? sockFds[0]! : sockFds[poolIndexFromHash(hash, nSock)]!;
  const sa = sockaddr(ip);
  const { count: segCount, segLen, lastLen } = seg;
  const total = (segCount - 1) * segLen + lastLen;
  if (gsoOk && segCount > 1) {
    const per = Math.min(UDP_MAX_SEGMENTS, Math.floor((65535 - 28) / segLen));
    msg.writeUIntLE(saAddr.get(ip)!, 0, 6);
    msg.writeUInt32LE(SA, 8);
    cmsg.writeUInt16LE(segLen, 16);
    for (let i = 0; i < segCount; i += per) {
      const cnt = Math.min(per, segCount - i);
      const bytes = i + cnt === segCount ? total - i * segLen : cnt * segLen;
      iov.writeUIntLE(outAddr + i * segLen, 0, 6);
      iov.writeUInt32LE(bytes, 8);
      const r = c.sendmsg(fd, msg, 0) as number;
      if (r < 0) {
        const e = errno();
        if (e === EMSGSIZE) {
          C[I.tooBig]! += segCount - i;
          return;
        }
        // the kernel refused GSO for this socket/route: fall back for good, send the rest singly
        gsoOk = false;
        C[I.gsoRefused]!++;
        console.error(`vtep tx: sendmsg with UDP_SEGMENT failed (${strerror(e)}); falling back to one datagram per syscall`);
        sendSingles(fd, sa, ip, i);
        return;
      }
      C[I.txPackets]! += cnt;
      C[I.txBytes]! += bytes;
      if (cnt > 1) C[I.txGso]!++;
    }
    return;
  }
  sendSingles(fd, sa, ip, 0);
}

function sendSingles(fd: number, sa: Buffer, ip: number, from: number): void {
  const { count: segCount, segLen, lastLen } = seg;
  for (let i = from; i < segCount; i++) {
    const len = i === segCount - 1 ? lastLen : segLen;
    const r = c.sendtoAt(fd, outAddr + i * segLen, len, 0, sa, SA) as number;
    if (r < 0) sendFailed(ip, errno(), 'sendto', 1);
    else {
      C[I.txPackets]!++;
      C[I.txBytes]! += len;
    }
  }
}

/** A TSO super-frame read from the TAP: segment once, send to the destination(s). */
function tso(n: number, gsoType: number, gsoSize: number, csumStart: number): void {
  const t = gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
  if ((t !== VIRTIO_NET_HDR_GSO_TCPV4 && t !== VIRTIO_NET_HDR_GSO_TCPV6) || !seg.segment(INNER, n, gsoSize, csumStart, t === VIRTIO_NET_HDR_GSO_TCPV6, maxIpLen - OUTER)) {
    C[I.tooBig]!++;
    if (tsoErrLogged++ < 5) console.error(`vtep tx: cannot segment a ${n}-byte GSO frame (type ${gsoType}, gso_size ${gsoSize}); dropped`);
    return;
  }
  forward(n, sendSegmentsTo);
}

const sendSegmentsTo = (ip: number, _n: number, hash: number) => sendSegments(ip, hash);

/**
 * Where the inner frame in `inner[0..n)` goes: FDB hit → one unicast send; broadcast, multicast or unknown unicast →
 * head-end replication to every remote VTEP; no remote at all → counted unknownDst. Shared by plain frames and TSO.
 */
function forward(n: number, sendTo: (ip: number, n: number, hash: number) => void): void {
  const gen = Atomics.load(ctl, 0);
  if (gen !== seenGen) {
    seenGen = gen;
    drainFdbUpdates();
  }
  const hash = flowHash(inner, 0, n);
  let ip: number | undefined;
  if ((inner[0]! & 1) === 0) ip = fdb.lookup(macKey(inner, 0));
  if (ip !== undefined) return sendTo(ip, n, hash);
  const targets = fdb.replicationTargets();
  if (targets.length === 0) {
    C[I.unknownDst]!++;
    return;
  }
  C[I.replicated]!++;
  for (let i = 0; i < targets.length; i++) sendTo(targets[i]!, n, hash);
}

post({ type: 'ready', role: 'tx' });
void sockPorts;

const vnet = init.vnetHdr;
const readBuf = vnet ? buf.subarray(INNER - VNET_HDR_LEN) : inner;
const H = INNER - VNET_HDR_LEN;
for (;;) {
  let n = c.read(tapFd, readBuf, READ_MAX) as number;
  if (n < 0) {
    const e = errno();
    if (e === EINTR) continue;
    C[I.tapReadError]!++;
    post({ type: 'fatal', role: 'tx', message: `read(TAP): ${strerror(e)}` });
    break;
  }
  if (vnet) {
    n -= VNET_HDR_LEN;
    if (n < 0) continue;
  }
  C[I.tapRxFrames]!++;
  C[I.tapRxBytes]! += n;
  if (n < 14) continue;
  if (vnet) {
    const hflags = buf[H]!;
    const gsoType = buf[H + 1]!;
    const csumStart = buf[H + 6]! | (buf[H + 7]! << 8);
    if (gsoType !== VIRTIO_NET_HDR_GSO_NONE) {
      C[I.tapRxTso]!++;
      tso(n, gsoType, buf[H + 4]! | (buf[H + 5]! << 8), csumStart);
      continue;
    }
    if ((hflags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0 && !completeCsum(n, csumStart, buf[H + 8]! | (buf[H + 9]! << 8))) {
      C[I.tapReadError]!++;
      continue;
    }
    buf[VX] = flags;
    buf[VX + 1] = 0;
    buf[VX + 2] = 0;
    buf[VX + 3] = 0;
    buf[VX + 4] = (vni >>> 16) & 0xff;
    buf[VX + 5] = (vni >>> 8) & 0xff;
    buf[VX + 6] = vni & 0xff;
    buf[VX + 7] = 0;
  }
  if (dropPct > 0 && rand() * 100 < dropPct) {
    C[I.txFaultDrop]!++;
    continue;
  }
  if (OUTER + n > maxIpLen) {
    C[I.tooBig]!++;
    continue;
  }
  forward(n, send);
}
