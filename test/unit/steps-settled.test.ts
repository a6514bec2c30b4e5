// #14: a `within:` check step stops retrying only when every failure is settled — a difference only a control
// plane's write can change (permanent table entries) — and keeps retrying everything timing can change.
import { describe, expect, it } from 'vitest';
import { settledFailures, renderTimeline } from '../../harness/steps/apply.ts';
import { compareTable } from '../../suites/routes.ts';

interface E {
  mac: string;
  dst: string;
  state: string;
}
const spec = {
  noun: 'FDB entry',
  field: 'dst',
  macIn: 'key' as const,
  key: (e: E) => e.mac,
  value: (e: E) => e.dst,
  attrs: (e: E) => ({ state: e.state }),
  show: (e: E) => `${e.mac} dst ${e.dst} state ${e.state}`,
  permanent: (e: E) => e.state === 'permanent',
};
const want = new Map([['02:00:00:00:00:02', { peer: 'node2', value: '192.168.1.3', attrs: { state: 'permanent' } }]]);
const good: E = { mac: '02:00:00:00:00:02', dst: '192.168.1.3', state: 'permanent' };

describe('compareTable: which differences can heal without a write', () => {
  const run = (have: E[], s: Partial<typeof spec> = {}) => {
    const h: { healable?: boolean } = {};
    const diffs = compareTable('node1', want, have, { ...spec, ...s }, h);
    return { diffs, healable: !!h.healable };
  };
  it('an extra permanent entry (left by a departed node) stays: settled', () => {
    const r = run([good, { mac: '66:00:00:00:00:09', dst: '192.168.1.4', state: 'permanent' }]);
    expect(r.diffs).toEqual(['node1: extra FDB entry 66:00:00:00:00:09 dst 192.168.1.4 state permanent']);
    expect(r.healable).toBe(false);
  });
  it('an extra dynamic entry ages out by itself: not settled', () => {
    const r = run([good, { mac: '66:00:00:00:00:09', dst: '192.168.1.4', state: 'dynamic' }]);
    expect(r.diffs).toHaveLength(1);
    expect(r.healable).toBe(true);
  });
  it('a wanted entry missing, or with a wrong dst or a dynamic state: only a write makes it permanent and right', () => {
    expect(run([])).toMatchObject({ healable: false, diffs: ['node1: missing FDB entry 02:00:00:00:00:02 dst 192.168.1.3 (node2)'] });
    expect(run([{ ...good, dst: '192.168.1.2' }])).toMatchObject({ healable: false, diffs: ['node1: stale FDB entry 02:00:00:00:00:02: expected dst 192.168.1.3 (node2), observed 192.168.1.2'] });
    const dyn = run([{ ...good, state: 'dynamic' }]);
    expect(dyn.diffs).toEqual(['node1: FDB entry 02:00:00:00:00:02 (node2): state: expected permanent, observed dynamic']);
    expect(dyn.healable).toBe(false);
  });
  it('a table whose entries cannot be called permanent (the userspace VTEP\'s) is never settled', () => {
    expect(run([good, { mac: '66:00:00:00:00:09', dst: '192.168.1.4', state: 'permanent' }], { permanent: undefined }).healable).toBe(true);
  });
});

describe('settledFailures', () => {
  const S = 'every difference is a permanent entry';
  it('true only when something failed and every failure says why it cannot change', () => {
    expect(settledFailures([{ status: 'fail', settled: S }, { status: 'pass' }])).toBe(true);
    expect(settledFailures([{ status: 'fail', settled: S }, { status: 'fail', settled: S }, { status: 'skip' }])).toBe(true);
  });
  it('a failure without a reason (connectivity: traffic, address resolution, DAD) keeps the retries going', () => {
    expect(settledFailures([{ status: 'fail', settled: S }, { status: 'fail' }])).toBe(false);
    expect(settledFailures([{ status: 'fail' }])).toBe(false);
  });
  it('nothing failed: not "settled" (converged)', () => {
    expect(settledFailures([{ status: 'pass' }, { status: 'skip' }])).toBe(false);
    expect(settledFailures([])).toBe(false);
  });
  it('the timeline says the window was not waited out', () => {
    expect(renderTimeline([{ n: 3, what: 'check routes/fdb within 3s', at: 57, ms: 640, attempts: 1, converged: false, settled: true }])).toMatch(/NOT converged, settled after 640 ms \(1 attempt; window not waited out\)/);
    expect(renderTimeline([{ n: 3, what: 'check routes/fdb within 3s', at: 57, ms: 3060, attempts: 4, converged: false }])).toMatch(/NOT converged after 3\.06 s \(4 attempts\)/);
  });
});
