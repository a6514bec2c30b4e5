// bench section `scale` (#16): `vxlab up` + `vxlab down` of N-node flannel topologies (1 pod per node) against
// Mininet building and stopping N hosts, in the same run, plus the peak memory of the `vxlab up` process and a
// stage profile of up/down. The "full run" row (a `vxlab run` of the same topology) is added by its own function.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { up } from '../harness/runtime/lifecycle.ts';
import { plan as makePlan } from '../harness/plan/plan.ts';
import { processesIn } from '../harness/runtime/netns/procs.ts';
import { TopologySchema, type Topology } from '../harness/topology/schema.ts';
import { fmtRatio, fmtS, section, table, type Owned } from './lib.ts';
import { hostSysctlPath, readHostSysctl } from '../harness/util/host-sysctl.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const VXLAB = join(REPO, 'bin', 'vxlab.js');
export const SCALE_MAX_NODES = 4000;

/** N flannel nodes × 1 pod, kernel VTEPs, one /16 underlay segment; pod subnets /24 out of a /10 (16,383 nodes). */
export function scaleTopology(nodes: number): Topology {
  return TopologySchema.parse({
    name: `scale${nodes}`,
    underlay: { mtu: 1500, segments: [{ name: 'rack1', cidr: '192.168.0.0/16' }] },
    overlay: { layout: 'flannel', vtep: 'kernel', vni: 1, port: 4789, podCidr: '10.64.0.0/10', nodeCidrSize: 24 },
    nodes: Array.from({ length: nodes }, (_, i) => ({ name: `n${i + 1}`, pods: 1 })),
  });
}

interface Timed {
  ms: number;
  code: number | null;
  /** peak RSS in kB (wait4 rusage via /usr/bin/time), when measured */
  maxRssKb?: number;
  out: string;
}

/** Run argv to completion (bounded); with `rss`, under /usr/bin/time -f %M so the child's peak RSS is reported. */
function timed(argv: string[], timeoutMs: number, rss = false, env?: NodeJS.ProcessEnv): Promise<Timed> {
  const marker = 'VXLAB_BENCH_MAXRSS=';
  const full = rss ? ['/usr/bin/time', '-f', `${marker}%M`, ...argv] : argv;
  const a = performance.now();
  return new Promise((resolve) => {
    const c = spawn(full[0]!, full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let out = '';
    c.stdout!.on('data', (d) => (out += d));
    c.stderr!.on('data', (d) => (out += d));
    const timer = setTimeout(() => c.kill('SIGINT'), timeoutMs); // vxlab up rolls back on SIGINT
    c.on('close', (code) => {
      clearTimeout(timer);
      const m = new RegExp(`${marker}(\\d+)`).exec(out);
      resolve({ ms: performance.now() - a, code, out, ...(m ? { maxRssKb: Number(m[1]) } : {}) });
    });
    c.on('error', (e) => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - a, code: -1, out: String(e) });
    });
  });
}

function which(cmd: string): boolean {
  return spawnSync('which', [cmd], { stdio: 'ignore' }).status === 0;
}

/**
 * Mininet for the baseline: Debian's `mininet` (apt-get when missing). `--switch lxbr` needs `brctl` (bridge-utils),
 * not Open vSwitch. Returns the reason when it cannot run.
 */
/** The host sysctls Mininet's fixLimits() may raise (Debian mininet 2.3, mininet/util.py). */
export const MININET_SYSCTLS = [
  'fs.file-max',
  'net.core.wmem_max',
  'net.core.rmem_max',
  'net.ipv4.tcp_rmem',
  'net.ipv4.tcp_wmem',
  'net.core.netdev_max_backlog',
  'net.ipv4.neigh.default.gc_thresh1',
  'net.ipv4.neigh.default.gc_thresh2',
  'net.ipv4.neigh.default.gc_thresh3',
  'net.ipv4.route.max_size',
  'kernel.pty.max',
];
export function readSysctls(keys: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const k of keys) {
    const v = readHostSysctl(k);
    if (v !== undefined) m.set(k, v);
  }
  return m;
}

/** Write back every value that changed; returns `key old→now` for each one put back. */
export function restoreSysctls(before: Map<string, string>): string[] {
  const put: string[] = [];
  const flat = (x: string) => x.replace(/\s+/g, ' ');
  for (const [k, v] of before) {
    const now = readHostSysctl(k);
    if (now === undefined || flat(now) === flat(v)) continue;
    try {
      writeFileSync(hostSysctlPath(k), flat(v));
      put.push(`${k} ${flat(now)}→${flat(v)}`);
    } catch (e) {
      put.push(`${k}: could not put back ${v} (${(e as Error).message})`);
    }
  }
  return put;
}

export function ensureMininet(log: (s: string) => void): string | undefined {
  const missing = () => ['mn', 'brctl'].filter((c) => !which(c));
  if (missing().length) {
    if (!which('apt-get')) return `Mininet not installed (${missing().join(', ')} missing) and no apt-get`;
    log('scale: installing Debian mininet and bridge-utils (apt-get install -y --no-install-recommends)');
    const r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'mininet', 'bridge-utils'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 600_000 });
    if (r.status !== 0) return `apt-get install mininet bridge-utils failed (exit ${r.status ?? r.signal})`;
    if (missing().length) return `after apt-get, still missing: ${missing().join(', ')}`;
  }
  return undefined;
}

/**
 * The kernel frees deleted network namespaces asynchronously (cleanup_net, on the `netns` workqueue): after the
 * `down` of 1,000 nodes it is still tearing 2,000 namespaces down for seconds, and a figure timed meanwhile measures
 * that too (session 8: the 100-node up+down read 21.3 s right after the 1,000-node full run, 1.7 s alone). Two
 * signals, both the kernel's own: the number of `struct net` objects allocated (the net_namespace slab cache in
 * /proc/slabinfo, root only), and whether a kworker is executing netns work right now (its /proc/PID/comm reads
 * `kworker/…+netns` while it does, `-netns` once idle: the workqueue's own naming).
 */
export function netnsObjects(): number | undefined {
  try {
    const m = /^net_namespace\s+(\d+)/m.exec(readFileSync('/proc/slabinfo', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a kworker is executing work of the `netns` workqueue (cleanup_net) at this moment. */
export function netnsCleanupRunning(): boolean {
  let pids: string[];
  try {
    pids = readdirSync('/proc');
  } catch {
    return false;
  }
  for (const d of pids) {
    if (d.charCodeAt(0) > 57) continue;
    try {
      const c = readFileSync(`/proc/${d}/comm`, 'utf8');
      if (c.startsWith('kworker/') && c.trimEnd().endsWith('+netns')) return true;
    } catch {
      /* gone */
    }
  }
  return false;
}

export interface Settled {
  waitedMs: number;
  /** net_namespace objects when the wait started and when it ended */
  from?: number;
  to?: number;
  /** false: the bound ran out first (the figure after it is timed anyway, and says so) */
  settled: boolean;
  /** what was waited for, for the bench's output */
  how: string;
}

/**
 * Wait (bounded) until the kernel has finished freeing the namespaces deleted before: no kworker executing netns
 * work and the net_namespace object count not falling, both for `quietMs` in a row (polled every 100 ms). Without
 * /proc/slabinfo the kworker signal alone decides. Other sessions on the machine may create and delete namespaces
 * meanwhile: their brief cleanups only lengthen the wait, within `boundMs`. The object count may stay above its earlier
 * value after the work has ended (the last frees of `struct net` come when their last references go); that is not
 * waited for.
 */
export async function waitNamespacesFreed(o: { boundMs?: number; quietMs?: number; signal?: AbortSignal } = {}): Promise<Settled> {
  const bound = o.boundMs ?? 180_000;
  const quiet = o.quietMs ?? 1_000;
  const a = performance.now();
  const from = netnsObjects();
  let low = from;
  let quietSince = performance.now();
  for (;;) {
    const now = performance.now();
    const n = netnsObjects();
    const running = netnsCleanupRunning();
    const falling = n !== undefined && low !== undefined && n < low;
    if (n !== undefined && (low === undefined || n < low)) low = n;
    if (running || falling) quietSince = now;
    const how = `kworker netns work idle and net_namespace objects steady for ${quiet / 1000} s`;
    if (now - quietSince >= quiet) return { waitedMs: now - a, from, to: n, settled: true, how };
    if (now - a >= bound || o.signal?.aborted) return { waitedMs: now - a, from, to: n, settled: false, how: `${how}: bound of ${bound / 1000} s reached` };
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function fmtSettled(s: Settled): string {
  const objs = s.from !== undefined ? `, net_namespace objects ${s.from} → ${s.to}` : ' (no /proc/slabinfo: kworker signal only)';
  return `waited ${(s.waitedMs / 1000).toFixed(1)} s for the kernel to free namespaces${objs}${s.settled ? '' : ` — NOT settled (${s.how})`}`;
}

export interface ScaleStageProfile {
  nodes: number;
  settledBefore?: Settled;
  /** seconds per stage of up (library, in-process) and of down */
  stages: Record<string, number>;
}

/** Stage timings of one library up()/down() (the profile in the README): everything recorded in `owned` first. */
export async function profileUpDown(n: number, owned: Owned, signal: AbortSignal): Promise<ScaleStageProfile> {
  const topo = scaleTopology(n);
  const stages: Record<string, number> = {};
  let a = performance.now();
  const t = owned.resolve(topo);
  stages['resolve (normalize)'] = (performance.now() - a) / 1000;
  a = performance.now();
  const p = makePlan(t);
  // the plan's node ops are generated on read: walk them once to time the generation of every overlay line
  let lines = 0;
  for (const st of p.stages) for (const s of st.steps) for (const op of s.ops) if ('lines' in op) lines += op.lines.length;
  stages[`plan: generate ${lines} lines`] = (performance.now() - a) / 1000;
  let last = performance.now();
  let name = 'state file + namespaces (nodes, pods)';
  a = performance.now();
  const running = await up(t, {
    ephemeral: true,
    signal,
    onStage: (s) => {
      const now = performance.now();
      stages[`up: ${name}`] = (now - last) / 1000;
      last = now;
      name = `stage ${s}`;
    },
  });
  stages[`up: ${name}`] = (performance.now() - last) / 1000;
  stages['up: total'] = (performance.now() - a) / 1000;
  try {
    a = performance.now();
    processesIn(running.state.namespaces);
    stages['down: find processes in the namespaces (/proc scan)'] = (performance.now() - a) / 1000;
  } finally {
    a = performance.now();
    await running.down();
    stages['down: total (kill, ip netns del, wait until gone)'] = (performance.now() - a) / 1000;
  }
  return { nodes: n, stages };
}

export interface ScaleRow {
  nodes: number;
  vxlabUpMs: number;
  vxlabDownMs: number;
  vxlabMaxRssMb?: number;
  mininetMs?: number;
  mininetSkip?: string;
  error?: string;
  /** the waits for the kernel to free earlier namespaces, before vxlab's up and before Mininet */
  settledBeforeUp?: Settled;
  settledBeforeMininet?: Settled;
}

export interface ScaleResult {
  rows: ScaleRow[];
  profiles: ScaleStageProfile[];
  load: string;
}

/**
 * For each size: `vxlab up FILE` (CLI process under /usr/bin/time for its peak RSS) then `vxlab down FILE`, then
 * Mininet `mn --topo single,N --switch lxbr --controller none --test none` right after (same load). Profiles
 * (library up/down stage times) at `profileSizes`.
 */
export async function scaleSection(o: {
  sizes: number[];
  profileSizes: number[];
  owned: Owned;
  scratch: string;
  signal: AbortSignal;
  check: () => void;
  log: (s: string) => void;
}): Promise<ScaleResult> {
  const rows: ScaleRow[] = [];
  const mnSkip = ensureMininet(o.log);
  const loadBefore = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  for (const n of o.sizes) {
    o.check();
    const file = join(o.scratch, `scale${n}.yaml`);
    writeFileSync(file, JSON.stringify(scaleTopology(n))); // JSON is YAML
    const runId = o.owned.newRunId(); // recorded before up: reapAll downs it whatever happens
    const bound = 120_000 + n * 1_000;
    o.log(`scale: vxlab up ${n} nodes (run ${runId})`);
    // every figure starts once the kernel has freed what the one before deleted (the full run's 2,000 namespaces,
    // the previous size's, Mininet's hosts): else it times that teardown too
    const settledBeforeUp = await waitNamespacesFreed({ signal: o.signal });
    o.log(`scale: before vxlab up ${n}: ${fmtSettled(settledBeforeUp)}`);
    const u = await timed(['node', VXLAB, 'up', file, '--run-id', runId], bound, existsSync('/usr/bin/time'));
    const row: ScaleRow = { nodes: n, vxlabUpMs: u.ms, vxlabDownMs: NaN, ...(u.maxRssKb ? { vxlabMaxRssMb: u.maxRssKb / 1024 } : {}), settledBeforeUp };
    o.log(`scale: vxlab down ${n} nodes`);
    const d = await timed(['node', VXLAB, 'down', file, '--run-id', runId], bound);
    row.vxlabDownMs = d.ms;
    if (u.code !== 0 || d.code !== 0) row.error = `vxlab ${u.code !== 0 ? `up exit ${u.code}` : `down exit ${d.code}`}: ${(u.code !== 0 ? u.out : d.out).trim().split('\n').slice(-3).join(' / ')}`;
    if (mnSkip) row.mininetSkip = mnSkip;
    else {
      o.check();
      row.settledBeforeMininet = await waitNamespacesFreed({ signal: o.signal });
      o.log(`scale: before mininet ${n}: ${fmtSettled(row.settledBeforeMininet)}`);
      o.log(`scale: mininet ${n} hosts`);
      // Mininet's lxbr switch s1 and its s1-ethN veth ends live in the root namespace while it runs; mn removes them
      // and Mininet raises host sysctls when it starts (mininet.util.fixLimits: the shared ARP table's gc_thresh3 from
      // 1,024 to 16,384, socket buffers, the backlog): put back as they were, so that the next figure — and the rest
      // of the host's life — runs on the host's own settings (session 10: a 1,000-node vxlab run passed only after a
      // Mininet run had raised gc_thresh3)
      const before = readSysctls(MININET_SYSCTLS);
      let m: Awaited<ReturnType<typeof timed>>;
      try {
        m = await timed(['mn', '--topo', `single,${n}`, '--switch', 'lxbr', '--controller', 'none', '--test', 'none'], bound);
      } finally {
        const put = restoreSysctls(before);
        if (put.length) o.log(`scale: after mininet ${n}: put back ${put.join(', ')}`);
      }
      if (m.code === 0 && /\*\*\* Done/.test(m.out)) row.mininetMs = m.ms;
      else row.mininetSkip = `mn exited ${m.code}: ${m.out.trim().split('\n').slice(-2).join(' / ')}`;
    }
    rows.push(row);
    // each row as soon as it is measured (the tables come at the end, after the profiles)
    o.log(`scale: ${n} nodes: vxlab up ${fmtS(row.vxlabUpMs)} + down ${fmtS(row.vxlabDownMs)}${row.vxlabMaxRssMb ? `, peak RSS ${Math.round(row.vxlabMaxRssMb)} MB` : ''}${row.error ? ` (FAILED: ${row.error})` : ''}; mininet ${row.mininetMs ? fmtS(row.mininetMs) : `skipped: ${row.mininetSkip}`}`);
  }
  const profiles: ScaleStageProfile[] = [];
  for (const n of o.profileSizes) {
    o.check();
    o.log(`scale: stage profile of library up()/down() at ${n} nodes`);
    const settledBefore = await waitNamespacesFreed({ signal: o.signal });
    o.log(`scale: before the ${n}-node profile: ${fmtSettled(settledBefore)}`);
    profiles.push({ ...(await profileUpDown(n, o.owned, o.signal)), settledBefore });
  }
  const loadAfter = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  return { rows, profiles, load: `load average before ${loadBefore}, after ${loadAfter}` };
}

export function printScale(r: ScaleResult, targets: { section: string; figure: string; value: string; target: string; met: boolean | undefined }[]): void {
  console.log(section('scale: vxlab up+down of N flannel nodes × 1 pod vs Mininet N hosts (lxbr), same run'));
  console.log(
    table(
      ['nodes', 'vxlab up s', 'down s', 'up+down s', 'peak RSS of up', 'mininet s', 'vxlab/mininet', 'target'],
      r.rows.map((x) => {
        const tot = x.vxlabUpMs + x.vxlabDownMs;
        const ratio = x.mininetMs ? tot / x.mininetMs : NaN;
        return [
          x.nodes,
          fmtS(x.vxlabUpMs),
          fmtS(x.vxlabDownMs),
          x.error ? `FAILED` : fmtS(tot),
          x.vxlabMaxRssMb ? `${Math.round(x.vxlabMaxRssMb)} MB` : '—',
          x.mininetMs ? fmtS(x.mininetMs) : 'skipped',
          Number.isFinite(ratio) && !x.error ? fmtRatio(ratio) : '—',
          '≤ 0.50×',
        ];
      }),
    ),
  );
  for (const x of r.rows) {
    if (x.error) console.log(`  ${x.nodes} nodes: ${x.error}`);
    if (x.mininetSkip) console.log(`  ${x.nodes} nodes: Mininet comparison skipped: ${x.mininetSkip}`);
    const ratio = x.mininetMs ? (x.vxlabUpMs + x.vxlabDownMs) / x.mininetMs : NaN;
    targets.push({ section: 'scale', figure: `${x.nodes} nodes up+down vs Mininet`, value: x.error ? 'failed' : Number.isFinite(ratio) ? fmtRatio(ratio) : 'skipped', target: '≤ 0.50×', met: x.error ? false : Number.isFinite(ratio) ? ratio <= 0.5 : undefined });
    if (x.nodes === 1000) targets.push({ section: 'scale', figure: '1,000 nodes: peak RSS of vxlab up', value: x.vxlabMaxRssMb ? `${Math.round(x.vxlabMaxRssMb)} MB` : '—', target: '≤ 400 MB', met: x.vxlabMaxRssMb ? x.vxlabMaxRssMb <= 400 : undefined });
  }
  console.log('CLI processes, as a user runs them: `vxlab up FILE` then `vxlab down FILE` (Node start-up included), then');
  console.log('`mn --topo single,N --switch lxbr --controller none --test none` (Python start-up included). Peak RSS: /usr/bin/time %M.');
  console.log(r.load);
  console.log('Each figure is timed once the kernel has finished freeing the namespaces deleted before it (the full run\'s,');
  console.log('the previous size\'s, Mininet\'s): no kworker running netns work and the net_namespace slab count steady for 1 s.');
  for (const x of r.rows) {
    if (x.settledBeforeUp) console.log(`  ${x.nodes} nodes, before vxlab up: ${fmtSettled(x.settledBeforeUp)}`);
    if (x.settledBeforeMininet) console.log(`  ${x.nodes} nodes, before Mininet: ${fmtSettled(x.settledBeforeMininet)}`);
  }
  for (const p of r.profiles) {
    console.log(section(`scale: where up/down time goes at ${p.nodes} nodes (library up()/down(), in-process)`));
    if (p.settledBefore) console.log(`before it: ${fmtSettled(p.settledBefore)}`);
    console.log(table(['stage', 's'], Object.entries(p.stages).map(([k, v]) => [k, v.toFixed(2)]), ['l', 'r']));
  }
}
