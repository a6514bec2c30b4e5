// Bench row of the `scale` section (#16): a full `vxlab run` (up, every suite, down) of an N-node flannel topology,
// with the seconds of each suite, of up + down, and the total. Kept in its own file so the scale section's up/down and
// Mininet rows (bench/index.ts) and this row merge without touching each other.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { runSession } from '../harness/runner/session.ts';
import { fmtS, section, table, type Owned } from './lib.ts';

/** N nodes × 1 pod, flannel, one /16 underlay segment, a /10 pod CIDR (one /24 per node: up to 16,384 nodes). */
export function scaleTopologyYaml(n: number, name = `scale-${n}`): string {
  const nodes = Array.from({ length: n }, (_, i) => `  - { name: n${i + 1}, pods: 1 }`).join('\n');
  return `name: ${name}\nruntime: netns\nunderlay:\n  mtu: 1500\n  segments:\n    - { name: rack1, cidr: 192.168.0.0/16 }\noverlay:\n  layout: flannel\n  vtep: kernel\n  vni: 1\n  port: 4789\n  podCidr: 10.64.0.0/10\n  nodeCidrSize: 24\nnodes:\n${nodes}\n`;
}

/** Target for the full run at 1,000 nodes (issue #16). */
export const FULL_RUN_TARGET_MS = 120_000;

export interface ScaleRunRow {
  nodes: number;
  runId: string;
  wallMs: number;
  /** seconds per suite, summed over its checks */
  suites: Record<string, number>;
  /** wall − suites: up, down, report */
  restMs: number;
  counts: { pass: number; fail: number; skip: number };
  /** 1-minute load average before and after (the machine is shared) */
  load: [number, number];
  /** coverage lines the suites reported (full matrix / sample, ring of captures, …) */
  coverage: string[];
}

export async function scaleRun(sizes: number[], o: { owned: Owned; scratch: string; log: (s: string) => void; check: () => void }): Promise<ScaleRunRow[]> {
  const rows: ScaleRunRow[] = [];
  for (const n of sizes) {
    o.check();
    const dir = join(o.scratch, `scale-run-${n}`);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `scale-${n}.yaml`);
    writeFileSync(file, scaleTopologyYaml(n));
    const runId = o.owned.newRunId();
    o.log(`full vxlab run of ${n} nodes (run ${runId})`);
    const load0 = loadavg()[0]!;
    const a = performance.now();
    try {
      const s = await runSession({ file, runId, reporter: 'json', quiet: true, outDir: join(dir, 'out') });
      const wallMs = performance.now() - a;
      // a stopped run has no figure to print (check() throws Interrupted when the bench was stopped)
      o.check();
      if (s.interrupted) throw new Error(`full vxlab run of ${n} nodes was interrupted`);
      const suites: Record<string, number> = {};
      const counts = { pass: 0, fail: 0, skip: 0 };
      for (const x of s.report.results) {
        suites[x.suite] = (suites[x.suite] ?? 0) + x.durationMs;
        counts[x.status]++;
      }
      const coverage = s.report.results
        .filter((x) => ['connectivity/full-mesh', 'encapsulation/udp-dst-port', 'mtu/df-boundary', 'routes/remote-subnets'].includes(x.id))
        .map((x) => `${x.id}: ${x.status} — ${x.message ?? ''}`);
      rows.push({ nodes: n, runId, wallMs, suites, restMs: wallMs - Object.values(suites).reduce((p, q) => p + q, 0), counts, load: [load0, loadavg()[0]!], coverage });
    } finally {
      await o.owned.reapAll();
    }
  }
  return rows;
}

export function printScaleRun(rows: ScaleRunRow[]): void {
  if (!rows.length) return;
  const names = [...new Set(rows.flatMap((r) => Object.keys(r.suites)))];
  console.log(section('scale: full `vxlab run` at N nodes (flannel, 1 pod per node): seconds per suite'));
  console.log(
    table(
      ['nodes', ...names.map((x) => `${x} s`), 'suites s', 'up+down+rest s', 'total s', 'target', 'pass/fail/skip', 'load 1m before→after'],
      rows.map((r) => {
        const suites = Object.values(r.suites).reduce((p, q) => p + q, 0);
        return [r.nodes, ...names.map((x) => fmtS(r.suites[x] ?? 0)), fmtS(suites), fmtS(r.restMs), fmtS(r.wallMs), r.nodes === 1000 ? `≤ ${fmtS(FULL_RUN_TARGET_MS)}` : '—', `${r.counts.pass}/${r.counts.fail}/${r.counts.skip}`, `${r.load[0].toFixed(1)}→${r.load[1].toFixed(1)}`];
      }),
    ),
  );
  for (const r of rows) for (const c of r.coverage) console.log(`  ${r.nodes} nodes: ${c.slice(0, 300)}`);
}
