// The in-process ICMP prober of the connectivity matrix (harness/probe/icmp.ts, #16): real namespaces, real echo
// requests from raw sockets opened inside each pod's namespace, both families. A target nobody has is silent; an nft
// drop rule in a node's namespace silences exactly the pair it drops, in the prober's rows and in
// connectivity/full-mesh's verdict, which names the pair (and nothing else).
import { describe, expect } from 'vitest';
import { join } from 'node:path';
import { needsRoot } from '../helpers/root.ts';
import { test, TOPO } from '../helpers/topo.ts';
import { echoProbe } from '../../harness/probe/icmp.ts';
import { run } from '../../harness/util/exec.ts';
import { runSuites } from '../../harness/runner/runner.ts';
import { SUITES } from '../../suites/index.ts';
import { allPods } from '../../harness/topology/resolved.ts';

const rows = (alive: Uint8Array[]) => alive.map((r) => [...r].join(''));

describe.skipIf(needsRoot)('in-process ICMP prober (connectivity matrix)', () => {
  test('both families: every pod pair answers, an address nobody has stays silent; an nft drop silences exactly its pair, and full-mesh names it', { timeout: 300_000 }, async ({ bringUp }) => {
    const r = await bringUp(TOPO('dual-stack-3node.yaml'));
    const t = r.topology;
    const pods = allPods(t);
    expect(pods.map((p) => p.node)).toEqual(['node1', 'node2', 'node3']);
    const nss = pods.map((p) => p.ns);
    const v4 = pods.map((p) => p.ip);
    const v6 = pods.map((p) => p.addrs.find((a) => a.family === 6)!.ip);
    // a fourth address in each family that no pod has (inside node3's pod subnets: routed there, never answered)
    const ghost4 = v4[2]!.replace(/\.\d+$/, '.200');
    const ghost6 = v6[2]!.replace(/::[0-9a-f]+$/, '::c8');
    const all = [[1, 2, 3], [0, 2, 3], [0, 1, 3]];
    for (const [ips, ghost] of [[v4, ghost4], [v6, ghost6]] as const) {
      const res = await echoProbe(nss, [...ips, ghost], all, { tries: 2, timeoutMs: 300 });
      expect(res.complete).toBe(true);
      expect(rows(res.alive), ips[0]).toEqual(['0110', '1010', '1100']);
      // 3 × 3 first requests, then the 3 silent ghost cells once more
      expect(res.sent).toBe(12);
      expect(res.replies).toBeGreaterThanOrEqual(6);
    }

    // node3 drops node1's pod's echo requests to node3's pod (IPv4 only) as it forwards them: one directed pair, the
    // other direction's replies pass
    const n3 = t.nodes.find((n) => n.name === 'node3')!;
    await run(['nft', 'add', 'table', 'inet', 'handbreak'], { ns: n3.ns });
    await run(['nft', 'add', 'chain', 'inet', 'handbreak', 'hb_forward', '{ type filter hook forward priority 0; }'], { ns: n3.ns });
    await run(['nft', 'add', 'rule', 'inet', 'handbreak', 'hb_forward', 'ip', 'saddr', v4[0]!, 'ip', 'daddr', v4[2]!, 'icmp', 'type', 'echo-request', 'drop'], { ns: n3.ns });
    const cut = await echoProbe(nss, v4, [[1, 2], [0, 2], [0, 1]], { tries: 2, timeoutMs: 300 });
    expect(rows(cut.alive)).toEqual(['010', '101', '110']);
    const six = await echoProbe(nss, v6, [[1, 2], [0, 2], [0, 1]], { tries: 2, timeoutMs: 300 });
    expect(rows(six.alive)).toEqual(['011', '101', '110']);

    const { results } = await runSuites(t, [SUITES.connectivity!], { workDir: join(r.state.workDir) });
    const fm = results.find((x) => x.id === 'connectivity/full-mesh')!;
    expect(fm.status).toBe('fail');
    expect(fm.message).toMatch(/^IPv4: 1 of 6 directed pairs wrong/);
    expect(fm.message).toContain('(IPv6 as expected)');
    expect(fm.diffs).toEqual([`IPv4: node1/pod1 (${v4[0]}) -> node3/pod1 (${v4[2]}): expected reachable, observed unreachable`]);
  });
});
