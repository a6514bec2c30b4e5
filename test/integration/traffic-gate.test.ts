// The traffic gate (#16): traffic checks start once the routes suite's reads are done, while its comparisons still run.
// What that must keep: no traffic disturbs what routes reads. Here the disturbance is real: node n1's permanent
// neighbour for n2's VTEP address is deleted by hand, and pod traffic from n1 to n2 then makes the kernel create an
// entry of its own for that address on flannel.1 (it ARPs for it; the entry is INCOMPLETE, then FAILED). routes/neighbours
// must report the entry missing — what `up` left and the reads saw — not the kernel's FAILED entry that the matrix's
// traffic created afterwards (which this test then finds in the table, so the traffic did run and did disturb it).
import { describe, expect } from 'vitest';
import { needsRoot } from '../helpers/root.ts';
import { test, tempTopology } from '../helpers/topo.ts';
import { runSuites } from '../../harness/runner/runner.ts';
import { SUITES } from '../../suites/index.ts';
import { run } from '../../harness/util/exec.ts';

const yaml = `name: gate\nunderlay:\n  mtu: 1500\n  segments:\n    - { name: rack1, cidr: 192.168.0.0/24 }\noverlay:\n  layout: flannel\n  vtep: kernel\n  vni: 1\n  port: 4789\n  podCidr: 10.66.0.0/16\n  nodeCidrSize: 24\nnodes:\n  - { name: n1, pods: 1 }\n  - { name: n2, pods: 1 }\n  - { name: n3, pods: 1 }\n`;

describe.skipIf(needsRoot)('traffic gate: traffic checks run alongside the routes comparisons, never before its reads', () => {
  test('a neighbour deleted by hand is reported missing, not as the entry the matrix traffic made the kernel create', { timeout: 240_000 }, async ({ bringUp }) => {
    const r = await bringUp(tempTopology(yaml));
    const t = r.topology;
    const [n1, n2] = [t.nodes.find((n) => n.name === 'n1')!, t.nodes.find((n) => n.name === 'n2')!];
    await run(['ip', 'neigh', 'del', n2.vtep.ip, 'dev', n1.vtep.dev], { ns: n1.ns });
    const { results } = await runSuites(t, [SUITES.routes!, SUITES.connectivity!], { workDir: r.state.workDir });
    const by = Object.fromEntries(results.map((x) => [x.id, x]));
    // what the reads saw: the entry missing, named by node, peer and value — not a FAILED/INCOMPLETE state
    expect(by['routes/neighbours']!.status).toBe('fail');
    expect(by['routes/neighbours']!.diffs).toEqual([`n1: missing neighbour ${n2.vtep.ip} lladdr ${n2.vtep.mac} (n2)`]);
    // the traffic did run (n1 cannot reach n2) and did leave the kernel's own entry behind
    expect(by['connectivity/full-mesh']!.status).toBe('fail');
    expect(by['connectivity/full-mesh']!.message).toMatch(/directed pairs wrong/);
    const after = await run(['ip', '-j', 'neigh', 'show', 'dev', n1.vtep.dev, 'to', n2.vtep.ip, 'nud', 'all'], { ns: n1.ns });
    const entries = JSON.parse(after.stdout || '[]') as { dst: string; state?: string[] }[];
    expect(entries.map((e) => e.dst)).toEqual([n2.vtep.ip]);
    expect(entries[0]!.state ?? []).not.toContain('PERMANENT');
    // read again, now that the kernel's own entry is there: still the wanted entry missing (naming the unresolved
    // one), never a "stale VTEP MAC" with an observed lladdr of none
    const again = await runSuites(t, [SUITES.routes!], { workDir: r.state.workDir });
    const nb = again.results.find((x) => x.id === 'routes/neighbours')!;
    expect(nb.status).toBe('fail');
    expect(nb.diffs).toHaveLength(1);
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(nb.diffs![0]).toMatch(
      new RegExp(`^n1: missing neighbour ${esc(n2.vtep.ip)} lladdr ${esc(n2.vtep.mac)} \\(n2\\): only the kernel's unresolved entry is there \\(${esc(n2.vtep.ip)} lladdr - (INCOMPLETE|FAILED)\\), made when traffic asked for the address$`),
    );
  });
});
