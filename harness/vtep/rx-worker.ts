// UDP → TAP data path, on its own thread: blocking recvfrom(2) (SO_RCVTIMEO bounds the wait so
// ageing and FDB snapshots still run when idle), validate, learn, write(2) the inner frame to the TAP.
// With offloads, the socket has UDP_GRO: one recvmsg returns a train of equal-size datagrams (the
// UDP_GRO cmsg gives the size), each handled as if received alone; recvmmsg takes up to 16 such
// messages per syscall. A vnet-header TAP gets a zeroed
// virtio_net_hdr in front of every frame, written in place over bytes already consumed.
import { parentPort, workerData } from 'node:worker_threads';
import { VXLAN_HLEN, VX_NO_I_FLAG, VX_OK_RESERVED, VX_RUNT, VX_WRONG_VNI, classifyVxlan, macKey } from './codec.ts';
import { EAGAIN, EINTR, ENOSYS, MSG_WAITFORONE, SOL_UDP, UDP_GRO, VNET_HDR_LEN, addressOf, c, errno, pinned, strerror, trySetIntOpt } from './ffi.ts';
import { Fdb } from './fdb.ts';
import { Coalescer } from './gro.ts';
import { COUNTER_INDEX as I } from './stats.ts';
import { AddrTable } from './addr.ts';
import { prng, type FdbUpdate, type RxInit, type WorkerToMain } from './worker-shared.ts';

const init = workerData as RxInit;
const { cfg, tapFd, rxFd } = init;
const C = new Float64Array(init.counters);
const ctl = new Int32Array(init.ctl);
const post = (m: WorkerToMain) => parentPort!.postMessage(m);
const toTx = (u: FdbUpdate) => {
  init.fdbPort.postMessage(u);
  Atomics.add(ctl, 0, 1);
};

const f = cfg.faults;
const learning = cfg.learning && !f.noLearning;
const dropPct = f.rxDropPercent ?? 0;
const rand = prng((f.seed ?? 1) ^ 0x5eed5eed);
const vni = cfg.vni;

const addrs = AddrTable.forLocal(cfg.local);
const SA = addrs.saLen;
const fdb = new Fdb({ ageingSec: cfg.ageingSec, addrs });
for (const e of cfg.fdb) fdb.addStatic(e.mac, e.dst);

// recvmmsg (MSG_WAITFORONE) fills up to SLOTS messages per syscall; message i lands at
// HEAD + i*SLOT (each slot holds a whole UDP_GRO train). HEAD leaves room for a vnet header in front
// of a slot's first inner frame.
const HEAD = 16;
const MAX_MSG = 65536;
const SLOT = MAX_MSG + 64;
const SLOTS = init.sockOffloads ? 16 : 1;
const buf = Buffer.alloc(HEAD + SLOTS * SLOT);
const bufAddr = addressOf(buf);
const vnet = init.vnetHdr;
const gro = init.sockOffloads && trySetIntOpt(rxFd, SOL_UDP, UDP_GRO, 1);
if (init.sockOffloads && !gro) {
  C[I.groRefused]!++;
  console.error('vtep rx: UDP_GRO refused by the kernel; one datagram per message');
}
const MMSG = 64; // sizeof(struct mmsghdr): msghdr (56) + msg_len (4) + padding
const CTRL = 64;
const mm = pinned(SLOTS * MMSG);
const sas = pinned(SLOTS * 28);
const iovs = pinned(SLOTS * 16);
const control = pinned(SLOTS * CTRL);
for (let i = 0; i < SLOTS; i++) {
  const m = i * MMSG;
  mm.writeUIntLE(addressOf(sas) + i * 28, m, 6);
  mm.writeUIntLE(addressOf(iovs) + i * 16, m + 16, 6);
  mm.writeUInt32LE(1, m + 24);
  mm.writeUIntLE(addressOf(control) + i * CTRL, m + 32, 6);
  iovs.writeUIntLE(bufAddr + HEAD + i * SLOT, i * 16, 6);
  iovs.writeUInt32LE(MAX_MSG, i * 16 + 8);
}
let useMmsg = SLOTS > 1;

/** gso_size from the UDP_GRO cmsg of message i, 0 if none. */
function groSize(i: number): number {
  const clen = mm.readUInt32LE(i * MMSG + 40);
  const base = i * CTRL;
  for (let o = 0; o + 16 <= clen; ) {
    const l = control.readUInt32LE(base + o);
    if (l < 16) break;
    if (control.readInt32LE(base + o + 8) === SOL_UDP && control.readInt32LE(base + o + 12) === UDP_GRO && l >= 18) return control.readUInt16LE(base + o + 16);
    o += (l + 7) & ~7;
  }
  return 0;
}

/** Receive up to SLOTS messages (blocking for the first only); returns how many, or -1 (errno). */
function receive(): number {
  for (let i = 0; i < SLOTS; i++) {
    mm.writeUInt32LE(SA, i * MMSG + 8); // namelen: sockaddr_in or sockaddr_in6
    mm.writeUInt32LE(CTRL, i * MMSG + 40); // controllen
  }
  if (useMmsg) {
    const r = c.recvmmsg(rxFd, mm, SLOTS, MSG_WAITFORONE, null) as number;
    if (r >= 0 || errno() !== ENOSYS) return r;
    useMmsg = false;
    console.error('vtep rx: recvmmsg unavailable; one recvmsg per message');
  }
  const n = c.recvmsg(rxFd, mm, 0) as number;
  if (n < 0) return -1;
  mm.writeUInt32LE(n, 56);
  return 1;
}

const SNAPSHOT_MS = Math.min(1000, cfg.statsIntervalMs);
const AGE_CHECK_MS = Math.min(1000, Math.max(50, (cfg.ageingSec * 1000) / 4));
let lastSnapshot = 0;
let lastAge = Date.now();
let dirty = true;

function periodic(now: number): void {
  if (learning && now - lastAge >= AGE_CHECK_MS) {
    lastAge = now;
    const removed = fdb.age(now);
    for (const key of removed) toTx({ op: 'del', key });
    if (removed.length) {
      C[I.aged]! += removed.length;
      dirty = true;
    }
  }
  if (learning && (dirty || now - lastSnapshot >= SNAPSHOT_MS)) {
    lastSnapshot = now;
    dirty = false;
    post({ type: 'fdb', learned: fdb.learnedEntries().map((e) => ({ ...e, dst: addrs.toString(e.dst) })) });
  }
}

// software GRO into the TAP: only with a vnet header, and only within one UDP_GRO train
let co = vnet && init.sockOffloads ? new Coalescer(buf, sink) : undefined;
const aggAddr = co ? addressOf(co.agg) : 0;
let coalesce = false;
function sink(len: number, segs: number, bytes: number): void {
  const w = c.writeAt(tapFd, aggAddr, len) as number;
  if (w < 0) {
    C[I.tapWriteError]! += segs;
    if (segs > 1) {
      // the TAP refused a GSO frame: stop coalescing (these segments are lost; TCP retransmits them)
      console.error(`vtep rx: TAP refused a coalesced TCP frame (${strerror(errno())}); writing frames one by one from now on`);
      co = undefined;
    }
  } else {
    C[I.tapTxFrames]! += segs;
    C[I.tapTxBytes]! += bytes;
    if (segs > 1) C[I.tapTxGro]!++;
  }
}

/** One VXLAN datagram at buf[p, p+n): validate, learn, write the inner frame to the TAP. */
function datagram(p: number, n: number, ip: number): void {
  C[I.rxPackets]!++;
  C[I.rxBytes]! += n;
  const k = classifyVxlan(buf, p, n, vni);
  if (k < 0) {
    if (k === VX_RUNT) C[I.runt]!++;
    else if (k === VX_NO_I_FLAG) C[I.noIFlag]!++;
    else if (k === VX_WRONG_VNI) C[I.wrongVni]!++;
    return;
  }
  if (k === VX_OK_RESERVED) C[I.reservedBitsSet]!++;
  if (dropPct > 0 && rand() * 100 < dropPct) {
    C[I.rxFaultDrop]!++;
    return;
  }
  const fr = p + VXLAN_HLEN;
  if (learning) {
    const now = Date.now();
    const key = macKey(buf, fr + 6);
    const r = fdb.learn(key, ip, now);
    if (r === 'new' || r === 'moved') {
      C[r === 'new' ? I.learnedNew : I.learnedMoved]!++;
      toTx({ op: 'set', key, addr: addrs.toString(ip), lastSeen: now });
      dirty = true;
    }
    periodic(now); // cheap unless ageing or a snapshot is due; a change (dirty) is posted at once
  }
  if (coalesce && co) {
    if (co.offer(fr, n - VXLAN_HLEN)) return;
    co.flush();
  }
  let w: number;
  if (vnet) {
    // zeroed virtio_net_hdr (no GSO, checksum to be verified by the stack) right before the frame;
    // it overwrites this datagram's VXLAN header and the tail of the previous (already written) one
    buf.fill(0, fr - VNET_HDR_LEN, fr);
    w = c.writeAt(tapFd, bufAddr + fr - VNET_HDR_LEN, n - VXLAN_HLEN + VNET_HDR_LEN) as number;
    if (w >= 0) w -= VNET_HDR_LEN;
  } else w = c.writeAt(tapFd, bufAddr + fr, n - VXLAN_HLEN) as number;
  if (w < 0) C[I.tapWriteError]!++;
  else {
    C[I.tapTxFrames]!++;
    C[I.tapTxBytes]! += w;
  }
}

post({ type: 'ready', role: 'rx' });
for (;;) {
  const m = receive();
  if (m < 0) {
    const e = errno();
    if (e === EAGAIN) {
      periodic(Date.now());
      continue;
    }
    if (e === EINTR) continue;
    C[I.rxError]!++;
    post({ type: 'fatal', role: 'rx', message: `recvmsg: ${strerror(e)}` });
    break;
  }
  coalesce = co !== undefined;
  for (let i = 0; i < m; i++) {
    const n = mm.readUInt32LE(i * MMSG + 56);
    const ip = learning ? addrs.fromSockaddr(sas, i * 28) : 0;
    const seg = gro ? groSize(i) : 0;
    const start = HEAD + i * SLOT;
    if (seg === 0 || seg >= n) datagram(start, n, ip);
    else {
      C[I.rxGro]!++;
      for (let p = start, end = start + n; p < end; p += seg) datagram(p, Math.min(seg, end - p), ip);
    }
  }
  coalesce = false;
  co?.flush();
}
