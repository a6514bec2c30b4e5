// TAP → UDP data path, on its own thread: blocking read(2) on the TAP fd, encapsulate in place,
// sendto(2) on the source-port socket chosen by the inner flow hash. See main.ts for why.
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { OUTER_L3_OVERHEAD, VXLAN_HLEN, intToIpv4, ipv4ToInt, macKey, macKeyFromString, udpChecksumIpv4, writeOuterIpv4Udp } from './codec.ts';
import { EINTR, EMSGSIZE, c, errno, sockaddrIn, strerror } from './ffi.ts';
import { Fdb } from './fdb.ts';
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
const local = ipv4ToInt(cfg.local);
const maxIpLen = cfg.underlayMtu;
const dropPct = f.txDropPercent ?? 0;
const rand = prng((f.seed ?? 1) ^ 0x1badf00d);
const nSock = sockFds.length;
const fixedSport = f.fixedSrcPort;

const fdb = new Fdb({ ageingSec: cfg.ageingSec });
const portOf = new Map<number, number>();
for (const e of cfg.fdb) {
  fdb.addStatic(macKeyFromString(e.mac), ipv4ToInt(e.dst));
  if (e.port !== undefined) portOf.set(ipv4ToInt(e.dst), e.port);
}
// sockaddr_in per destination, built once
const saCache = new Map<number, Buffer>();
function sockaddr(ip: number): Buffer {
  let sa = saCache.get(ip);
  if (!sa) {
    sa = sockaddrIn(intToIpv4(ip), f.wrongPort ?? portOf.get(ip) ?? cfg.port);
    saCache.set(ip, sa);
  }
  return sa;
}

// buffer layout: [0,20) outer IPv4 (raw mode only) [20,28) UDP (raw only) [28,36) VXLAN [36,…) inner frame
const buf = Buffer.alloc(65536 + OUTER_L3_OVERHEAD);
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
    if (u.op === 'set') fdb.setLearned(u.key, u.ip, u.lastSeen);
    else fdb.forget(u.key);
  }
}

let sendErrLogged = 0;
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
    r = c.sendto(fd, udpPayload, payloadLen, 0, sockaddr(ip), 16) as number;
  }
  if (r < 0) {
    const e = errno();
    if (e === EMSGSIZE) C[I.tooBig]!++;
    else {
      C[I.sendError]!++;
      if (sendErrLogged++ < 5) console.error(`vtep tx: sendto ${intToIpv4(ip)}: ${strerror(e)}`);
    }
    return;
  }
  C[I.txPackets]!++;
  C[I.txBytes]! += payloadLen;
}

post({ type: 'ready', role: 'tx' });
void sockPorts;

for (;;) {
  const n = c.read(tapFd, inner, 65536) as number;
  if (n < 0) {
    const e = errno();
    if (e === EINTR) continue;
    C[I.tapReadError]!++;
    post({ type: 'fatal', role: 'tx', message: `read(TAP): ${strerror(e)}` });
    break;
  }
  C[I.tapRxFrames]!++;
  C[I.tapRxBytes]! += n;
  if (n < 14) continue;
  if (dropPct > 0 && rand() * 100 < dropPct) {
    C[I.txFaultDrop]!++;
    continue;
  }
  if (OUTER_L3_OVERHEAD + n > maxIpLen) {
    C[I.tooBig]!++;
    continue;
  }
  const gen = Atomics.load(ctl, 0);
  if (gen !== seenGen) {
    seenGen = gen;
    drainFdbUpdates();
  }
  const hash = flowHash(inner, 0, n);
  let ip: number | undefined;
  if ((inner[0]! & 1) === 0) ip = fdb.lookup(macKey(inner, 0));
  if (ip !== undefined) {
    send(ip, n, hash);
    continue;
  }
  // broadcast / multicast / unknown unicast: head-end replication to every remote VTEP
  const targets = fdb.replicationTargets();
  if (targets.length === 0) {
    C[I.unknownDst]!++;
    continue;
  }
  C[I.replicated]!++;
  for (let i = 0; i < targets.length; i++) send(targets[i]!, n, hash);
}
