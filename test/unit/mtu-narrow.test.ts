// mtu/path-mtu's pair choice (suites/mtu.ts narrowPairs): the quick "no link narrower than any node's own" exit must
// agree with walking every pair, on topologies with and without a narrow middle link.
import { describe, expect, it } from 'vitest';
import { resolveFile, TOPO } from '../helpers/topo.ts';
import { narrowPairs, pathUnderlayMtus } from '../../suites/mtu.ts';
import type { ResolvedTopology } from '../../harness/topology/resolved.ts';

/** every pair, no shortcut (what narrowPairs computed before the quick exit) */
function walk(t: ResolvedTopology) {
  const out: [string, string, number][] = [];
  for (const a of t.nodes) for (const b of t.nodes) {
    if (a === b || !a.pods[0] || !b.pods[0] || a.vtep.vni !== b.vtep.vni) continue;
    const narrow = Math.min(...pathUnderlayMtus(t, a, b));
    if (narrow < a.underlayMtu) out.push([a.name, b.name, narrow]);
  }
  return out;
}

describe('narrowPairs', () => {
  for (const f of ['flannel-3node.yaml', 'narrow-middle-link-ok.yaml', 'routed-2seg.yaml', 'bugs/narrow-middle-link.yaml', 'bugs/ipv6-narrow-path.yaml']) {
    it(f, () => {
      const t = resolveFile(TOPO(f), 'u1');
      const got = narrowPairs(t).map(([a, b, n]) => [a.name, b.name, n]);
      expect(got).toEqual(walk(t));
      expect(narrowPairs(t, 2)).toHaveLength(Math.min(2, got.length));
    });
  }
  it('a narrow middle link is found (the quick exit does not hide it)', () => {
    expect(narrowPairs(resolveFile(TOPO('bugs/narrow-middle-link.yaml'), 'u1')).length).toBeGreaterThan(0);
  });
});
