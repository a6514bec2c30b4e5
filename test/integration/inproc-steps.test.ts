// #16: up applies the plan from its own process — sysctls (setns + /proc/sys/net, inns.ts) and every `ip`/`bridge`
// batch line: links (bridge, veth with its peer moved into another namespace, vxlan with all its attributes), link
// settings, addresses, neighbours, routes, FDB entries (rtnetlink, nl-apply.ts) — instead of one ip/bridge/nsenter
// process per namespace. The kernel state must be exactly what the plan's commands build: the same topology is
// brought up both ways (VXLAB_APPLY=processes runs the plan's commands) and every namespace's dumps are compared —
// segments, router, nodes and pods; the root namespace keeps its own values.
// #17: steps reprogram peers the same way (neighbours, FDB entries, routes over rtnetlink; namespaces added and
// deleted as `ip netns` does): every step type applied both ways, on both layouts, leaves the same kernel state.
// The in-process apply tests are split over inproc.test.ts, inproc-up2.test.ts, inproc-steps.test.ts and
// inproc-errors.test.ts (helpers: test/helpers/inproc.ts) so that vitest runs them in parallel workers.
import { afterEach, describe, expect, it } from 'vitest';
import { needsRoot } from '../helpers/root.ts';
import { testRunId } from '../helpers/topo.ts';
import { bridgeJson } from '../../harness/util/exec.ts';
import { up, type Running } from '../../harness/runtime/lifecycle.ts';
import { applyAction } from '../../harness/steps/apply.ts';
import type { ResolvedStep } from '../../harness/steps/types.ts';
import { vxNamespaces } from '../helpers/host.ts';
import { dumps, rootTraces, stepTopo, viaProcesses } from '../helpers/inproc.ts';

describe.skipIf(needsRoot)('steps applied in-process equal the same steps applied by processes (root)', () => {
  const live: Running[] = [];
  afterEach(async () => {
    for (const r of live.splice(0).reverse()) await r.down();
  });

  for (const [file, extra] of [
    ['flannel-directrouting.yaml', ''],
    // control: the real bugs' behaviour (a departed node's FDB entry and a changed MAC left on peers) both ways
    ['calico-crosssubnet.yaml', 'control: { removeDepartedFdb: false, updateChangedMac: false }\n'],
  ] as const) {
    it(`${file}${extra ? ' with control bugs' : ''}: after each step, every node's neighbours, FDB and routes (and links, addresses) are the same both ways; root untouched`, async () => {
      const procT = stepTopo(file, extra, testRunId());
      const inT = stepTopo(file, extra, testRunId());
      const procRun = await viaProcesses(() => up(procT, { ephemeral: true }));
      live.push(procRun);
      const inRun = await up(inT, { ephemeral: true });
      live.push(inRun);
      for (let k = 0; k < procT.steps!.length; k++) {
        const ps = procT.steps![k]! as Exclude<ResolvedStep, { action: 'check' }>;
        await viaProcesses(() => applyAction(procT, procRun.state, ps));
        await applyAction(inT, inRun.state, inT.steps![k] as typeof ps);
        expect(inT.nodes.map((n) => n.name)).toEqual(procT.nodes.map((n) => n.name));
        for (let i = 0; i < inT.nodes.length; i++) {
          const [a, b] = await Promise.all([dumps(procT, procT.nodes[i]!.ns, { linkState: false }), dumps(inT, inT.nodes[i]!.ns, { linkState: false })]);
          for (const key of Object.keys(a) as (keyof typeof a)[]) expect(b[key], `step ${k + 1} (${ps.action}): ${inT.nodes[i]!.name}: ${key}`).toEqual(a[key]);
          // not two empty tables: every node routes every other node's pod subnet
          const n = inT.nodes[i]!;
          for (const p of inT.nodes.filter((x) => x !== n)) expect(b.routes.some((r) => r.includes(`"dst":"${p.podSubnet}"`)), `step ${k + 1}: ${n.name} routes ${p.name}'s ${p.podSubnet}`).toBe(true);
        }
      }
      // the steps did what they say on the in-process side: node3 is gone, node2 back at its new address, node4 there
      expect(inT.nodes.map((n) => n.name)).toEqual(['node1', 'node2', 'node4']);
      expect(inT.nodes.slice(0, 2).map((n) => n.ip)).toEqual(['192.168.10.50', '192.168.10.77']);
      expect(vxNamespaces(`${inT.prefix}-${inT.name}-node3`)).toEqual([]);
      const fdb = (await bridgeJson<any[]>(inT.nodes[0]!.ns, ['fdb', 'show'])).filter((f) => f.state === 'permanent' && f.dst);
      if (extra) expect(fdb.map((f) => f.dst), 'control removeDepartedFdb: false keeps node3\'s entry on node1').toContain('192.168.20.2');
      else expect(fdb.map((f) => f.dst)).not.toContain('192.168.20.2');
      expect(await rootTraces([procT, inT])).toEqual([]);
    }, 300_000); // two ups and 6 steps × 4 nodes × 2 full dumps: ~100 s at load 15 on 2 cores
  }

});
