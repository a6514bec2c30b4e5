// Userspace VTEP process: `node --import tsx harness/vtep/main.ts --config <path.json>`, run inside a
// node's network namespace. Creates the TAP `dev`, binds UDP `local:port`, writes `readyFile`, then
// forwards between the two until killed (SIGTERM/SIGINT: clean exit 0; parent death: exits too).
//
// Design, decided by measurement (harness/vtep/microbench/reader.ts, this 2-core VM, 1400-byte
// frames, generator saturating the TAP from the same namespace, 3 s runs):
//   read path only                                   frames/s read   (generator offered)
//   fs.read on the TAP fd (libuv threadpool), 1 in flight    46 k      (813 k)
//   fs.read, 4 reads in flight                               57 k      (726 k)
//   koffi.node.poll + non-blocking read drain, main thread  234 k      (237 k: kept up)
//   worker thread, blocking koffi read() loop               313 k      (314 k: kept up)
//   read + send to a local UDP port (local delivery cost included, so all rows lower):
//   koffi.node.poll + Node dgram.send                         92 k
//   worker, koffi read + sendto on IPPROTO_RAW (IP_HDRINCL)   99 k
//   worker, koffi read + sendto on a UDP socket              108 k
// → Each direction runs on its own worker thread doing blocking koffi read/recvfrom + sendto/write
//   (two cores: TX and RX proceed in parallel, the main thread stays free for control/stats).
// → UDP is sent from kernel UDP sockets (fastest, and the kernel computes nothing we must), one of a
//   pool of `srcPortSockets` (64) sockets bound to ports spread over 49152–65535; the inner flow hash
//   picks the socket, so distinct flows get distinct outer source ports (RFC 7348 §5 entropy).
//   A raw socket could pick any port per packet but was slower and needs us to build the IP header;
//   it is only used for the corruptUdpChecksum fault, where we must control the checksum.
// → DF: IP_MTU_DISCOVER=IP_PMTUDISC_DO on every socket (set through koffi; Node's dgram cannot).
// End to end (harness/vtep/bench.ts, iperf3 TCP -t 3..5, 2 cores shared by iperf3 and both VTEPs):
//   kernel↔kernel 11.5–12.9 Gbit/s (TSO/GRO), user↔user 0.76–1.05 Gbit/s, kernel→user 0.9–1.7,
//   user→kernel 0.7–0.9; ping p50 +0.13..0.23 ms over kernel↔kernel. Both cores sat at ~100% sys
//   during user↔user runs: the per-packet syscalls and the kernel stack work behind them were the limit.
// → Offloads (config `offloads`, default on; each step falls back on its own if the kernel refuses):
//   the TAP is opened with IFF_VNET_HDR + TUNSETOFFLOAD(CSUM|TSO4|TSO6), so TCP arrives as 64 KB
//   super-frames which tso.ts segments into complete VXLAN datagrams (each ≤ underlayMtu) sent with
//   one sendmsg + UDP_SEGMENT per ≤ 64; partial checksums are completed here. The rx socket has
//   UDP_GRO (one message per datagram train), recvmmsg takes up to 16 messages per syscall, and
//   gro.ts merges in-order TCP segments of a batch back into one super-frame written with a
//   virtio_net_hdr. Same bench, same run: kernel↔kernel 16.0 Gbit/s, user↔user 0.98 → 5.26
//   (7 % → 33 %), user→kernel 0.76 → 4.93, kernel→user 1.76 → 3.59; added p50 0.1–0.25 ms.
// → Over an IPv6 underlay the same paths run on UDP6 sockets (56 bytes of outer headers, TAP MTU underlay − 70).
//   gro.ts first merged IPv4 inner TCP only, so IPv6 pods wrote every segment to the TAP on its own: user↔user
//   IPv6/IPv6 measured 0.1–0.5× of IPv4/IPv4. With IPv6 merged too (TCPV6 super-frames, ~46 segments per write),
//   5 interleaved runs at load ~19 gave 0.95× (IPv6 pods) and 0.84× (IPv4 pods over IPv6); see README for the bench.
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname } from 'node:path';
import { MessageChannel, type Worker } from 'node:worker_threads';
import { pidAlive, run } from '../util/exec.ts';
import { loadVtepConfig, type VtepConfig } from './config.ts';
import { macKeyToString } from './codec.ts';
import { AddrTable, familyOf, mtuOverhead, parseIpv6 } from './addr.ts';
import { Fdb } from './fdb.ts';
import { SIGKILL, SysError, c, openTap, openTapOffload, rawSocket, setParentDeathSignal, setRcvTimeout, udpSocket } from './ffi.ts';
import { poolPorts } from './hash.ts';
import { COUNTER_SLOTS, countersFrom, type VtepStats } from './stats.ts';
import { tsWorker } from './worker-boot.ts';
import { moduleUrl } from '../util/module.ts';
import type { RxInit, TxInit, WorkerToMain } from './worker-shared.ts';

const EADDRINUSE = 98;

function parseArgs(argv: string[]): { config: string } {
  const i = argv.indexOf('--config');
  if (i < 0 || !argv[i + 1]) {
    console.error('usage: node --import tsx harness/vtep/main.ts --config <path.json>');
    process.exit(2);
  }
  return { config: argv[i + 1]! };
}

/** Exit now, from any state: the workers sit in blocking syscalls, so a normal exit could wait on them. */
function hardExit(code: number): never {
  c._exit(code);
  throw new Error('unreachable');
}

function watchParent(pid: number): void {
  // Primary: the kernel sends SIGKILL when the parent exits (even when it is SIGKILLed itself).
  setParentDeathSignal(SIGKILL);
  // The parent may have died before prctl took effect; or parentPid may not be our direct parent.
  const check = () => {
    if (!pidAlive(pid)) {
      console.error(`vtep: parent ${pid} is gone; exiting`);
      hardExit(0);
    }
  };
  check();
  const directParent = c.getppid() as number;
  if (directParent !== pid) console.error(`vtep: note: parentPid ${pid} is not the direct parent (${directParent}); relying on polling`);
  // Fallback: poll.
  setInterval(check, 200);
}

/** A UDP socket of the underlay's family, bound to local:port. */
function bindUdp(cfg: VtepConfig, port: number, bufBytes?: number): number {
  return udpSocket(cfg.local, port, bufBytes, familyOf(cfg.local) === 6 ? parseIpv6(cfg.local) : undefined);
}

function bindPool(cfg: VtepConfig, rxFd: number): { fds: number[]; ports: number[] } {
  const fixed = cfg.faults.fixedSrcPort;
  if (fixed !== undefined) {
    if (fixed === cfg.port) return { fds: [rxFd], ports: [fixed] };
    return { fds: [bindUdp(cfg, fixed, 1 << 20)], ports: [fixed] };
  }
  const fds: number[] = [];
  const ports: number[] = [];
  for (const want of poolPorts(cfg.srcPortSockets)) {
    for (let p = want, tries = 0; tries < 32 && p <= 65535; p++, tries++) {
      if (p === cfg.port) continue;
      try {
        fds.push(bindUdp(cfg, p, 1 << 20));
        ports.push(p);
        break;
      } catch (e) {
        if (!(e instanceof SysError) || e.errno !== EADDRINUSE) throw e;
      }
    }
  }
  if (fds.length === 0) throw new Error('could not bind any source-port socket in 49152–65535');
  return { fds, ports };
}

function writeAtomic(path: string, body: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, body);
  renameSync(tmp, path);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const cfg = loadVtepConfig(args.config);
  if (cfg.parentPid !== undefined) watchParent(cfg.parentPid);
  if (cfg.readyFile) rmSync(cfg.readyFile, { force: true });
  const startedAt = new Date();

  // offloads (TSO super-frames from the TAP, UDP GSO/GRO) unless a per-frame tx fault needs the plain path
  const offloads = cfg.offloads && !cfg.faults.corruptUdpChecksum && !(cfg.faults.txDropPercent ?? 0);
  let tapFd: number;
  let vnetHdr = false;
  if (offloads) {
    const tap = openTapOffload(cfg.dev);
    tapFd = tap.fd;
    vnetHdr = tap.vnetHdr;
    if (tap.note) console.error(`vtep: ${tap.note}`);
  } else tapFd = openTap(cfg.dev);
  // like vxlab's kernel VTEP devices: no IPv6 link-local address, so the TAP sends no router solicitations, MLD or
  // NDP from fe80::…, which head-end replication would hand to every peer (a stray neighbour there); vxlab adds the
  // addresses it wants. Refused only where IPv6 is off in the namespace: then there is nothing to suppress.
  await run(['ip', 'link', 'set', 'dev', cfg.dev, 'addrgenmode', 'none'], { reject: false });
  await run(['ip', 'link', 'set', 'dev', cfg.dev, 'address', cfg.mac, 'mtu', String(cfg.mtu), 'up']);

  const rxFd = bindUdp(cfg, cfg.port);
  setRcvTimeout(rxFd, 200);
  const pool = bindPool(cfg, rxFd);
  const rawFd = cfg.faults.corruptUdpChecksum ? rawSocket() : -1;

  const counters = new SharedArrayBuffer(COUNTER_SLOTS * 8);
  const ctl = new SharedArrayBuffer(16);
  const { port1, port2 } = new MessageChannel();
  const base = { cfg, tapFd, vnetHdr, sockOffloads: offloads, counters, ctl };
  const txInit: TxInit = { ...base, fdbPort: port2, sockFds: pool.fds, sockPorts: pool.ports, rawFd };
  const rxInit: RxInit = { ...base, fdbPort: port1, rxFd };
  const srcPorts = rawFd >= 0 ? (cfg.faults.fixedSrcPort !== undefined ? [cfg.faults.fixedSrcPort] : [49152, 65535]) : pool.ports;

  // FDB view for stats: statics from config + the learned snapshot the rx worker posts.
  let learned: Array<{ key: number; dst: string; lastSeen: number }> = [];
  const statics = new Fdb({ addrs: AddrTable.forLocal(cfg.local) });
  for (const e of cfg.fdb) statics.addStatic(e.mac, e.dst);

  const snapshot = (): VtepStats => {
    const now = Date.now();
    return {
      pid: process.pid,
      dev: cfg.dev,
      mac: cfg.mac,
      local: cfg.local,
      family: familyOf(cfg.local),
      overhead: mtuOverhead(familyOf(cfg.local)),
      port: cfg.port,
      vni: cfg.vni,
      mtu: cfg.mtu,
      underlayMtu: cfg.underlayMtu,
      learning: cfg.learning && !cfg.faults.noLearning,
      faults: { ...cfg.faults },
      srcPorts,
      startedAt: startedAt.toISOString(),
      uptimeSec: (now - startedAt.getTime()) / 1000,
      at: new Date(now).toISOString(),
      counters: countersFrom(new Float64Array(counters)),
      fdb: [
        ...statics.dump(now).map((e) => ({ ...e, static: true })),
        ...learned.map((e) => ({
          mac: macKeyToString(e.key),
          dst: e.dst,
          type: 'learned' as const,
          static: false,
          ageSec: Math.max(0, Math.floor((now - e.lastSeen) / 1000)),
        })),
      ],
    };
  };

  const workers: Worker[] = [];
  const ready = new Set<string>();
  let onReady!: () => void;
  const allReady = new Promise<void>((r) => (onReady = r));
  const onMsg = (m: WorkerToMain) => {
    if (m.type === 'ready') {
      ready.add(m.role);
      if (ready.size === 2) onReady();
    } else if (m.type === 'fdb') learned = m.learned;
    else if (m.type === 'fatal') {
      console.error(`vtep ${m.role}: fatal: ${m.message}`);
      shutdown(1);
    }
  };
  for (const [file, data, transfer] of [
    ['./tx-worker.ts', txInit, [port2]],
    ['./rx-worker.ts', rxInit, [port1]],
  ] as const) {
    const w = tsWorker(moduleUrl(file, import.meta.url), { workerData: data, transferList: [...transfer] });
    w.on('message', onMsg);
    w.on('error', (e) => {
      console.error(`vtep: worker ${file} failed: ${e.stack ?? e}`);
      shutdown(1);
    });
    workers.push(w);
  }

  let server: Server | undefined;
  if (cfg.controlPath) {
    rmSync(cfg.controlPath, { force: true });
    mkdirSync(dirname(cfg.controlPath), { recursive: true });
    server = createServer((sock) => {
      let buf = '';
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => {
        buf += d;
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        const cmd = buf.slice(0, nl).trim();
        if (cmd === 'stats') sock.end(`${JSON.stringify(snapshot())}\n`);
        else if (cmd === 'ping') sock.end('pong\n');
        else sock.end(`error unknown command ${JSON.stringify(cmd)} (try: stats, ping)\n`);
      });
      sock.on('error', () => {});
    });
    await new Promise<void>((res, rej) => {
      server!.once('error', rej);
      server!.listen(cfg.controlPath, () => res());
    });
  }

  function writeStatsFile(): void {
    if (cfg.statsFile) writeAtomic(cfg.statsFile, `${JSON.stringify(snapshot(), null, 1)}\n`);
  }

  let stopping = false;
  function shutdown(code: number): void {
    if (stopping) return;
    stopping = true;
    try {
      writeStatsFile();
    } catch {}
    if (cfg.controlPath) rmSync(cfg.controlPath, { force: true });
    if (cfg.readyFile) rmSync(cfg.readyFile, { force: true });
    hardExit(code);
  }
  process.on('SIGTERM', () => shutdown(0));
  process.on('SIGINT', () => shutdown(0));
  process.on('SIGHUP', () => shutdown(0));

  await allReady;
  if (cfg.statsFile) {
    writeStatsFile();
    setInterval(writeStatsFile, cfg.statsIntervalMs);
  }
  if (cfg.readyFile) {
    writeAtomic(
      cfg.readyFile,
      `${JSON.stringify({ pid: process.pid, dev: cfg.dev, mac: cfg.mac, local: cfg.local, port: cfg.port, srcPorts, controlPath: cfg.controlPath ?? null, statsFile: cfg.statsFile ?? null })}\n`,
    );
  }
  console.error(`vtep: ${cfg.dev} ready (pid ${process.pid}, ${cfg.local}:${cfg.port}, vni ${cfg.vni}, ${pool.fds.length} source ports)`);
}

main().catch((e) => {
  console.error(`vtep: ${e instanceof Error ? e.message : String(e)}`);
  hardExit(1);
});
