// Bench row of the `scale` section (#16): a full `vxlab run` (up, every suite, down) of an N-node flannel topology,
// with the seconds of each suite (and of each check over a second), of up + down, the total, and the run's peak RSS.
// The run is the CLI in a child process (`vxlab run FILE --reporter json`, under /usr/bin/time for its peak RSS:
// wait4's ru_maxrss of that process alone, not of the bench), bounded in time (SIGINT, then SIGKILL). A run that
// failed, timed out or was interrupted still gives its row: the JSON report the CLI prints on the way out (an
// interrupted run reports the checks that finished), else the checks its progress lines on stderr name.
// Kept in its own file so the scale section's up/down and Mininet rows (bench/index.ts) and this row merge without
// touching each other.
import { mkdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadavg } from 'node:os';
import { spawn } from 'node:child_process';
import { arpTableFulls, fmtS, gcThresh3, section, table, type Owned } from './lib.ts';

const REPO = resolve(import.meta.dirname, '..');
const VXLAB = join(REPO, 'bin', 'vxlab.js');

/** N nodes × 1 pod, flannel, one /16 underlay segment, a /10 pod CIDR (one /24 per node: up to 16,384 nodes). */
export function scaleTopologyYaml(n: number, name = `scale-${n}`): string {
  const nodes = Array.from({ length: n }, (_, i) => `  - { name: n${i + 1}, pods: 1 }`).join('\n');
  return `name: ${name}\nruntime: netns\nunderlay:\n  mtu: 1500\n  segments:\n    - { name: rack1, cidr: 192.168.0.0/16 }\noverlay:\n  layout: flannel\n  vtep: kernel\n  vni: 1\n  port: 4789\n  podCidr: 10.64.0.0/10\n  nodeCidrSize: 24\nnodes:\n${nodes}\n`;
}

/** Target for the full run at 1,000 nodes (issue #16). */
export const FULL_RUN_TARGET_MS = 120_000;

/** The bound of one full run (VXLAB_BENCH_RUN_TIMEOUT_MS, default 20 minutes): then SIGINT (rolls back), 60 s later SIGKILL. */
const RUN_TIMEOUT_MS = Number(process.env.VXLAB_BENCH_RUN_TIMEOUT_MS) || 20 * 60_000;

export interface ScaleRunRow {
  nodes: number;
  runId: string;
  wallMs: number;
  /** seconds per suite, summed over its checks */
  suites: Record<string, number>;
  /** ms per check, in the order they finished */
  checks: { id: string; status: string; ms: number }[];
  /** wall − suites: up, down, report (the suites' sum counts the routes lane, which runs alongside, in full) */
  restMs: number;
  /** from the CLI's progress lines, timed as they arrived: up (start → "running checks"), the checks' wall time (→ the
   * last check's line), down and report (→ exit) */
  phases?: { upMs: number; checksMs: number; downMs: number };
  counts: { pass: number; fail: number; skip: number };
  /** increase of the kernel's ARP table_fulls during the run (shared by every namespace; gc_thresh3 below) */
  arpTableFulls?: number;
  gcThresh3?: number;
  /** 1-minute load average before and after (the machine is shared) */
  load: [number, number];
  /** coverage lines the suites reported (full matrix / sample, ring of captures, …) */
  coverage: string[];
  /** peak RSS of the `vxlab run` process (MB), when /usr/bin/time could report it */
  maxRssMb?: number;
  /** how the run ended: 'completed' (exit 0 or 1), or 'interrupted' / 'timed out' / 'crashed (exit N)' */
  end: string;
  /** the suites asked for (VXLAB_BENCH_RUN_SUITES=a,b; absent: every suite) */
  only?: string[];
}

interface Child {
  ms: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  maxRssKb?: number;
  timedOut: boolean;
  /** ms since start when the checks started and when the last check finished (progress lines) */
  checksAt?: number;
  lastCheckAt?: number;
}

function runChild(argv: string[], timeoutMs: number, log: (s: string) => void): Promise<Child> {
  const marker = 'VXLAB_BENCH_MAXRSS=';
  const rss = existsSync('/usr/bin/time');
  const full = rss ? ['/usr/bin/time', '-f', `${marker}%M`, ...argv] : argv;
  const a = performance.now();
  return new Promise((done) => {
    // its own process group: /usr/bin/time ignores SIGINT while it waits, so a stop goes to the whole group (the
    // CLI inside rolls back and prints the checks that finished); the bench's own SIGINT/SIGTERM is forwarded
    const c = spawn(full[0]!, full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const signalGroup = (sig: NodeJS.Signals) => {
      try {
        if (c.pid) process.kill(-c.pid, sig);
      } catch {
        /* already gone */
      }
    };
    // SIGINT / SIGTERM to the CLI alone (time's child), as `kill -INT` would: the CLI stops its own probes (sent to
    // the whole group, they would die first and their checks be reported as crashed)
    const signalCli = (sig: NodeJS.Signals) => {
      let kids: number[] = [];
      try {
        kids = c.pid ? readFileSync(`/proc/${c.pid}/task/${c.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number) : [];
      } catch {
        /* no /proc entry: gone */
      }
      if (!rss || !kids.length) return signalGroup(sig);
      for (const k of kids) {
        try {
          process.kill(k, sig);
        } catch {
          /* already gone */
        }
      }
    };
    const fwd = (sig: NodeJS.Signals) => signalCli(sig);
    process.on('SIGINT', fwd);
    process.on('SIGTERM', fwd);
    let stdout = '';
    let stderr = '';
    let line = '';
    let timedOut = false;
    let checksAt: number | undefined;
    let lastCheckAt: number | undefined;
    c.stdout!.on('data', (d) => (stdout += d));
    c.stderr!.on('data', (d) => {
      stderr += d;
      // the run's progress, one line per finished check, into the bench log as it goes
      line += d;
      const ls = line.split(/\r|\n/);
      line = ls.pop() ?? '';
      for (const l of ls) {
        if (checksAt === undefined && /\] running checks/.test(l)) checksAt = performance.now() - a;
        if (/\] (PASS|FAIL|SKIP) /.test(l)) {
          lastCheckAt = performance.now() - a;
          log(`  ${l.trim()}`);
        }
      }
      if (stderr.length > 4_000_000) stderr = stderr.slice(-2_000_000);
    });
    let kill: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      signalCli('SIGINT'); // vxlab run rolls back on SIGINT and prints the checks that finished
      kill = setTimeout(() => signalGroup('SIGKILL'), 60_000);
    }, timeoutMs);
    c.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(kill);
      process.off('SIGINT', fwd);
      process.off('SIGTERM', fwd);
      const m = new RegExp(`${marker}(\\d+)`).exec(stderr);
      done({ ms: performance.now() - a, code, signal, stdout, stderr, timedOut, checksAt, lastCheckAt, ...(m ? { maxRssKb: Number(m[1]) } : {}) });
    });
    c.on('error', (e) => {
      clearTimeout(timer);
      process.off('SIGINT', fwd);
      process.off('SIGTERM', fwd);
      done({ ms: performance.now() - a, code: -1, signal: null, stdout, stderr: String(e), timedOut });
    });
  });
}

/** The checks of a run: from its JSON report, else from its progress lines ("[3/22] PASS routes/fdb (1234 ms)"). */
export function runChecks(stdout: string, stderr: string): { checks: ScaleRunRow['checks']; messages: Map<string, string> } {
  const messages = new Map<string, string>();
  try {
    const rep = JSON.parse(stdout) as { results: { id: string; status: string; durationMs: number; message?: string }[] };
    for (const x of rep.results) messages.set(x.id, x.message ?? '');
    return { checks: rep.results.map((x) => ({ id: x.id, status: x.status, ms: x.durationMs })), messages };
  } catch {
    const checks: ScaleRunRow['checks'] = [];
    for (const m of stderr.matchAll(/\] (PASS|FAIL|SKIP) (\S+) \((\d+) ms\)/g)) checks.push({ id: m[2]!, status: m[1]!.toLowerCase(), ms: Number(m[3]) });
    return { checks, messages };
  }
}

export async function scaleRun(sizes: number[], o: { owned: Owned; scratch: string; log: (s: string) => void; check: () => void }): Promise<ScaleRunRow[]> {
  const rows: ScaleRunRow[] = [];
  const only = process.env.VXLAB_BENCH_RUN_SUITES?.split(',').filter(Boolean);
  try {
    for (const n of sizes) {
      o.check();
      const dir = join(o.scratch, `scale-run-${n}`);
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `scale-${n}.yaml`);
      writeFileSync(file, scaleTopologyYaml(n));
      const runId = o.owned.newRunId();
      o.log(`full vxlab run of ${n} nodes (run ${runId}${only ? `, suites ${only.join(',')}` : ''})`);
      const load0 = loadavg()[0]!;
      const fulls0 = arpTableFulls();
      try {
        const c = await runChild(['node', VXLAB, 'run', file, '--run-id', runId, '--reporter', 'json', '--out', join(dir, 'out'), ...(only ? ['--suite', only.join(',')] : [])], RUN_TIMEOUT_MS, o.log);
        const { checks, messages } = runChecks(c.stdout, c.stderr);
        const suites: Record<string, number> = {};
        const counts = { pass: 0, fail: 0, skip: 0 };
        for (const x of checks) {
          const s = x.id.split('/')[0]!;
          suites[s] = (suites[s] ?? 0) + x.ms;
          if (x.status in counts) counts[x.status as keyof typeof counts]++;
        }
        const coverage = ['connectivity/full-mesh', 'encapsulation/udp-dst-port', 'mtu/df-boundary', 'routes/remote-subnets'].filter((id) => messages.has(id)).map((id) => `${id}: ${checks.find((x) => x.id === id)!.status} — ${messages.get(id)}`);
        const end = c.timedOut ? `timed out after ${fmtS(RUN_TIMEOUT_MS)}` : c.code === 130 || c.signal === 'SIGINT' ? 'interrupted' : c.code === 0 || c.code === 1 ? 'completed' : `crashed (exit ${c.code ?? c.signal})`;
        if (!end.startsWith('completed')) o.log(`full vxlab run of ${n} nodes: ${end}; its last output: ${c.stderr.trim().split('\n').filter((l) => !l.startsWith('VXLAB_BENCH_MAXRSS')).slice(-3).join(' | ')}`);
        const phases = c.checksAt !== undefined && c.lastCheckAt !== undefined ? { upMs: c.checksAt, checksMs: c.lastCheckAt - c.checksAt, downMs: c.ms - c.lastCheckAt } : undefined;
        const fulls = arpTableFulls() - fulls0;
        rows.push({ nodes: n, runId, arpTableFulls: fulls, gcThresh3: gcThresh3(), wallMs: c.ms, suites, checks, restMs: c.ms - Object.values(suites).reduce((p, q) => p + q, 0), ...(phases ? { phases } : {}), counts, load: [load0, loadavg()[0]!], coverage, end, ...(c.maxRssKb ? { maxRssMb: c.maxRssKb / 1024 } : {}), ...(only ? { only } : {}) });
      } finally {
        await o.owned.reapAll();
      }
      // a stopped bench stops here (check() throws Interrupted); the rows so far are printed below
      o.check();
    }
  } catch (e) {
    // a stopped or failed bench still prints what it measured
    printScaleRun(rows);
    throw e;
  }
  return rows;
}

export function printScaleRun(rows: ScaleRunRow[]): void {
  if (!rows.length) return;
  const names = [...new Set(rows.flatMap((r) => Object.keys(r.suites)))];
  console.log(section('scale: full `vxlab run` at N nodes (flannel, 1 pod per node): seconds per suite, peak RSS'));
  console.log('suite columns: the sum of its checks (routes reads alongside the others, and a check that sends traffic waits for it: the sums overlap); up, checks (wall) and down+report from the CLI\'s progress lines');
  console.log(
    table(
      ['nodes', 'up', ...names.map((x) => x), 'checks (wall)', 'down+report', 'total', 'target', 'peak RSS', 'pass/fail/skip', 'end', 'load 1m before→after'],
      rows.map((r) => {
        return [r.nodes, r.phases ? fmtS(r.phases.upMs) : '—', ...names.map((x) => (x in r.suites ? fmtS(r.suites[x]!) : '—')), r.phases ? fmtS(r.phases.checksMs) : '—', r.phases ? fmtS(r.phases.downMs) : '—', fmtS(r.wallMs), r.nodes === 1000 && !r.only ? `≤ ${fmtS(FULL_RUN_TARGET_MS)}` : '—', r.maxRssMb ? `${Math.round(r.maxRssMb)} MB` : '—', `${r.counts.pass}/${r.counts.fail}/${r.counts.skip}`, r.end, `${r.load[0].toFixed(1)}→${r.load[1].toFixed(1)}`];
      }),
    ),
  );
  for (const r of rows) {
    if (r.only) console.log(`  ${r.nodes} nodes: only the suites ${r.only.join(', ')} (VXLAB_BENCH_RUN_SUITES)`);
    const slow = r.checks.filter((x) => x.ms >= 1000);
    if (slow.length) console.log(`  ${r.nodes} nodes, checks of a second or more: ${slow.map((x) => `${x.id} ${fmtS(x.ms)}${x.status === 'pass' ? '' : ` (${x.status})`}`).join(', ')}`);
    for (const c of r.coverage) console.log(`  ${r.nodes} nodes: ${c.slice(0, 300)}`);
    if (r.arpTableFulls) console.log(`  ${r.nodes} nodes: the kernel's shared ARP table was full ${r.arpTableFulls} times during the run (gc_thresh3 ${r.gcThresh3}): packets needing a new entry were dropped`);
    if (r.counts.fail && !r.only) console.log(`  ${r.nodes} nodes: ${r.counts.fail} checks failed on a healthy topology: the target is not met`);
  }
}
