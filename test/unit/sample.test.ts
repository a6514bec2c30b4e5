// The connectivity sampler's guarantee (harness/runner/sample.ts), checked by brute force over odd shapes.
import { describe, expect, it } from 'vitest';
import { CAPTURE_ROUND_MAX, FULL_MATRIX_MAX_PAIRS, captureRounds, planPairs } from '../../harness/runner/sample.ts';

/** pods: one entry per node, the node's pod count */
const podsOf = (counts: number[]) => counts.flatMap((c, i) => Array.from({ length: c }, () => ({ node: `n${i + 1}` })));

/** Every directed node pair (nodes with pods) covered, every pod a source and a target, no self pair, no duplicate. */
function assertGuarantee(counts: number[], maxFull?: number) {
  const pods = podsOf(counts);
  const plan = planPairs(pods, maxFull);
  const covered = new Set<string>();
  const src = new Set<number>();
  const dst = new Set<number>();
  const bad: string[] = [];
  let pairs = 0;
  for (const [i, row] of plan.probe.entries()) {
    if (new Set(row).size !== row.length) bad.push(`row ${i} has a duplicate`);
    for (const j of row) {
      if (j === i || j < 0 || j >= pods.length) bad.push(`row ${i}: bad target ${j}`);
      covered.add(`${pods[i]!.node}>${pods[j]!.node}`);
      src.add(i);
      dst.add(j);
      pairs++;
    }
  }
  expect(bad).toEqual([]);
  expect(pairs).toBe(plan.pairs);
  expect(plan.total).toBe(pods.length > 1 ? pods.length * (pods.length - 1) : 0);
  const withPods = counts.map((c, i) => [c, `n${i + 1}`] as const).filter(([c]) => c > 0).map(([, n]) => n);
  const missing: string[] = [];
  for (const a of withPods) for (const b of withPods) if (a !== b && !covered.has(`${a}>${b}`)) missing.push(`${a}>${b}`);
  expect(missing).toEqual([]);
  if (pods.length >= 2) {
    expect(src.size).toBe(pods.length);
    expect(dst.size).toBe(pods.length);
  }
  return plan;
}

describe('planPairs: the connectivity sample', () => {
  it('small topologies: the full matrix, as before', () => {
    const p = assertGuarantee([2, 2, 2]);
    expect(p.full).toBe(true);
    expect(p.pairs).toBe(30);
    expect(p.coverage).toBe('full matrix: all 30 directed pod pairs');
  });

  it('one pod per node: the guarantee is the full matrix, whatever the size', () => {
    const p = planPairs(podsOf(Array(600).fill(1)));
    expect(p.full).toBe(true);
    expect(p.pairs).toBe(600 * 599);
    expect(p.total).toBe(600 * 599);
  });

  it('above the threshold with several pods per node: sampled, every node pair and every pod covered', () => {
    const p = assertGuarantee([3, 3, 3, 3, 3], 10);
    expect(p.full).toBe(false);
    expect(p.pairs).toBeLessThan(p.total);
    expect(p.coverage).toMatch(/^sampled: \d+ of 210 directed pod pairs/);
    expect(p.coverage).toContain('every pod probed as source and as target');
  });

  it('odd shapes: nodes with 0 pods, a node with many pods, one node, two nodes', () => {
    assertGuarantee([0, 5, 0, 1, 7, 0], 1);
    assertGuarantee([40, 1, 1], 1); // more pods on one node than there are other nodes: the same-node ring covers them
    assertGuarantee([1], 1);
    assertGuarantee([6], 1); // one node: only same-node pairs, on a ring
    assertGuarantee([1, 1], 1);
    assertGuarantee([3, 1], 1);
    assertGuarantee([0, 0], 1);
    assertGuarantee([], 1);
  });

  it('a big multi-pod topology is sampled down to about one pair per directed node pair', () => {
    const p = assertGuarantee(Array(300).fill(3));
    expect(p.full).toBe(false);
    expect(p.total).toBeGreaterThan(FULL_MATRIX_MAX_PAIRS);
    // 300 × 299 node pairs, plus a ring of 3 same-node pairs on each node
    expect(p.pairs).toBe(300 * 299 + 300 * 3);
  });
});

/** The encapsulation capture rounds' guarantee (captureRounds), checked by brute force. */
function assertRounds(nodes: string[], pairs: [string, string][], local: Map<string, number>, max: number) {
  const rounds = captureRounds(nodes, pairs, local, max);
  const driven = new Map<number, number>();
  const localIn = new Map<string, number>();
  const sent = new Set<string>();
  const received = new Set<string>();
  for (const r of rounds) {
    const cap = new Set(r.capture);
    expect(cap.size).toBe(r.capture.length);
    for (const i of r.pairs) {
      driven.set(i, (driven.get(i) ?? 0) + 1);
      const [a, b] = pairs[i]!;
      // both ends captured in the round that drives the pair
      expect(cap.has(a) && cap.has(b)).toBe(true);
      sent.add(a);
      received.add(b);
    }
    for (const n of r.local) localIn.set(n, (localIn.get(n) ?? 0) + 1);
    const size = r.capture.length + r.local.reduce((a, n) => a + (local.get(n) ?? 0), 0);
    // the bound holds unless a single receiver (its senders and local flows) alone exceeds it
    if (size > max) {
      const recv = new Set(r.pairs.map((i) => pairs[i]![1]));
      expect(recv.size + r.local.filter((n) => !recv.has(n)).length).toBe(1);
    }
  }
  // every pair driven in exactly one round; every local flow node in exactly one round
  expect([...driven.keys()].sort((a, b) => a - b)).toEqual(pairs.map((_, i) => i));
  expect([...driven.values()].every((v) => v === 1)).toBe(true);
  expect([...localIn.keys()].sort()).toEqual([...local.keys()].filter((n) => local.get(n)! > 0).sort());
  expect([...localIn.values()].every((v) => v === 1)).toBe(true);
  // every node with planned traffic observed as sender and as receiver when it has both roles
  for (const [a, b] of pairs) {
    expect(sent.has(a)).toBe(true);
    expect(received.has(b)).toBe(true);
  }
  return rounds;
}

const ring = (n: number): { nodes: string[]; pairs: [string, string][] } => {
  const nodes = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  return { nodes, pairs: nodes.flatMap((a, i) => [1, 2].map((d) => [a, nodes[(i + d) % n]!] as [string, string])) };
};

describe('captureRounds (encapsulation capture rounds)', () => {
  it('a 1,000-node ring: every pair driven once with both ends captured, at most CAPTURE_ROUND_MAX captures a round, ⌈N / (max − 2)⌉ rounds', () => {
    const { nodes, pairs } = ring(1000);
    const rounds = assertRounds(nodes, pairs, new Map(), CAPTURE_ROUND_MAX);
    expect(rounds.every((r) => r.capture.length <= CAPTURE_ROUND_MAX)).toBe(true);
    expect(rounds.length).toBe(Math.ceil(1000 / (CAPTURE_ROUND_MAX - 2)));
  });

  it('small topologies fit one round: the same captures as capturing everything at once', () => {
    const { nodes, pairs } = ring(30);
    const rounds = assertRounds(nodes, pairs, new Map([['n3', 1]]), CAPTURE_ROUND_MAX);
    expect(rounds).toHaveLength(1);
    expect(rounds[0]!.capture).toEqual(nodes);
  });

  it('same-node flows count toward the bound and land in exactly one round', () => {
    const { nodes, pairs } = ring(50);
    const local = new Map(nodes.map((n) => [n, 2]));
    const rounds = assertRounds(nodes, pairs, local, 20);
    expect(rounds.length).toBeGreaterThan(1);
  });

  it('odd shapes: full mesh, a receiver bigger than the bound, nodes without traffic, local-only nodes, nothing at all', () => {
    const nodes = ['a', 'b', 'c', 'd', 'e'];
    const mesh = nodes.flatMap((a) => nodes.filter((b) => b !== a).map((b) => [a, b] as [string, string]));
    assertRounds(nodes, mesh, new Map(), 3); // every receiver has 4 senders: 5 captures > 3, a round each
    assertRounds(nodes, mesh, new Map(), 5);
    assertRounds(nodes, [['a', 'c']], new Map([['e', 1]]), 2);
    assertRounds(nodes, [], new Map([['b', 3]]), 1);
    expect(captureRounds(nodes, [], new Map(), 4)).toEqual([]);
  });
});
