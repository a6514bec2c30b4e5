// A two-node VXLAN lab in network namespaces, for the VTEP's integration tests and benchVtep():
//
//   ns <prefix>-a                              ns <prefix>-b
//   eth0 192.0.2.1/24  ───── veth ─────  eth0 192.0.2.2/24           (underlay)
//   flannel.1 10.244.1.0/32                flannel.1 10.244.2.0/32   (kernel vxlan or userspace TAP)
//   pods (bridge) 10.244.1.1/24             pods (bridge) 10.244.2.1/24
//   neigh 10.244.2.0 lladdr <B VTEP MAC> permanent; route 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink
//   (and the mirror image on B) — flannel's VXLAN layout.
//
// `family: 6` builds the same over an IPv6 underlay (eth0 fd00:192:0:2::1/64 and ::2, VTEP MTU underlay − 70) with
// dual-stack pods: the bridge also gets fd00:244:<i>::1/64, the VTEP fd00:244:<i>::/128, and per peer a permanent
// IPv6 neighbour and `route fd00:244:<peer>::/64 via fd00:244:<peer>:: dev flannel.1 onlink` (flannel's v6 layout,
// on one device here). DAD is off in the lab's namespaces (per-namespace sysctl), so nothing waits for it.
//
// Every namespace is named `vxt-vtep-*`; destroy() kills what it started and deletes them.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pidAlive, run } from '../util/exec.ts';
import { moduleUrl, nodeArgv, PKG_ROOT } from '../util/module.ts';
import type { VtepConfigInput, VtepFaults } from './config.ts';
import { readVtepStats, type VtepStats } from './stats.ts';

export const NS_PREFIX = 'vxt-vtep-';
const MAIN = moduleUrl('./main.ts', import.meta.url);
const REPO = PKG_ROOT;

export type VtepKind = 'kernel' | 'user';

export interface VtepProcess {
  child: ChildProcess;
  pid: number;
  configPath: string;
  controlPath: string;
  readyFile: string;
  logPath: string;
  stats(): Promise<VtepStats>;
  stop(): Promise<void>;
  log(): string;
}

export interface LabSide {
  name: 'a' | 'b';
  ns: string;
  kind: VtepKind;
  index: number;
  underlayIp: string;
  vtepMac: string;
  vtepIp: string;
  podIp: string;
  /** family 6 only: IPv6 VTEP address and bridge ("pod") address */
  vtepIp6?: string;
  podIp6?: string;
  dev: string;
  vtep?: VtepProcess;
}

export interface VtepLab {
  prefix: string;
  dir: string;
  a: LabSide;
  b: LabSide;
  underlayMtu: number;
  /** underlay family */
  family: 4 | 6;
  /** VTEP MTU: underlayMtu − 50 (IPv4 underlay) or − 70 (IPv6) */
  vtepMtu: number;
  vni: number;
  port: number;
  destroy(): Promise<void>;
}

export interface LabSideOptions {
  kind: VtepKind;
  faults?: VtepFaults;
  /** extra/overriding VTEP config fields (userspace side only) */
  config?: Partial<VtepConfigInput>;
}

export interface LabOptions {
  /** namespaces are `vxt-vtep-<tag>-a` / `-b` */
  tag: string;
  a: LabSideOptions | VtepKind;
  b: LabSideOptions | VtepKind;
  underlayMtu?: number;
  /** underlay family (default 4); 6 also gives the pods IPv6 addresses */
  family?: 4 | 6;
  vni?: number;
  port?: number;
  /** parentPid given to userspace VTEPs (default: this process) */
  parentPid?: number;
}

export async function listVtepNamespaces(prefix = NS_PREFIX): Promise<string[]> {
  const r = await run(['ip', '-j', 'netns', 'list'], { reject: false });
  const s = r.stdout.trim();
  const list: Array<{ name: string }> = s ? JSON.parse(s) : [];
  return list.map((n) => n.name).filter((n) => n.startsWith(prefix));
}

/** Kill every process inside the namespace (only ever our own vxt-vtep-* ones), then delete it. */
export async function deleteNamespace(ns: string): Promise<void> {
  if (!ns.startsWith(NS_PREFIX)) throw new Error(`refusing to delete ${ns}: not a ${NS_PREFIX}* namespace`);
  for (let i = 0; i < 20; i++) {
    const r = await run(['ip', 'netns', 'pids', ns], { reject: false });
    const pids = r.stdout.split(/\s+/).filter(Boolean).map(Number);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, i < 5 ? 'SIGTERM' : 'SIGKILL');
      } catch {}
    }
    await sleep(50);
  }
  await run(['ip', 'netns', 'del', ns], { reject: false });
}

/** Remove leftovers of earlier runs with this prefix (e.g. `vxt-vtep-it-`). */
export async function sweepNamespaces(prefix: string): Promise<void> {
  for (const ns of await listVtepNamespaces(prefix)) await deleteNamespace(ns);
}

/**
 * Remove the namespaces `<prefix><pid>-*` whose pid is no longer alive: what a bench or test killed at its bound (a
 * vitest worker, SIGKILL) could not remove itself. A live pid's namespaces are never touched (another bench running
 * alongside); a reused pid keeps its leftovers until that process is gone too.
 */
export async function sweepDeadPidNamespaces(prefix: string): Promise<string[]> {
  const re = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\d+)-`);
  const swept: string[] = [];
  for (const ns of await listVtepNamespaces(prefix)) {
    const m = re.exec(ns);
    if (!m || pidAlive(Number(m[1]))) continue;
    await deleteNamespace(ns);
    swept.push(ns);
  }
  return swept;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Start `harness/vtep/main.ts` inside `ns` and wait for its ready file. */
export async function startVtepProcess(ns: string, cfg: VtepConfigInput, dir: string, opts: { timeoutMs?: number } = {}): Promise<VtepProcess> {
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, `${cfg.dev}.json`);
  const controlPath = cfg.controlPath ?? join(dir, 'control.sock');
  const readyFile = cfg.readyFile ?? join(dir, 'ready');
  const logPath = join(dir, 'vtep.log');
  rmSync(readyFile, { force: true });
  writeFileSync(configPath, JSON.stringify({ ...cfg, controlPath, readyFile }, null, 2));
  const log = openSync(logPath, 'a');
  const child = spawn('ip', ['netns', 'exec', ns, ...nodeArgv(MAIN, ['--config', configPath])], {
    stdio: ['ignore', log, log],
    cwd: REPO,
  });
  closeSync(log);
  let exit: string | undefined;
  child.once('exit', (code, sig) => (exit = `code ${code} signal ${sig}`));
  const readLog = () => {
    try {
      return readFileSync(logPath, 'utf8');
    } catch {
      return '';
    }
  };
  const p: VtepProcess = {
    child,
    pid: child.pid!,
    configPath,
    controlPath,
    readyFile,
    logPath,
    stats: () => readVtepStats(controlPath),
    log: readLog,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(t);
    },
  };
  // generous: the process compiles its TypeScript at start, which takes seconds on a loaded 2-core machine (parallel
  // test workers); it exits early, and is reported at once, when it fails rather than being slow
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  while (!existsSync(readyFile)) {
    if (exit !== undefined) throw new Error(`VTEP in ${ns} exited (${exit}) before ready:\n${readLog()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`VTEP in ${ns} not ready in time:\n${readLog()}`);
    }
    await sleep(20);
  }
  return p;
}

function sideOpts(o: LabSideOptions | VtepKind): LabSideOptions {
  return typeof o === 'string' ? { kind: o } : o;
}

export function vtepMacFor(index: number): string {
  return `02:76:78:00:00:0${index}`;
}

/** Build the two-node lab. On any failure everything created so far is removed before rethrowing. */
export async function createVtepLab(opts: LabOptions): Promise<VtepLab> {
  const prefix = `${NS_PREFIX}${opts.tag}`;
  const underlayMtu = opts.underlayMtu ?? 1500;
  const vni = opts.vni ?? 1;
  const port = opts.port ?? 4789;
  const family = opts.family ?? 4;
  const vtepMtu = underlayMtu - (family === 6 ? 70 : 50);
  const v6 = family === 6;
  const mk = (name: 'a' | 'b', index: number, o: LabSideOptions): LabSide => ({
    name,
    ns: `${prefix}-${name}`,
    kind: o.kind,
    index,
    underlayIp: v6 ? `fd00:192:0:2::${index}` : `192.0.2.${index}`,
    vtepMac: vtepMacFor(index),
    vtepIp: `10.244.${index}.0`,
    podIp: `10.244.${index}.1`,
    ...(v6 ? { vtepIp6: `fd00:244:${index}::`, podIp6: `fd00:244:${index}::1` } : {}),
    dev: `flannel.${vni}`,
  });
  const oa = sideOpts(opts.a);
  const ob = sideOpts(opts.b);
  const a = mk('a', 1, oa);
  const b = mk('b', 2, ob);
  const dir = mkdtempSync(join(tmpdir(), `vxt-vtep-${opts.tag}-`));
  const lab: VtepLab = {
    prefix,
    dir,
    a,
    b,
    underlayMtu,
    family,
    vtepMtu,
    vni,
    port,
    async destroy() {
      for (const s of [a, b]) await s.vtep?.stop().catch(() => {});
      for (const s of [a, b]) await deleteNamespace(s.ns);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await sweepNamespaces(`${prefix}-`);
    for (const s of [a, b]) {
      await run(['ip', 'netns', 'add', s.ns]);
      await run(['ip', 'link', 'set', 'lo', 'up'], { ns: s.ns });
      // inside the lab's own namespaces only: no duplicate address detection to wait for
      if (v6) await run(['sysctl', '-q', '-w', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'], { ns: s.ns });
    }
    await run(['ip', 'link', 'add', 'eth0', 'netns', a.ns, 'mtu', String(underlayMtu), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b.ns, 'mtu', String(underlayMtu)], {
      ns: a.ns,
    });
    for (const s of [a, b]) {
      await run(['ip', 'addr', 'add', v6 ? `${s.underlayIp}/64` : `${s.underlayIp}/24`, 'dev', 'eth0', ...(v6 ? ['nodad'] : [])], { ns: s.ns });
      await run(['ip', 'link', 'set', 'eth0', 'up'], { ns: s.ns });
      await run(['ip', 'link', 'add', 'pods', 'type', 'bridge'], { ns: s.ns });
      await run(['ip', 'addr', 'add', `${s.podIp}/24`, 'dev', 'pods'], { ns: s.ns });
      if (s.podIp6) await run(['ip', '-6', 'addr', 'add', `${s.podIp6}/64`, 'dev', 'pods', 'nodad'], { ns: s.ns });
      await run(['ip', 'link', 'set', 'pods', 'up'], { ns: s.ns });
    }
    for (const [s, peer, o] of [
      [a, b, oa],
      [b, a, ob],
    ] as const) {
      if (s.kind === 'kernel') {
        await run(['ip', 'link', 'add', s.dev, 'type', 'vxlan', 'id', String(vni), 'local', s.underlayIp, 'dev', 'eth0', 'dstport', String(port), 'nolearning'], { ns: s.ns });
        await run(['ip', 'link', 'set', s.dev, 'address', s.vtepMac, 'mtu', String(vtepMtu)], { ns: s.ns });
        await run(['bridge', 'fdb', 'append', peer.vtepMac, 'dev', s.dev, 'dst', peer.underlayIp, 'self', 'permanent'], { ns: s.ns });
        if (peer.kind === 'user') {
          // The kernel vxlan device leaves inner TCP/UDP checksums to "hardware" (CHECKSUM_PARTIAL);
          // across a veth nothing ever fills them in, and a userspace receiver gets the UDP payload
          // verbatim — so inner segments arrive with bad checksums and TCP stalls. A real NIC would
          // compute them; here the kernel side must checksum in software before encapsulating.
          await run(['ethtool', '-K', s.dev, 'tx', 'off'], { ns: s.ns });
        }
      } else {
        const cfg: VtepConfigInput = {
          dev: s.dev,
          mac: s.vtepMac,
          mtu: vtepMtu,
          local: s.underlayIp,
          underlayMtu,
          vni,
          port,
          learning: false,
          fdb: [{ mac: peer.vtepMac, dst: peer.underlayIp }],
          faults: o.faults ?? {},
          parentPid: opts.parentPid ?? process.pid,
          ...o.config,
        };
        s.vtep = await startVtepProcess(s.ns, cfg, join(dir, s.name));
      }
      // what vxlab does after the VTEP is ready — identical for kernel and userspace devices
      await run(['ip', 'addr', 'add', `${s.vtepIp}/32`, 'dev', s.dev], { ns: s.ns });
      await run(['ip', 'link', 'set', s.dev, 'up'], { ns: s.ns });
      await run(['ip', 'neigh', 'replace', peer.vtepIp, 'lladdr', peer.vtepMac, 'dev', s.dev, 'nud', 'permanent'], { ns: s.ns });
      await run(['ip', 'route', 'add', `10.244.${peer.index}.0/24`, 'via', peer.vtepIp, 'dev', s.dev, 'onlink'], { ns: s.ns });
      if (s.vtepIp6 && peer.vtepIp6) {
        await run(['ip', '-6', 'addr', 'add', `${s.vtepIp6}/128`, 'dev', s.dev, 'nodad'], { ns: s.ns });
        await run(['ip', '-6', 'neigh', 'replace', peer.vtepIp6, 'lladdr', peer.vtepMac, 'dev', s.dev, 'nud', 'permanent'], { ns: s.ns });
        await run(['ip', '-6', 'route', 'add', `fd00:244:${peer.index}::/64`, 'via', peer.vtepIp6, 'dev', s.dev, 'onlink'], { ns: s.ns });
      }
    }
    return lab;
  } catch (e) {
    await lab.destroy().catch(() => {});
    throw e;
  }
}

export interface PingResult {
  ok: boolean;
  sent: number;
  received: number;
  rttsMs: number[];
  stdout: string;
}

/** ping from `ns` to `dst`; never throws on loss. */
export async function ping(ns: string, dst: string, o: { count?: number; intervalS?: number; size?: number; df?: boolean; waitS?: number; src?: string } = {}): Promise<PingResult> {
  const argv = ['ping', '-n', '-c', String(o.count ?? 3), '-i', String(o.intervalS ?? 0.2), '-W', String(o.waitS ?? 1)];
  if (o.size !== undefined) argv.push('-s', String(o.size));
  if (o.df) argv.push('-M', 'do');
  if (o.src) argv.push('-I', o.src);
  argv.push(dst);
  const r = await run(argv, { ns, reject: false, timeoutMs: 120_000 });
  const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
  const rtts = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((x) => Number(x[1]));
  const sent = m ? Number(m[1]) : 0;
  const received = m ? Number(m[2]) : 0;
  return { ok: received > 0 && received === sent, sent, received, rttsMs: rtts, stdout: r.stdout + r.stderr };
}
