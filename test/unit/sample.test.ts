// The connectivity sampler's guarantee (harness/runner/sample.ts), checked by brute force over odd shapes.
import { describe, expect, it } from 'vitest';
import { FULL_MATRIX_MAX_PAIRS, planPairs } from '../../harness/runner/sample.ts';

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
