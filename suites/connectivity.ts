// Suite: connectivity — an expected matrix against an actual matrix, in the style of Calico felix's checker.
import { fail, pass, skip, type CheckContext, type CheckDef, type SuiteDef } from '../harness/runner/check.ts';
import { allPods, type ResolvedPod, type ResolvedTopology } from '../harness/topology/resolved.ts';
import { echoProbeParallel } from '../harness/probe/icmp.ts';
import { evidence, runMemo } from '../harness/runner/evidence.ts';
import { recordMatrix, retryDecision } from '../harness/diagnose/matrix.ts';
import { configSettled, diagnoseWrong } from '../harness/diagnose/pair.ts';
import { podIp } from './routes.ts';
import type { Family } from '../harness/topology/ip.ts';
import { BIG_NODES, planPairs } from '../harness/runner/sample.ts';

/** Matrices of up to this many pods are drawn as grids (report details, HTML heat map); bigger ones list wrong cells only. */
export const GRID_MAX_PODS = 200;

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
  /** probe[i]: the targets pod i was probed against (all others, or a sample: see harness/runner/sample.ts) */
  probe: number[][];
  /** the matrix was sampled (false: every directed pod pair measured) */
  sampled: boolean;
  /** what was probed, in words: "full matrix: all 9900 directed pod pairs" or the sample's guarantee and counts */
  coverage: string;
  /** reachable cells that answered only in a retry round */
  retried?: number;
  /** why retries ended before every reachable cell answered (empty: they all answered, or nothing was retried) */
  stopped?: string;
  /** echo requests sent and matching replies received, over every round (the prober's own count) */
  sent?: number;
  replies?: number;
  /** silent reachable cells ("i,j") final after round 1: their node pair's cause is configuration (configSettled) */
  configSettled?: Set<string>;
}

/** Reachability the topology intends: same node, or nodes sharing a VNI (different VNIs are separate overlays). */
export function expectedReach(t: ResolvedTopology, a: ResolvedPod, b: ResolvedPod): boolean {
  if (a.node === b.node) return true;
  const vni = vniIndex(t);
  return vni.get(a.node) === vni.get(b.node);
}

const vniIndexes = new WeakMap<ResolvedTopology, Map<string, number>>();
/** node name → VNI, built once per topology (a 1,000-pod matrix asks a million times) */
function vniIndex(t: ResolvedTopology): Map<string, number> {
  let m = vniIndexes.get(t);
  if (!m) vniIndexes.set(t, (m = new Map(t.nodes.map((n) => [n.name, n.vtep.vni]))));
  return m;
}

/** Rounds every expected-unreachable cell is probed in, however the reachable cells fare (see measure). */
export const NEGATIVE_ROUNDS = 2;

/** The run's matrix of one pod family, measured once whichever check asks first (mtu/tcp-transfer and mtu/df-boundary use it too). */
export function measure(ctx: CheckContext, budgetMs = 10_000, family: Family = (ctx.t.families ?? [4])[0]!): Promise<Matrix> {
  return runMemo(ctx.t, matrixKey(ctx.t, family), () => measureMatrix(ctx, budgetMs, family));
}

/** Whether the run's matrix of this family was already measured (or is being measured). */
export function matrixMeasured(t: ResolvedTopology, family: Family = (t.families ?? [4])[0]!): boolean {
  return evidence(t).memo.has(matrixKey(t, family));
}

const matrixKey = (t: ResolvedTopology, family: Family) => (family === (t.families ?? [4])[0] ? 'connectivity/matrix' : `connectivity/matrix/${family}`);

/**
 * Measure the matrix: ICMP echo requests from one raw socket per source pod, opened inside the pod's namespace, all
 * from this process (harness/probe/icmp.ts: no process per source or pair). Each round sends to every pending cell
 * up to `tries` requests (the later ones only to cells still silent), waiting `timeoutMs` after a try's last request:
 * round 1 two tries at 300 ms, later rounds three at 600 ms (fping's -r 1 -t 300 and -r 2 -t 600 of earlier versions).
 * Cells expected to be unreachable are probed at least as hard as a reachable cell ever is in one round: in the first
 * NEGATIVE_ROUNDS rounds, and a single answer in any round is a leak. Reachable cells that failed are retried only
 * while their result can still change (see retryDecision): a cell that answered in the last round (converging or
 * flaky), or address resolution still in progress; a cell that stays silent with everything resolved is final. A
 * silent cell whose node pair has a configuration cause after the first round (configSettled: a missing route,
 * neighbour or FDB entry, a VTEP rejecting the port or VNI; not loss, not a drop rule) is final at once — on
 * topologies vxlab programs itself, where nothing changes that state after `up`.
 *
 * Bounded: the first round must send every planned request (a round cut short would report cells never probed as
 * unreachable: it fails the check instead, naming the bound); retries stop at the time budget.
 */
export async function measureMatrix(ctx: CheckContext, budgetMs = 10_000, family: Family = (ctx.t.families ?? [4])[0]!): Promise<Matrix> {
  // the pods that have an address of this family
  const pods = allPods(ctx.t).filter((p) => podIp(p, family));
  const ips = pods.map((p) => podIp(p, family)!);
  const expected = pods.map((a) => pods.map((b) => a !== b && expectedReach(ctx.t, a, b)));
  const actual = pods.map(() => pods.map(() => false));
  const plan = planPairs(pods);
  // the retry budget grows with the pairs probed beyond 500,000 (20 s for a 1,000-pod matrix)
  budgetMs = Math.max(budgetMs, Math.ceil(plan.pairs / 50));
  const deadline = Date.now() + budgetMs;
  // the bound of one round's sends: 1 ms per request of the round's tries, and 60 s (far above what the kernel needs:
  // a 999,000-pair round is about ... s on 2 cores), so a wedged round ends
  const roundBound = (requests: number) => 60_000 + requests;
  let pending = plan.probe.map((r) => [...r]);
  let attempts = 0;
  let retried = 0;
  let stopped = '';
  let settledByConfig = '';
  let settledCells: Set<string> | undefined;
  let sent = 0;
  let replies = 0;
  const nss = pods.map((p) => p.ns);
  while (pending.some((p) => p.length)) {
    attempts++;
    const count = pending.reduce((a, p) => a + p.length, 0);
    ctx.progress(`connectivity: round ${attempts}, ${count} pairs`);
    const tries = attempts === 1 ? 2 : 3;
    const timeoutMs = attempts === 1 ? 300 : 600;
    const bound = roundBound(count * tries);
    // retries end at the budget; the first round is never cut short by it (only by its own bound)
    const r = await echoProbeParallel(nss, ips, pending, { tries, timeoutMs, deadline: attempts === 1 ? Date.now() + bound : Math.min(deadline, Date.now() + bound), progress: (m) => ctx.progress(`connectivity: round ${attempts}: ${m}`) });
    sent += r.sent;
    replies += r.replies;
    if (!r.complete && attempts === 1) throw new Error(`the first round of ${count} pairs did not send its requests within ${bound} ms (${r.sent} sent)`);
    let gained = 0;
    for (const [i, cols] of pending.entries()) {
      const row = r.alive[i]!;
      // a reachable cell counts as reached once; an isolated cell that answered once has leaked, whatever later rounds say
      for (const j of cols) {
        const hit = row[j] === 1;
        if (expected[i]![j] && hit && attempts > 1) gained++;
        actual[i]![j] = expected[i]![j] ? hit : actual[i]![j]! || hit;
      }
    }
    retried += gained;
    if (!r.complete) {
      stopped = `time budget of ${budgetMs} ms spent`;
      break;
    }
    pending = pending.map((cols, i) => cols.filter((j) => (expected[i]![j] ? !actual[i]![j] : !actual[i]![j] && attempts < NEGATIVE_ROUNDS)));
    if (attempts === 1) {
      // silent cells whose node pair has a configuration cause (a missing route / neighbour / FDB entry, a VTEP that
      // rejects the port or VNI) are final after one round: retrying cannot change them (see configSettled)
      const silent = pending.flatMap((cols, i) => cols.filter((j) => expected[i]![j]).map((j) => [i, j] as [number, number]));
      const cfg = await configSettled(ctx, pods, silent, family);
      if (cfg.cells.size) {
        settledCells = cfg.cells;
        pending = pending.map((cols, i) => cols.filter((j) => !expected[i]![j] || !cfg.cells.has(`${i},${j}`)));
        // the cause itself is named by the diagnosis (full-mesh's message, the mtu checks' evidence): not repeated here
        settledByConfig = `${cfg.cells.size} silent cell(s) not retried, their node pair's cause is configuration (${cfg.causes.length} node pair(s) diagnosed)`;
      }
    }
    if (!pending.some((p) => p.length)) {
      stopped ||= settledByConfig;
      break;
    }
    if (Date.now() > deadline - 1500) {
      stopped = `time budget of ${budgetMs} ms spent`;
      break;
    }
    if (attempts >= NEGATIVE_ROUNDS) {
      const d = await retryDecision(ctx.t, pods, pending, gained);
      if (!d.retry) {
        stopped = [settledByConfig, d.why].filter(Boolean).join('; ');
        break;
      }
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  const m: Matrix = { family, pods, ips, expected, actual, attempts, probe: plan.probe, sampled: !plan.full, coverage: plan.coverage, retried, stopped, sent, replies, ...(settledCells ? { configSettled: settledCells } : {}) };
  recordMatrix(ctx.t, m);
  return m;
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
  // which cells were probed: a byte per cell (a Set per row of a 1,000-pod matrix is tens of MB)
  const probed = m.probe.map((r) => {
    const row = new Uint8Array(m.pods.length);
    for (const j of r) row[j] = 1;
    return row;
  });
  const sel = (i: number, j: number) => i !== j && probed[i]![j] === 1 && (which === 'positive' ? m.expected[i]![j]! : !m.expected[i]![j]!);
  for (const [i, row] of m.probe.entries())
    for (const j of row) {
      if (!sel(i, j)) continue;
      cells++;
      if (m.actual[i]![j] !== m.expected[i]![j]) {
        wrong.push(`${podLabel(m.pods[i]!)} (${m.ips[i]}) -> ${podLabel(m.pods[j]!)} (${m.ips[j]}): expected ${m.expected[i]![j] ? 'reachable' : 'unreachable'}, observed ${m.actual[i]![j] ? 'reachable' : 'unreachable'}`);
      }
    }
  if (!cells) return skip(which === 'negative' ? 'no pairs are expected to be isolated (all nodes share one VNI)' : 'fewer than two pods');
  // a grid for a matrix a person can read; beyond GRID_MAX_PODS the wrong cells are listed (diffs) and counted per source node
  const grid = m.pods.length <= GRID_MAX_PODS;
  const details = grid ? renderMatrices(m, sel) : `${m.coverage}\n${wrongPerNode(m, wrong.length ? sel : () => false)}`;
  const bits = (f: (i: number, j: number) => boolean) => m.pods.map((_, i) => m.pods.map((_, j) => (f(i, j) ? '1' : '0')).join(''));
  const matrix = grid ? { pods: m.pods.map(podLabel), ips: m.ips, expected: bits((i, j) => m.expected[i]![j]!), actual: bits((i, j) => m.actual[i]![j]!), judged: bits(sel) } : undefined;
  const expected = `${cells} ${which === 'positive' ? 'reachable' : 'isolated'} directed pairs${m.sampled ? ` (${m.coverage})` : ''}`;
  const rounds = `${m.attempts} round(s)${m.retried ? `, ${m.retried} cell(s) answered only on a retry` : ''}${m.stopped ? `, retries stopped: ${m.stopped}` : ''}`;
  const how = m.sampled || m.pods.length > BIG_NODES ? `; ${m.coverage}` : '';
  if (wrong.length) return fail(`${wrong.length} of ${cells} directed pairs wrong after ${rounds}: ${wrong[0]}${how}`, { diffs: wrong, details, matrix, expected, observed: `${cells - wrong.length} as expected, ${wrong.length} wrong` });
  return pass(`${cells} ${okText} (${rounds}${how})`, { details, matrix, expected, observed: expected });
}

/** Wrong cells of a big matrix, counted per source node and per target node (the grid would be unreadable). */
function wrongPerNode(m: Matrix, sel: (i: number, j: number) => boolean): string {
  const from = new Map<string, number>();
  const to = new Map<string, number>();
  for (const [i, row] of m.probe.entries())
    for (const j of row) {
      if (!sel(i, j) || m.actual[i]![j] === m.expected[i]![j]) continue;
      from.set(m.pods[i]!.node, (from.get(m.pods[i]!.node) ?? 0) + 1);
      to.set(m.pods[j]!.node, (to.get(m.pods[j]!.node) ?? 0) + 1);
    }
  if (!from.size) return 'no wrong cells';
  const top = (x: Map<string, number>) => [...x].sort((a, b) => b[1] - a[1]).slice(0, 20).map(([k, v]) => `${k} (${v})`).join(', ');
  return `wrong cells by source node: ${top(from)}\nwrong cells by target node: ${top(to)}`;
}

/** Why a failing full-mesh cannot change without a control plane's write (CheckResult.settled). */
export const SETTLED_MATRIX = "every unreachable pair has a configuration cause on a node (diagnosed after the matrix's first round: a route, neighbour or FDB entry, a VTEP's port or VNI, a drop rule without chance), which only a control plane's write changes";

/** The probed cells ("i,j") expected reachable that did not answer. */
export function wrongReachable(m: Pick<Matrix, 'probe' | 'expected' | 'actual'>): string[] {
  const out: string[] = [];
  for (const [i, row] of m.probe.entries()) for (const j of row) if (i !== j && m.expected[i]![j] && !m.actual[i]![j]) out.push(`${i},${j}`);
  return out;
}

const fullMesh: CheckDef = {
  id: 'connectivity/full-mesh',
  title: 'every pod reaches every pod it should (cross-node and same-node), in every pod family',
  async run(ctx) {
    const ms = await measureAll(ctx);
    // the cause of an unreachable pair is diagnosed on every family's matrix (routes, ARP / NDP neighbours, FDB, wire,
    // ICMP / ICMPv6 errors), IPv4 first; on a dual-stack topology each cause names its family
    let out = verdictAll(ms, 'positive', 'directed pairs reachable');
    for (const m of ms) out = await diagnoseWrong(ctx, m, out, m.family, ms.length > 1);
    // every wrong cell behind a configuration cause on a node (a route, neighbour or FDB entry, a VTEP's port or VNI,
    // a drop rule without chance in it): only a control plane's write changes it (CheckResult.settled)
    if (out.status === 'fail' && ms.every((m) => wrongReachable(m).every((c) => m.configSettled?.has(c)))) out = { ...out, settled: SETTLED_MATRIX };
    return out;
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
