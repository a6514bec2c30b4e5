// Which directed pod pairs the connectivity matrix probes. Pure: unit-tested in test/unit/sample.test.ts.
//
// Up to FULL_MATRIX_MAX_PAIRS directed pod pairs, every pair. Above, a sample with a stated guarantee:
//   - every directed pair of nodes with pods (A, B), A ≠ B, is covered by at least one pod pair (a pod of A → a pod of B),
//     the sources rotating over A's pods and the targets over B's pods;
//   - on every node with two or more pods, the same-node pairs of a ring (p1 → p2 → … → pk → p1);
//   - hence every pod is probed as a source and as a target (as soon as there are two pods at all).
// With one pod per node the guarantee is the whole matrix: a 1,000-node × 1-pod topology is measured in full.

/** Above this many nodes a topology is big: per-node report lists keep only nodes that differ, routing questions and DF probes are spread samples (README: suites at scale). */
export const BIG_NODES = 64;

/** Above this many directed pod pairs the matrix is sampled (a 500-pod topology is still measured in full). */
export const FULL_MATRIX_MAX_PAIRS = 250_000;

export interface PairPlan {
  /** probe[i]: the target indices pod i is probed against, ascending, never i */
  probe: number[][];
  /** every directed pod pair is probed */
  full: boolean;
  /** directed pod pairs probed */
  pairs: number;
  /** directed pod pairs that exist */
  total: number;
  /** what was probed, in words (goes into the report) */
  coverage: string;
}

export function planPairs(pods: { node: string }[], maxFull = FULL_MATRIX_MAX_PAIRS): PairPlan {
  const n = pods.length;
  const total = n > 1 ? n * (n - 1) : 0;
  const all = (): PairPlan => ({
    probe: pods.map((_, i) => pods.map((_, j) => j).filter((j) => j !== i)),
    full: true,
    pairs: total,
    total,
    coverage: `full matrix: all ${total} directed pod pairs`,
  });
  if (total <= maxFull) return all();
  // the nodes with pods, in order of first appearance, and their pods
  const byNode = new Map<string, number[]>();
  for (const [i, p] of pods.entries()) (byNode.get(p.node) ?? byNode.set(p.node, []).get(p.node)!).push(i);
  const groups = [...byNode.values()];
  const sets = pods.map(() => new Set<number>());
  const srcTurn = groups.map(() => 0);
  const dstTurn = groups.map(() => 0);
  for (const [x, a] of groups.entries())
    for (const [y, b] of groups.entries()) {
      if (x === y) continue;
      const s = a[srcTurn[x]++ % a.length]!;
      const d = b[dstTurn[y]++ % b.length]!;
      sets[s]!.add(d);
    }
  for (const a of groups) if (a.length >= 2) for (const [k, s] of a.entries()) sets[s]!.add(a[(k + 1) % a.length]!);
  const probe = sets.map((s) => [...s].sort((p, q) => p - q));
  const pairs = probe.reduce((acc, r) => acc + r.length, 0);
  if (pairs >= total) return all();
  const g = groups.length;
  return {
    probe,
    full: false,
    pairs,
    total,
    coverage: `sampled: ${pairs} of ${total} directed pod pairs (above ${maxFull}) — every directed pair of the ${g} nodes with pods (${g * (g - 1)}) covered by at least one pod pair, sources and targets rotating over each node's pods; same-node pairs on a ring per node; every pod probed as source and as target`,
  };
}
