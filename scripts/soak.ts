// npm run soak -- --cycles N: random shipped topologies through `vxlab up` / `vxlab run`, killed at a random point with
// SIGKILL, SIGINT or SIGTERM, then reaped the way a user would (plain `vxlab cleanup`; `vxlab down` for a run that
// had finished coming up), then counted: leaked namespaces, state files, work dirs, processes, root-namespace changes.
// Never `cleanup --all`: other runs on this machine are not ours. Every cycle uses its own run id.
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { vxNamespaces } from '../test/helpers/host.ts';
import { RunWatch } from '../test/helpers/procs.ts';
import { readState, statePath } from '../harness/runtime/state.ts';
import { loadTopology } from '../harness/topology/load.ts';
import { normalize } from '../harness/topology/normalize.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/vxlab.js');
const SIGNALS = ['SIGKILL', 'SIGINT', 'SIGTERM'] as const;
const COMMANDS = ['up', 'run'] as const;
const SUITES = ['routes', 'encapsulation', 'mtu', 'connectivity'];

const { values } = parseArgs({
  options: {
    cycles: { type: 'string', default: '30' },
    seed: { type: 'string' },
    'max-delay': { type: 'string', default: '20000' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  console.log(`Usage: npm run soak -- [--cycles N] [--seed S] [--max-delay MS]
  --cycles N      kill/cleanup cycles (default 30)
  --seed S        PRNG seed, to replay a sequence (default: random, printed)
  --max-delay MS  a cycle's signal lands uniformly in [0, MS] after its state file appears (1 in 5 cycles: after
                  the process starts) (default 20000)
Needs root. Exits 1 if anything leaked.`);
  process.exit(0);
}
if (process.getuid?.() !== 0) {
  console.error('soak: needs root (it builds topologies)');
  process.exit(3);
}
const cycles = Number(values.cycles);
const maxDelay = Number(values['max-delay']);
let seed = Number(values.seed ?? Math.floor(Math.random() * 2 ** 31));
const seed0 = seed;
function rnd(): number {
  // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

const shipped = [
  ...readdirSync(join(ROOT, 'topologies')).filter((f) => f.endsWith('.yaml')).map((f) => join(ROOT, 'topologies', f)),
  ...readdirSync(join(ROOT, 'topologies/bugs')).filter((f) => f.endsWith('.yaml')).map((f) => join(ROOT, 'topologies/bugs', f)),
];
// A topology whose runtime cannot run on this machine would only ever fail in preflight: it is left out, with the
// reason printed (kind needs `kind` on PATH and a node image; docker needs a reachable daemon).
async function runtimeUsable(runtime: string): Promise<string | undefined> {
  const ok = async (argv: string[]) => (await execa(argv[0]!, argv.slice(1), { reject: false, timeout: 10_000 })).exitCode === 0;
  if (runtime === 'kind') return (await ok(['kind', 'version'])) ? undefined : '`kind` is not on PATH';
  if (runtime === 'docker') return (await ok(['docker', 'info'])) ? undefined : 'no Docker daemon answers `docker info`';
  return undefined;
}
const usable = new Map<string, string | undefined>();
const topologies: string[] = [];
const excluded: string[] = [];
for (const f of shipped) {
  const rt = normalize(loadTopology(f).topology, { runId: 'soak0', file: f }).runtime;
  if (!usable.has(rt)) usable.set(rt, await runtimeUsable(rt));
  const why = usable.get(rt);
  if (why) excluded.push(`${f.slice(ROOT.length)} (runtime ${rt}: ${why})`);
  else topologies.push(f);
}
if (excluded.length) console.error(`soak: left out ${excluded.length} topologies:\n  ${excluded.join('\n  ')}`);

function workDirs(id: string): string[] {
  return readdirSync(tmpdir()).filter((d) => d.startsWith(`vx-${id}-`));
}

/**
 * The root namespace as a set of lines: links, addresses, routes, rules, nft ruleset lines, ip_forward. Other helpers
 * on this machine legitimately change it (the docker runtime's bridges, veths and DOCKER chains); entries naming those
 * are set aside as foreign, so what is left is what no one else explains.
 */
async function rootLines(): Promise<string[]> {
  const j = async (args: string[]) => {
    const r = await execa('ip', ['-j', ...args], { reject: false });
    try {
      return JSON.parse(r.stdout) as any[];
    } catch {
      return [];
    }
  };
  const out: string[] = [];
  for (const l of await j(['link', 'show'])) out.push(`link ${l.ifname} ${l.link_type} master=${l.master ?? ''} mtu=${l.mtu} ${l.operstate}`);
  for (const l of await j(['addr', 'show'])) for (const a of l.addr_info ?? []) out.push(`addr ${l.ifname} ${a.local}/${a.prefixlen}`);
  for (const r of await j(['route', 'show', 'table', 'all'])) out.push(`route ${r.dst} dev=${r.dev ?? ''} via=${r.gateway ?? ''} table=${r.table ?? 'main'} type=${r.type ?? ''}`);
  for (const r of await j(['rule', 'show'])) out.push(`rule ${r.priority} ${r.src ?? ''} ${r.table ?? ''}`);
  const nft = await execa('nft', ['list', 'ruleset'], { reject: false });
  // counters move with anyone's traffic: only the rules matter
  for (const l of nft.stdout.split('\n')) if (l.trim()) out.push(`nft ${l.trim().replace(/packets \d+ bytes \d+/g, 'packets * bytes *')}`);
  const fwd = await execa('sysctl', ['-n', 'net.ipv4.ip_forward'], { reject: false });
  out.push(`sysctl ip_forward=${fwd.stdout.trim()}`);
  await noteDockerBridges();
  return out;
}

/**
 * Bridges of Docker networks that belong to no vxlab run (other users' networks, whatever they name their bridges):
 * remembered across the whole soak, because such a network may come and go between two snapshots.
 */
const otherDockerBridges = new Set<string>();
async function noteDockerBridges(): Promise<void> {
  const ls = await execa('docker', ['network', 'ls', '-q'], { reject: false });
  const ids = ls.exitCode === 0 ? ls.stdout.split('\n').filter(Boolean) : [];
  if (!ids.length) return;
  const r = await execa('docker', ['network', 'inspect', ...ids], { reject: false });
  let nets: { Id: string; Driver: string; Labels?: Record<string, string>; Options?: Record<string, string> }[] = [];
  try {
    nets = JSON.parse(r.stdout);
  } catch {
    return;
  }
  for (const n of nets) {
    if (n.Driver !== 'bridge' || n.Labels?.['vxlab.run']) continue;
    otherDockerBridges.add(n.Options?.['com.docker.network.bridge.name'] ?? `br-${n.Id.slice(0, 12)}`);
  }
}

function foreign(line: string, id: string): boolean {
  if (line.includes(`vx-${id}-`) || line.includes(`vx-${id} `)) return false;
  // dev=ifN: ip could not name the device, i.e. a link in flight between namespaces (a container's veth); vxlab
  // creates nothing nameless in the root namespace
  if (/ dev=if\d+ /.test(line)) return true;
  if ([...otherDockerBridges].some((b) => line.includes(` ${b} `) || line.includes(`dev=${b} `) || line.includes(`"${b}"`))) return true;
  return /docker|DOCKER|\bveth|\bbr-|\bvx-[a-z0-9]{1,8}-|\bkind\b/.test(line);
}

function rootDiff(before: string[], after: string[], id: string): { ours: string[]; foreign: number } {
  const b = new Set(before);
  const a = new Set(after);
  const changed = [...after.filter((l) => !b.has(l)).map((l) => `+${l}`), ...before.filter((l) => !a.has(l)).map((l) => `-${l}`)];
  // a link line changes when another helper's veth enslaves to a bridge; its address/route lines name the same device
  const foreignDevs = new Set(changed.filter((l) => foreign(l, id)).map((l) => /^[+-]link (\S+)/.exec(l)?.[1]).filter(Boolean) as string[]);
  const isForeign = (l: string) => foreign(l, id) || [...foreignDevs].some((d) => l.includes(` ${d} `) || l.includes(`dev=${d} `));
  return { ours: changed.filter((l) => !isForeign(l)), foreign: changed.filter(isForeign).length };
}

interface Row {
  cycle: number;
  cmd: string;
  sig: string;
  phase: string;
  topo: string;
  delay: number;
  exit: string;
  reaped: string;
  ns: number;
  state: number;
  work: number;
  procs: number;
  root: string[];
  foreignRoot: number;
  detail: string[];
}

const rows: Row[] = [];
const t0 = Date.now();
const tag = process.pid.toString(36).slice(-3);
console.error(`soak: ${cycles} cycles, seed ${seed0}, signal within ${maxDelay} ms, ${topologies.length} topologies`);
for (let i = 0; i < cycles; i++) {
  const id = `s${tag}${i.toString(36)}`.slice(0, 8);
  const cmd = pick(COMMANDS);
  const sig = pick(SIGNALS);
  const topo = pick(topologies);
  const delay = Math.floor(rnd() * maxDelay);
  const suites = SUITES.filter(() => rnd() < 0.5);
  const args = cmd === 'up' ? ['up', topo, '--run-id', id] : ['run', topo, '--run-id', id, '--reporter', 'tap', ...(suites.length ? ['--suite', suites.join(',')] : [])];
  const before = await rootLines();
  // forceKillAfterDelay: false — the signal under test is the only one; no SIGKILL follows it behind our back
  const child = execa(process.execPath, [BIN, ...args], { reject: false, cwd: tmpdir(), forceKillAfterDelay: false });
  const watch = new RunWatch(id);
  // most signals land once the run has recorded its state (up, faults, checks, teardown); some during start-up,
  // when nothing exists yet (on a loaded machine start-up alone takes seconds)
  const fromStart = rnd() < 0.2;
  while (!fromStart && !existsSync(statePath(id)) && child.exitCode === null) await new Promise((r) => setTimeout(r, 10));
  const started = Date.now();
  while (Date.now() - started < delay && child.exitCode === null) {
    watch.poll();
    await new Promise((r) => setTimeout(r, 25));
  }
  watch.poll();
  const finishedFirst = child.exitCode !== null;
  if (!finishedFirst) child.kill(sig);
  const res = await child;
  // what a user does next: a run that finished coming up is theirs (down); anything else is cleanup's
  const st = readState(id);
  let reaped: string;
  if (st && st.status === 'up' && !st.ephemeral) {
    reaped = 'down';
    await execa(process.execPath, [BIN, 'down', topo, '--run-id', id], { reject: false });
  } else {
    reaped = st ? 'cleanup' : 'none';
    await execa(process.execPath, [BIN, 'cleanup'], { reject: false });
  }
  const after = await rootLines();
  const procs = watch.processes();
  const rd = rootDiff(before, after, id);
  const row: Row = {
    cycle: i,
    cmd,
    sig: finishedFirst ? '(none)' : sig,
    phase: fromStart ? 'start' : 'state',
    topo: topo.slice(ROOT.length + 'topologies/'.length),
    delay,
    exit: String(res.exitCode ?? res.signal),
    reaped,
    ns: vxNamespaces(`vx-${id}-`).length,
    state: existsSync(statePath(id)) ? 1 : 0,
    work: workDirs(id).length,
    procs: procs.length,
    root: rd.ours,
    foreignRoot: rd.foreign,
    detail: procs,
  };
  rows.push(row);
  const leak = row.ns + row.state + row.work + row.procs + row.root.length;
  console.error(`[${i + 1}/${cycles}] ${cmd} ${row.topo} ${row.sig}@${row.phase}+${delay}ms exit ${row.exit}, ${reaped}${leak ? `  LEAK ns=${row.ns} state=${row.state} work=${row.work} procs=${row.procs} root=${row.root.length}` : ''}${rd.foreign ? ` (${rd.foreign} root-ns changes by other users set aside)` : ''}`);
  for (const p of procs) console.error(`    process: ${p}`);
  for (const l of row.root) console.error(`    root: ${l}`);
}

// ---- the table
const groups = new Map<string, Row[]>();
for (const r of rows) {
  const k = `${r.cmd} ${r.sig}`;
  groups.set(k, [...(groups.get(k) ?? []), r]);
}
const sum = (rs: Row[], f: (r: Row) => number) => rs.reduce((a, r) => a + f(r), 0);
const header = ['command', 'signal', 'cycles', 'exit codes', 'leaked ns', 'state files', 'work dirs', 'processes', 'root-ns diffs'];
const lines = [...groups.entries()].sort().map(([k, rs]) => {
  const [cmd, sig] = k.split(' ');
  const exits = [...new Set(rs.map((r) => r.exit))].sort().join(',');
  return [cmd!, sig!, String(rs.length), exits, String(sum(rs, (r) => r.ns)), String(sum(rs, (r) => r.state)), String(sum(rs, (r) => r.work)), String(sum(rs, (r) => r.procs)), String(sum(rs, (r) => (r.root.length ? 1 : 0)))];
});
lines.push(['total', '', String(rows.length), '', String(sum(rows, (r) => r.ns)), String(sum(rows, (r) => r.state)), String(sum(rows, (r) => r.work)), String(sum(rows, (r) => r.procs)), String(sum(rows, (r) => (r.root.length ? 1 : 0)))]);
const w = header.map((h, j) => Math.max(h.length, ...lines.map((l) => l[j]!.length)));
const fmt = (l: string[]) => l.map((c, j) => (j < 2 ? c.padEnd(w[j]!) : c.padStart(w[j]!))).join('  ');
console.log(`vxlab soak: ${rows.length} cycles in ${Math.round((Date.now() - t0) / 1000)} s (seed ${seed0})`);
console.log(fmt(header));
console.log(w.map((n) => '-'.repeat(n)).join('  '));
for (const l of lines) console.log(fmt(l));
const foreignTotal = sum(rows, (r) => r.foreignRoot);
if (foreignTotal) console.log(`root-namespace changes by other users of this machine (docker bridges/veths, other runs' links), set aside: ${foreignTotal} lines in ${rows.filter((r) => r.foreignRoot).length} cycles`);
const leaks = sum(rows, (r) => r.ns + r.state + r.work + r.procs + r.root.length);
console.log(leaks ? `LEAKS: ${leaks}` : 'no leaks');
process.exit(leaks ? 1 : 0);
