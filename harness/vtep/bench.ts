// benchVtep(): iperf3 TCP throughput (-t 3) and ping RTT (200 × -i 0.005) through the overlay for
// kernel↔kernel, userspace↔userspace and kernel↔userspace, with ratios vs kernel↔kernel.
// Builds and removes its own vxt-vtep-bench<pid>-* namespaces (the pid keeps concurrent benches apart). Run: node --import tsx harness/vtep/bench.ts
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { run } from '../util/exec.ts';
import type { VtepConfigInput } from './config.ts';
import { createVtepLab, NS_PREFIX, ping, sleep, sweepDeadPidNamespaces, type VtepKind } from './lab.ts';

export interface VtepBenchRow {
  pair: string;
  /** underlay / inner family, e.g. 'IPv6/IPv4' (absent: IPv4/IPv4) */
  families?: string;
  a: VtepKind;
  b: VtepKind;
  /** iperf3 TCP a → b, receiver-side bits per second */
  tcpBps: number;
  tcpRetransmits: number;
  rttP50Ms: number;
  rttP99Ms: number;
  pingLoss: number;
  /** tcpBps / kernel↔kernel tcpBps */
  tcpRatio: number;
  /** rttP50Ms − kernel↔kernel rttP50Ms */
  addedP50Ms: number;
}

function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export interface BenchOptions {
  pairs?: Array<[VtepKind, VtepKind]>;
  seconds?: number;
  pings?: number;
  log?: (s: string) => void;
  /** extra config for the userspace VTEPs (e.g. `{ offloads: false }` for a same-run comparison) */
  userConfig?: Partial<VtepConfigInput>;
  /** underlay family of the lab (default 4) */
  family?: 4 | 6;
  /** inner (pod) family iperf3 and ping use (default 4; 6 needs family 6, whose lab has dual-stack pods) */
  inner?: 4 | 6;
}

export async function benchVtep(opts: BenchOptions = {}): Promise<VtepBenchRow[]> {
  const pairs = opts.pairs ?? [
    ['kernel', 'kernel'],
    ['user', 'user'],
    ['kernel', 'user'],
    ['user', 'kernel'],
  ];
  const log = opts.log ?? (() => {});
  const rows: VtepBenchRow[] = [];
  // leftovers of a bench killed before it could clean up (its pid gone)
  for (const ns of await sweepDeadPidNamespaces(`${NS_PREFIX}bench`)) log(`removed ${ns}, left by a bench that is no longer running`);
  for (const [ka, kb] of pairs) {
    const side = (k: VtepKind) => (k === 'user' && opts.userConfig ? { kind: k, config: opts.userConfig } : k);
    const lab = await createVtepLab({ tag: `bench${process.pid}`, a: side(ka), b: side(kb), family: opts.family ?? 4 });
    const dst = opts.inner === 6 ? lab.b.podIp6! : lab.b.podIp;
    try {
      // the one-shot server dies with us (parent-death signal) even if the bench is SIGKILLed before a client came
      const pdeath = existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--pdeathsig', 'KILL'] : [];
      const server = spawn('ip', ['netns', 'exec', lab.b.ns, ...pdeath, 'iperf3', '-s', '-1', '-B', dst], { stdio: 'ignore' });
      try {
        await sleep(300);
        await ping(lab.a.ns, dst, { count: 3, intervalS: 0.05 }); // warm neighbours
        const r = await run(['iperf3', '-c', dst, '-t', String(opts.seconds ?? 3), '-J'], { ns: lab.a.ns, reject: false, timeoutMs: 60_000 });
        let bps = NaN;
        let retr = NaN;
        try {
          const j = JSON.parse(r.stdout);
          bps = j.end.sum_received.bits_per_second;
          retr = j.end.sum_sent.retransmits ?? NaN;
        } catch {
          log(`iperf3 failed for ${ka}↔${kb}: ${r.stderr || r.stdout.slice(0, 500)}`);
        }
        const p = await ping(lab.a.ns, dst, { count: opts.pings ?? 200, intervalS: 0.005 });
        rows.push({
          pair: `${ka}↔${kb}`,
          families: `IPv${opts.family ?? 4}/IPv${opts.inner ?? 4}`,
          a: ka,
          b: kb,
          tcpBps: bps,
          tcpRetransmits: retr,
          rttP50Ms: pct(p.rttsMs, 50),
          rttP99Ms: pct(p.rttsMs, 99),
          pingLoss: p.sent ? 1 - p.received / p.sent : 1,
          tcpRatio: NaN,
          addedP50Ms: NaN,
        });
        log(`${ka}↔${kb}: ${(bps / 1e9).toFixed(2)} Gbit/s, p50 ${pct(p.rttsMs, 50)} ms`);
      } finally {
        server.kill('SIGKILL');
      }
    } finally {
      await lab.destroy();
    }
  }
  const base = rows.find((r) => r.a === 'kernel' && r.b === 'kernel');
  for (const r of rows) {
    r.tcpRatio = base ? r.tcpBps / base.tcpBps : NaN;
    r.addedP50Ms = base ? +(r.rttP50Ms - base.rttP50Ms).toFixed(3) : NaN;
  }
  return rows;
}

export function formatBenchRows(rows: VtepBenchRow[]): string {
  const head = 'pair             TCP Gbit/s  ratio  retr   p50 ms  p99 ms  +p50 ms  loss';
  return [
    head,
    ...rows.map(
      (r) =>
        `${r.pair.padEnd(16)} ${(r.tcpBps / 1e9).toFixed(2).padStart(10)}  ${r.tcpRatio.toFixed(2).padStart(5)}  ${String(r.tcpRetransmits).padStart(5)}  ${r.rttP50Ms.toFixed(3).padStart(6)}  ${r.rttP99Ms.toFixed(3).padStart(6)}  ${r.addedP50Ms.toFixed(3).padStart(7)}  ${(r.pingLoss * 100).toFixed(1)}%`,
    ),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const json = process.argv.includes('--json');
  const rows = await benchVtep({ log: (s) => console.error(s) });
  console.log(json ? JSON.stringify(rows, null, 2) : formatBenchRows(rows));
}
