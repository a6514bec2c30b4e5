// Suite: connectivity — an expected matrix against an actual matrix, in the style of Calico felix's checker.
import { fail, pass, skip, type CheckContext, type CheckDef, type SuiteDef } from '../harness/runner/check.ts';
import { allPods, type ResolvedPod, type ResolvedTopology } from '../harness/topology/resolved.ts';
import { reachable } from '../harness/probe/fping.ts';
import { pool } from '../harness/util/exec.ts';
import { podIp } from './routes.ts';
import type { Family } from '../harness/topology/ip.ts';

export interface Matrix {
  /** the pod family probed (a dual-stack topology has one matrix per family) */
  family: Family;
  pods: ResolvedPod[];
  /** each pod's address in this family (ips[i] belongs to pods[i]) */
  ips: string[];
  /** expected[i][j]: pod i should reach pod j */
  expected: boolean[][];
  actual: boolean[][];
  attempts: number;
}

/** Reachability the topology intends: same node, or nodes sharing a VNI (different VNIs are separate overlays). */
export function expectedReach(t: ResolvedTopology, a: ResolvedPod, b: ResolvedPod): boolean {
  if (a.node === b.node) return true;
  const na = t.nodes.find((n) => n.name === a.node)!;
  const nb = t.nodes.find((n) => n.name === b.node)!;
  return na.vtep.vni === nb.vtep.vni;
}

/** Rounds every expected-unreachable cell is probed in, however the reachable cells fare (see measure). */
export const NEGATIVE_ROUNDS = 2;

/**
 * Measure the matrix: one fping per source pod, all targets at once; retry the reachable cells that failed, within a
 * time budget. Cells expected to be unreachable are probed at least as hard as a reachable cell ever is in one round:
 * in the first NEGATIVE_ROUNDS rounds (2 probes at 300 ms, then 3 at 600 ms), and a single answer in any round is a leak.
 */
export async function measure(ctx: CheckContext, budgetMs = 10_000, family: Family = (ctx.t.families ?? [4])[0]!): Promise<Matrix> {
  return ctx.memo(family === (ctx.t.families ?? [4])[0] ? 'connectivity/matrix' : `connectivity/matrix/${family}`, async () => {
    // the pods that have an address of this family
    const pods = allPods(ctx.t).filter((p) => podIp(p, family));
    const ips = pods.map((p) => podIp(p, family)!);
    const expected = pods.map((a) => pods.map((b) => a !== b && expectedReach(ctx.t, a, b)));
    const actual = pods.map(() => pods.map(() => false));
    const deadline = Date.now() + budgetMs;
    let pending = pods.map((_, i) => pods.map((_, j) => j).filter((j) => j !== i));
    let attempts = 0;
    while (pending.some((p) => p.length)) {
      attempts++;
      ctx.progress(`connectivity: round ${attempts}, ${pending.reduce((a, p) => a + p.length, 0)} pairs`);
      const rows = pods.map((_, i) => i).filter((i) => pending[i]!.length);
      await pool(rows, 8, async (i) => {
        const alive = await reachable(pods[i]!.ns, pending[i]!.map((j) => ips[j]!), { retries: attempts === 1 ? 1 : 2, timeoutMs: attempts === 1 ? 300 : 600 });
        // a reachable cell counts as reached once; an isolated cell that answered once has leaked, whatever later rounds say
        for (const j of pending[i]!) actual[i]![j] = expected[i]![j] ? alive.has(ips[j]!) : actual[i]![j]! || alive.has(ips[j]!);
      });
      pending = pending.map((cols, i) => cols.filter((j) => (expected[i]![j] ? !actual[i]![j] : !actual[i]![j] && attempts < NEGATIVE_ROUNDS)));
      if (Date.now() > deadline - 1500) break;
      if (pending.some((p) => p.length)) await new Promise((r) => setTimeout(r, 200));
    }
    return { family, pods, ips, expected, actual, attempts };
  });
}

/** One matrix per pod family (IPv4 first), measured one after the other. */
export async function measureAll(ctx: CheckContext, budgetMs = 10_000): Promise<Matrix[]> {
  const out: Matrix[] = [];
  for (const f of ctx.t.families ?? [4]) out.push(await measure(ctx, budgetMs, f));
  return out;
}

export function podLabel(p: ResolvedPod): string {
  return `${p.node}/${p.name}`;
}

/** Both matrices side by side, wrong cells marked. ✓ reach, · no reach, ✗ wrong. */
export function renderMatrices(m: Matrix, cells: (i: number, j: number) => boolean): string {
  const labels = m.pods.map(podLabel);
  const w = Math.max(...labels.map((l) => l.length));
  const n = labels.length;
  const mark = (v: boolean) => (v ? '✓' : '·');
  const header = (title: string) => `${title.padEnd(w)} ${labels.map((_, j) => String(j + 1).padStart(2)).join('')}`;
  const lines = [`${header('expected')}   ${header('actual')}`];
  for (let i = 0; i < n; i++) {
    const e = labels.map((_, j) => (i === j ? ' -' : ` ${mark(m.expected[i]![j]!)}`)).join('');
    const a = labels.map((_, j) => (i === j ? ' -' : cells(i, j) && m.actual[i]![j] !== m.expected[i]![j] ? ' ✗' : ` ${mark(m.actual[i]![j]!)}`)).join('');
    lines.push(`${labels[i]!.padEnd(w)} ${e}   ${labels[i]!.padEnd(w)} ${a}`);
  }
  lines.push('', labels.map((l, j) => `${j + 1}=${l}`).join('  '), '✓ reachable  · not reachable  ✗ differs from expected');
  return lines.join('\n');
}

/** The verdict over every family's matrix: a dual-stack topology prints both grids, and a wrong pair names its family. */
function verdictAll(ms: Matrix[], which: 'positive' | 'negative', okText: string) {
  if (ms.length === 1) return verdict(ms[0]!, which, okText);
  const rs = ms.map((m) => verdict(m, which, okText));
  const label = (m: Matrix) => `IPv${m.family}`;
  const failed = rs.map((r, i) => [r, ms[i]!] as const).filter(([r]) => r.status === 'fail');
  const details = rs.map((r, i) => `${label(ms[i]!)}: ${r.status === 'skip' ? r.message : ''}\n${(r.details as string | undefined) ?? ''}`.trimEnd()).join('\n\n');
  const diffs = rs.flatMap((r, i) => ((r.diffs as string[] | undefined) ?? []).map((d) => `${label(ms[i]!)}: ${d}`));
  // the report draws one matrix: the first family that failed, else the first (both grids are in details)
  const matrix = (rs.find((r) => r.status === 'fail') ?? rs[0]!).matrix;
  if (rs.every((r) => r.status === 'skip')) return skip(rs[0]!.message ?? 'nothing to judge');
  if (failed.length) {
    const msg = failed.map(([r, m]) => `${label(m)}: ${r.message}`).join('; ');
    const ok = rs.map((r, i) => [r, ms[i]!] as const).filter(([r]) => r.status === 'pass').map(([, m]) => label(m));
    return fail(`${msg}${ok.length ? ` (${ok.join(', ')} as expected)` : ''}`, { diffs, details, matrix, expected: rs.map((r, i) => `${label(ms[i]!)}: ${r.expected ?? '-'}`).join('; '), observed: rs.map((r, i) => `${label(ms[i]!)}: ${r.observed ?? r.message}`).join('; ') });
  }
  return pass(rs.map((r, i) => `${label(ms[i]!)}: ${r.message}`).join('; '), { details, matrix, expected: rs.map((r, i) => `${label(ms[i]!)}: ${r.expected ?? '-'}`).join('; '), observed: rs.map((r, i) => `${label(ms[i]!)}: ${r.observed ?? r.message}`).join('; ') });
}

function verdict(m: Matrix, which: 'positive' | 'negative', okText: string) {
  const wrong: string[] = [];
  let cells = 0;
  const sel = (i: number, j: number) => i !== j && (which === 'positive' ? m.expected[i]![j]! : !m.expected[i]![j]!);
  for (let i = 0; i < m.pods.length; i++)
    for (let j = 0; j < m.pods.length; j++) {
      if (!sel(i, j)) continue;
      cells++;
      if (m.actual[i]![j] !== m.expected[i]![j]) {
        wrong.push(`${podLabel(m.pods[i]!)} (${m.ips[i]}) -> ${podLabel(m.pods[j]!)} (${m.ips[j]}): expected ${m.expected[i]![j] ? 'reachable' : 'unreachable'}, observed ${m.actual[i]![j] ? 'reachable' : 'unreachable'}`);
      }
    }
  if (!cells) return skip(which === 'negative' ? 'no pairs are expected to be isolated (all nodes share one VNI)' : 'fewer than two pods');
  const details = renderMatrices(m, sel);
  const bits = (f: (i: number, j: number) => boolean) => m.pods.map((_, i) => m.pods.map((_, j) => (f(i, j) ? '1' : '0')).join(''));
  const matrix = { pods: m.pods.map(podLabel), ips: m.ips, expected: bits((i, j) => m.expected[i]![j]!), actual: bits((i, j) => m.actual[i]![j]!), judged: bits(sel) };
  const expected = `${cells} ${which === 'positive' ? 'reachable' : 'isolated'} directed pairs`;
  if (wrong.length) return fail(`${wrong.length} of ${cells} directed pairs wrong after ${m.attempts} round(s): ${wrong[0]}`, { diffs: wrong, details, matrix, expected, observed: `${cells - wrong.length} as expected, ${wrong.length} wrong` });
  return pass(`${cells} ${okText}`, { details, matrix, expected, observed: expected });
}

const fullMesh: CheckDef = {
  id: 'connectivity/full-mesh',
  title: 'every pod reaches every pod it should (cross-node and same-node), in every pod family',
  async run(ctx) {
    return verdictAll(await measureAll(ctx), 'positive', 'directed pairs reachable');
  },
};

const isolation: CheckDef = {
  id: 'connectivity/isolation',
  title: 'pods on overlays with different VNIs do not reach each other',
  async run(ctx) {
    return verdictAll(await measureAll(ctx), 'negative', 'directed pairs isolated as expected');
  },
};

export const connectivitySuite: SuiteDef = {
  name: 'connectivity',
  title: 'pod-to-pod connectivity matrix',
  checks: [fullMesh, isolation],
};
