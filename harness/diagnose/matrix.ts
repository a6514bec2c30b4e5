// When the connectivity matrix may stop retrying, and what it leaves as evidence for later checks.
import type { ResolvedPod, ResolvedTopology } from '../topology/resolved.ts';
import { recordReachTable } from '../runner/evidence.ts';
import { ipJson, pool } from '../util/exec.ts';
import { readInProcess } from '../probe/kernel.ts';

/** The subset of suites/connectivity.ts's Matrix this module reads (no import cycle). */
export interface MatrixLike {
  pods: ResolvedPod[];
  /** each pod's address in the matrix's family (absent: the pod's ip) */
  ips?: string[];
  expected: boolean[][];
  actual: boolean[][];
  attempts: number;
  stopped?: string;
  /** probe[i]: the targets pod i was probed against (absent: every other pod) */
  probe?: number[][];
}

/** The measured cells of a matrix, as [i, j]. */
export function* probedCells(m: MatrixLike): Generator<[number, number]> {
  for (let i = 0; i < m.pods.length; i++) {
    const row = m.probe?.[i];
    if (row) for (const j of row) yield [i, j];
    else for (let j = 0; j < m.pods.length; j++) if (j !== i) yield [i, j];
  }
}

/** The neighbour state in which the kernel is still resolving (no lladdr yet; PROBE/DELAY entries have one and already carry packets): a silent cell behind one can still start answering. */
const UNSETTLED = new Set(['INCOMPLETE']);

/** Unresolved neighbour entries in the given namespaces, as "ns: ip dev X STATE". */
export async function unresolvedNeighbours(nss: string[]): Promise<string[]> {
  const out = await pool([...new Set(nss)], 8, async (ns) => {
    const x = await readInProcess(ns, { neigh: { dev: null } }).catch(() => undefined);
    const xs = x && Array.isArray(x.neigh) ? x.neigh : await ipJson<any[]>(ns, ['neigh', 'show']).catch(() => [] as any[]);
    return xs.filter((n) => (n.state ?? []).some((s: string) => UNSETTLED.has(s))).map((n) => `${ns}: ${n.dst} dev ${n.dev} ${(n.state ?? []).join(',')}`);
  });
  return out.flat();
}

/**
 * Whether another round can change a silent cell: a cell answered in the round just done (the network is converging
 * or flaky: keep going), or a neighbour the silent cells depend on is still being resolved in the source pod or its
 * node. Otherwise every silent cell has had its probes with everything resolved, and is final.
 */
export async function retryDecision(t: ResolvedTopology, pods: ResolvedPod[], pending: number[][], gained: number): Promise<{ retry: boolean; why: string }> {
  const silent = pending.reduce((a, p) => a + p.length, 0);
  if (gained) return { retry: true, why: `${gained} cell(s) answered in the last round` };
  const rows = pods.filter((_, i) => pending[i]!.length);
  const nss = [...rows.map((p) => p.ns), ...rows.map((p) => t.nodes.find((n) => n.name === p.node)!.ns)];
  const unresolved = await unresolvedNeighbours(nss);
  if (unresolved.length) return { retry: true, why: `neighbour resolution in progress (${unresolved[0]})` };
  return { retry: false, why: `${silent} silent cell(s) unchanged by the last round, every neighbour entry resolved` };
}

/** Every measured cell becomes a settled reachability fact for later checks (looked up in the matrix, not copied). */
export function recordMatrix(t: ResolvedTopology, m: MatrixLike): void {
  const rounds = `connectivity matrix, ${m.attempts} round(s)${m.stopped ? `, retries stopped: ${m.stopped}` : ''}`;
  const pos = new Map<string, number>();
  for (const [i, a] of m.pods.entries()) pos.set(m.ips?.[i] ?? a.ip, i);
  // a byte per probed cell (a Set per row of a 1,000-pod matrix is tens of MB, kept for the whole run)
  const rows = m.probe?.map((r) => {
    const row = new Uint8Array(m.pods.length);
    for (const j of r) row[j] = 1;
    return row;
  });
  recordReachTable(t, (src, dst) => {
    const i = pos.get(src);
    const j = pos.get(dst);
    if (i === undefined || j === undefined || i === j || (rows && rows[i]![j] !== 1)) return undefined;
    return { reachable: m.actual[i]![j]!, source: rounds, settled: true };
  });
}
