// Expectations (`expect:`): the suite-level rules and suites that did not run. Pure logic, no kernel.
import { describe, expect, it } from 'vitest';
import { judge, notJudged, renderVerdicts, unmatched } from '../../harness/runner/expect.ts';
import type { CheckResult, Status } from '../../harness/report/types.ts';
import { flows, pairPlan, FULL_MESH_NODES } from '../../suites/encapsulation.ts';
import { normalize } from '../../harness/topology/normalize.ts';

const r = (id: string, status: Status, message = ''): CheckResult => ({ id, suite: id.split('/')[0]!, title: id, status, message, durationMs: 0 });

describe('suite-level pass: no check of the suite fails and at least one passes', () => {
  it('holds when a check of the suite skips as not applicable', () => {
    const vs = judge([r('connectivity/full-mesh', 'pass'), r('connectivity/isolation', 'skip')], { connectivity: 'pass' });
    expect(vs.map((v) => v.holds)).toEqual([true, true]);
  });
  it('does not hold when a check of the suite fails', () => {
    const vs = judge([r('connectivity/full-mesh', 'fail'), r('connectivity/isolation', 'skip')], { connectivity: 'pass' });
    expect(vs[0]!.holds).toBe(false);
    expect(vs[0]!.why).toBe('expected pass, observed fail');
  });
  it('does not hold when every check of the suite skipped', () => {
    const vs = judge([r('mtu/path-mtu', 'skip'), r('mtu/df-boundary', 'skip')], { mtu: 'pass' });
    expect(vs.every((v) => !v.holds)).toBe(true);
    expect(vs[0]!.why).toMatch(/expected suite mtu to pass, but no check of it passed/);
  });
  it('a check id expectation still wants exactly its status', () => {
    const vs = judge([r('connectivity/isolation', 'skip')], { 'connectivity/isolation': 'pass' });
    expect(vs[0]!.holds).toBe(false);
  });
});

describe('expectations for suites that did not run are not judged', () => {
  const results = [r('connectivity/full-mesh', 'pass'), r('connectivity/isolation', 'skip')];
  const exp = { 'routes/fdb': 'fail', encapsulation: 'fail', 'connectivity/full-mesh': 'pass' } as const;
  it('--suite connectivity: routes/fdb and encapsulation are neither missing nor judged', () => {
    expect(unmatched(results, exp, ['connectivity'])).toEqual([]);
    expect(notJudged(exp, ['connectivity'])).toEqual(['routes/fdb', 'encapsulation']);
    const table = renderVerdicts(judge(results, exp), [], notJudged(exp, ['connectivity']));
    expect(table).toMatch(/routes\/fdb\s+\?\s+none\s+not judged: suite routes was not run/);
    expect(table).not.toMatch(/DOES NOT HOLD/);
  });
  it('all suites run: an expectation with no result is still missing', () => {
    expect(unmatched(results, exp, ['routes', 'encapsulation', 'mtu', 'connectivity'])).toEqual(['routes/fdb', 'encapsulation']);
    expect(notJudged(exp, ['routes', 'encapsulation', 'mtu', 'connectivity'])).toEqual([]);
  });
});

describe('encapsulation pair plan', () => {
  const topo = (n: number, extra = '') => normalize({ name: 'p', nodes: Array.from({ length: n }, (_, i) => ({ name: `n${i + 1}`, pods: 2, ...(extra && i >= n / 2 ? { overlay: { vni: 2 } } : {}) })) } as any, { runId: 'u1' });
  it(`up to ${FULL_MESH_NODES} nodes: every ordered pair, two source pods each, plus same-node flows`, () => {
    const t = topo(5);
    expect(pairPlan(t).pairs).toHaveLength(20);
    expect(flows(t).filter((f) => !f.local)).toHaveLength(40);
    expect(flows(t).filter((f) => f.local)).toHaveLength(5);
  });
  it('above: a ring where every node sends to two and receives from two, and the coverage says so', () => {
    const t = topo(30);
    const { pairs, coverage } = pairPlan(t);
    expect(pairs).toHaveLength(60);
    for (const n of t.nodes) {
      expect(pairs.filter(([a]) => a === n)).toHaveLength(2);
      expect(pairs.filter(([, b]) => b === n)).toHaveLength(2);
    }
    expect(coverage).toMatch(/ring sample of 30 nodes, each sends to the next two and receives from the previous two \(60 pairs\)/);
  });
  it('nodes on different VNIs are separate overlays: no traffic is planned between them', () => {
    const t = topo(4, 'vni');
    expect(pairPlan(t).pairs.every(([a, b]) => a.vtep.vni === b.vtep.vni)).toBe(true);
    expect(pairPlan(t).pairs).toHaveLength(4);
  });
});
