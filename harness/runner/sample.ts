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

/** At most this many tcpdump processes live at once in one capture round of the encapsulation suite. */
export const CAPTURE_ROUND_MAX = 96;

export interface CaptureRound {
  /** nodes captured on their underlay link in this round (every sender and receiver of the round's pairs), in node order */
  capture: string[];
  /** indices into the planned pairs driven (and captured at both ends) in this round */
  pairs: number[];
  /** nodes whose same-node flows are driven (and captured on the pod interface) in this round */
  local: string[];
}

/**
 * Encapsulation capture rounds (#16). Pure: unit-tested in test/unit/sample.test.ts. Guarantee, whatever the size:
 *   - every planned directed node pair is driven in exactly one round, and in that round both its sender and its
 *     receiver are captured on their underlay links (so a pair is judged on the same evidence as when everything was
 *     captured at once: its packets as they leave the sender and as they reach the receiver);
 *   - every node with planned traffic is captured (as a receiver in the round of its incoming pairs, as a sender in
 *     the rounds of its outgoing pairs), so every node's VTEP is observed as sender and as receiver;
 *   - every same-node flow is driven in exactly one round (its node's receiving round, else the last), its pod interface captured;
 *   - a round holds at most `max` captures (underlay links + pod interfaces); a round exceeds it only when one
 *     receiver with its senders and local flows alone is bigger than `max` (that receiver then gets a round to itself).
 * Receivers are taken in node order, so a ring plan (each node sends to the next two) needs ⌈N / (max − 2)⌉ rounds.
 */
export function captureRounds(nodes: string[], pairs: [string, string][], localCount: Map<string, number> = new Map(), max = CAPTURE_ROUND_MAX): CaptureRound[] {
  const order = new Map(nodes.map((n, i) => [n, i]));
  const incoming = new Map<string, number[]>();
  for (const [i, [, b]] of pairs.entries()) (incoming.get(b) ?? incoming.set(b, []).get(b)!).push(i);
  const rounds: CaptureRound[] = [];
  let cur: { capture: Set<string>; pairs: number[]; local: string[]; size: number } | undefined;
  const close = () => {
    if (cur && (cur.pairs.length || cur.local.length)) rounds.push({ capture: [...cur.capture].sort((p, q) => order.get(p)! - order.get(q)!), pairs: cur.pairs, local: cur.local });
    cur = undefined;
  };
  for (const r of nodes) {
    const ps = incoming.get(r) ?? [];
    const loc = localCount.get(r) ?? 0;
    if (!ps.length && !loc) continue;
    const need = new Set(ps.length ? [r, ...ps.map((i) => pairs[i]![0])] : []);
    const add = (c: NonNullable<typeof cur>) => [...need].filter((x) => !c.capture.has(x)).length + loc;
    if (cur && cur.size + add(cur) > max) close();
    cur ??= { capture: new Set(), pairs: [], local: [], size: 0 };
    cur.size += add(cur);
    for (const x of need) cur.capture.add(x);
    cur.pairs.push(...ps);
    if (loc) cur.local.push(r);
  }
  close();
  return rounds;
}
