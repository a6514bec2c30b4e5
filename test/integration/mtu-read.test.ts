// mtu/vtep-mtu and mtu/pod-mtu read MTUs in-process (suites/mtu-read.ts: setns + SIOCGIFMTU) when the routes suite's
// snapshot is not there, and from that snapshot when it is: both ways must name the same node, device and value for a
// VTEP MTU and a pod MTU changed by hand, and a deleted VTEP device as missing.
import { describe, expect } from 'vitest';
import { join } from 'node:path';
import { needsRoot } from '../helpers/root.ts';
import { test, TOPO } from '../helpers/topo.ts';
import { run } from '../../harness/util/exec.ts';
import { runSuites } from '../../harness/runner/runner.ts';
import { SUITES } from '../../suites/index.ts';
import type { SuiteDef } from '../../harness/runner/check.ts';

const MTU_READS: SuiteDef = { ...SUITES.mtu!, checks: SUITES.mtu!.checks.filter((c) => c.id === 'mtu/vtep-mtu' || c.id === 'mtu/pod-mtu') };

describe.skipIf(needsRoot)('mtu checks: MTUs read in-process or from the routes snapshot', () => {
  test('a VTEP MTU and a pod MTU changed by hand, then a deleted VTEP, named the same both ways', { timeout: 300_000 }, async ({ bringUp }) => {
    const r = await bringUp(TOPO('flannel-3node.yaml'));
    const t = r.topology;
    const n2 = t.nodes.find((n) => n.name === 'node2')!;
    const p3 = t.nodes.find((n) => n.name === 'node3')!.pods[0]!;
    const workDir = join(r.state.workDir);
    const by = async (suites: SuiteDef[]) => Object.fromEntries((await runSuites(t, suites, { workDir })).results.map((x) => [x.id, x]));

    // healthy: both pass
    const ok = await by([MTU_READS]);
    expect(ok['mtu/vtep-mtu']!.status).toBe('pass');
    expect(ok['mtu/pod-mtu']!.status).toBe('pass');

    await run(['ip', 'link', 'set', n2.vtep.dev, 'mtu', '1400'], { ns: n2.ns });
    await run(['ip', 'link', 'set', p3.ifname, 'mtu', '1480'], { ns: p3.ns });
    for (const suites of [[MTU_READS], [SUITES.routes!, MTU_READS]]) {
      const x = await by(suites);
      expect(x['mtu/vtep-mtu']!.status).toBe('fail');
      expect(x['mtu/vtep-mtu']!.diffs).toEqual([`node2: ${n2.vtep.dev} MTU: expected 1450, observed 1400`]);
      expect((x['mtu/vtep-mtu']!.observed as any).node2).toEqual({ underlay: 1500, [n2.vtep.dev]: 1400 });
      expect(x['mtu/pod-mtu']!.status).toBe('fail');
      expect(x['mtu/pod-mtu']!.diffs).toEqual([`node3/pod1: ${p3.ifname} MTU: expected 1450, observed 1480`, `pod MTU 1480 > overlay MTU 1450 on node3 (node3/pod1): full-size packets cannot cross the overlay`]);
    }
    await run(['ip', 'link', 'del', n2.vtep.dev], { ns: n2.ns });
    const gone = await by([MTU_READS]);
    expect(gone['mtu/vtep-mtu']!.diffs).toEqual([`node2: ${n2.vtep.dev} missing`]);
  });
});
