// Which namespaces a failing run dumps first when it has more than the cap (harness/report/artifacts.ts): the shared
// ones (segments, router), then the nodes a failing check names (whole words), then the rest in topology order.
import { describe, expect, it } from 'vitest';
import { artifactOrder } from '../../harness/report/artifacts.ts';
import { resolveFile, TOPO } from '../helpers/topo.ts';

describe('artifactOrder', () => {
  const t = resolveFile(TOPO('flannel-3node.yaml'), 'ao1');
  const ns = (n: string) => `vx-ao1-flannel-3node-${n}`;

  it('segments first, then the named nodes with their pods, then the rest; each once', () => {
    const { order, named } = artifactOrder(t, [{ message: 'node3: missing route 10.244.2.0/24 via 10.244.2.0 for node2', diffs: ['node3: something about node2'] }]);
    expect(named).toEqual(['node3', 'node2']);
    const segs = t.segments.filter((s) => s.ns).map((s) => s.ns!);
    expect(segs.length).toBeGreaterThan(0);
    expect(order.slice(0, segs.length)).toEqual(segs);
    const rest = order.slice(segs.length);
    expect(rest.slice(0, 6)).toEqual([ns('node3'), ns('node3-pod1'), ns('node3-pod2'), ns('node2'), ns('node2-pod1'), ns('node2-pod2')]);
    expect(rest.slice(6)).toEqual([ns('node1'), ns('node1-pod1'), ns('node1-pod2')]);
    expect(new Set(order).size).toBe(order.length);
  });

  it('names match whole words only, in message, diffs and details; nothing named keeps topology order', () => {
    expect(artifactOrder(t, [{ message: 'node12 and xnode1 and node1x' }]).named).toEqual([]);
    expect(artifactOrder(t, [{ details: 'row node2/pod1 -> node1/pod2' }]).named).toEqual(['node2', 'node1']);
    const { order } = artifactOrder(t, []);
    expect(order.filter((n) => n.includes('-node'))).toEqual(['node1', 'node1-pod1', 'node1-pod2', 'node2', 'node2-pod1', 'node2-pod2', 'node3', 'node3-pod1', 'node3-pod2'].map(ns));
  });
});
