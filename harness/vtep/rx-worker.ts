// UDP → TAP data path, on its own thread: blocking recvfrom(2) (SO_RCVTIMEO bounds the wait so
// ageing and FDB snapshots still run when idle), validate, learn, write(2) the inner frame to the TAP.
import { parentPort, workerData } from 'node:worker_threads';
import { VXLAN_HLEN, VX_NO_I_FLAG, VX_OK_RESERVED, VX_RUNT, VX_WRONG_VNI, classifyVxlan, macKey } from './codec.ts';
import { EAGAIN, EINTR, c, errno, strerror } from './ffi.ts';
import { Fdb } from './fdb.ts';
import { COUNTER_INDEX as I } from './stats.ts';
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

const fdb = new Fdb({ ageingSec: cfg.ageingSec });
for (const e of cfg.fdb) fdb.addStatic(e.mac, e.dst);

const buf = Buffer.alloc(65536 + 64);
const inner = buf.subarray(VXLAN_HLEN);
const sa = Buffer.alloc(16);
const salen = Buffer.alloc(4);

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
    post({ type: 'fdb', learned: fdb.learnedEntries() });
  }
}

post({ type: 'ready', role: 'rx' });
for (;;) {
  salen.writeUInt32LE(16, 0);
  const n = c.recvfrom(rxFd, buf, 65536, 0, sa, salen) as number;
  if (n < 0) {
    const e = errno();
    if (e === EAGAIN) {
      periodic(Date.now());
      continue;
    }
    if (e === EINTR) continue;
    C[I.rxError]!++;
    post({ type: 'fatal', role: 'rx', message: `recvfrom: ${strerror(e)}` });
    break;
  }
  C[I.rxPackets]!++;
  C[I.rxBytes]! += n;
  const k = classifyVxlan(buf, 0, n, vni);
  if (k < 0) {
    if (k === VX_RUNT) C[I.runt]!++;
    else if (k === VX_NO_I_FLAG) C[I.noIFlag]!++;
    else if (k === VX_WRONG_VNI) C[I.wrongVni]!++;
    continue;
  }
  if (k === VX_OK_RESERVED) C[I.reservedBitsSet]!++;
  if (dropPct > 0 && rand() * 100 < dropPct) {
    C[I.rxFaultDrop]!++;
    continue;
  }
  if (learning) {
    const now = Date.now();
    const ip = sa.readUInt32BE(4);
    const key = macKey(inner, 6);
    const r = fdb.learn(key, ip, now);
    if (r === 'new' || r === 'moved') {
      C[r === 'new' ? I.learnedNew : I.learnedMoved]!++;
      toTx({ op: 'set', key, ip, lastSeen: now });
      dirty = true;
    }
    periodic(now); // cheap unless ageing or a snapshot is due; a change (dirty) is posted at once
  }
  const w = c.write(tapFd, inner, n - VXLAN_HLEN) as number;
  if (w < 0) C[I.tapWriteError]!++;
  else {
    C[I.tapTxFrames]!++;
    C[I.tapTxBytes]! += w;
  }
}
