// lab.step(): one step applied to a running lab through the library, on a routing-mode topology — the lab's expected
// state follows the step (pods, checks), a check step retries within its deadline, bad input throws before anything
// changes, and down() removes what any step created.
import { describe, expect, it } from 'vitest';
import { execSync } from 'node:child_process';
import { Lab } from '../../harness/api/lab.ts';
import { TopologyError } from '../../harness/topology/errors.ts';
import { needsRoot } from '../helpers/root.ts';
import { TOPO, testRunId } from '../helpers/topo.ts';

const netns = () => execSync('ip netns list', { encoding: 'utf8' });

describe.skipIf(needsRoot)('lab.step (root)', () => {
  it('add-node, a check step, remove-node; bad input is a TopologyError; down() removes what steps created', async () => {
    const runId = testRunId();
    const lab = await Lab.up(TOPO('flannel-directrouting.yaml'), { runId });
    try {
      const add = await lab.step({ action: 'add-node', node: { name: 'node4', segment: 'rack1', pods: 1 } });
      expect(add).toMatchObject({ what: expect.stringMatching(/^add-node node4 \(192\.168\.10\.\d+, pods 10\.244\.4\.0\/24\)$/), ok: true });
      expect(add.results.map((r) => r.id)).toEqual([`steps/${add.n}/add-node`]);
      expect(lab.pods.map((p) => `${p.node}/${p.name}`)).toContain('node4/pod1');
      expect(netns()).toMatch(new RegExp(`-node4-pod1\\b`));
      // node4 is in rack1: node1 and node2 route it directly, node3 over VXLAN — the routes suite judges that
      const chk = await lab.step({ check: ['routes', 'connectivity/full-mesh', 'encapsulation/routing-mode'], within: '5s' });
      expect(chk.results.filter((r) => r.status === 'fail').map((r) => `${r.id}: ${r.message}`)).toEqual([]);
      expect(chk).toMatchObject({ n: add.n + 1, ok: true, converged: true });
      expect(chk.attempts).toBeGreaterThanOrEqual(1);
      expect(chk.results.find((r) => r.id === `steps/${chk.n}/encapsulation/routing-mode`)?.message).toMatch(/12 node pairs in DirectRouting: 6 crossed plain/);
      // bad input: nothing changes
      await expect(lab.step({ action: 'remove-node', node: 'node9' })).rejects.toThrow(TopologyError);
      await expect(lab.step({ action: 'remove-node', node: 'node9' })).rejects.toThrow(/step\.node: no node 'node9' at this step; expected one of: node1, node2, node3, node4/);
      await expect(lab.step({ check: ['routes/nope'] })).rejects.toThrow(/step\.check: unknown suite or check 'routes\/nope'/);
      // @ts-expect-error not an action
      await expect(lab.step({ action: 'reboot', node: 'node1' })).rejects.toThrow(/step\.action: expected an action/);
      const rm = await lab.step({ action: 'remove-node', node: 'node2' });
      expect(rm.ok).toBe(true);
      expect(lab.pods.map((p) => `${p.node}/${p.name}`)).not.toContain('node2/pod1');
      const after = await lab.step({ check: ['routes', 'connectivity'] });
      expect(after.results.filter((r) => r.status === 'fail').map((r) => `${r.id}: ${r.message}`)).toEqual([]);
    } finally {
      await lab.down();
    }
    expect(netns()).not.toMatch(new RegExp(`vx-${runId}-`));
  });
});
