// Suites at scale (#16): a 70-node topology (above BIG_NODES, so the big-topology paths run: one address per remote
// subnet asked, neighbours looked up one by one, per-node lists only for nodes that differ, DF pairs spread) with one FDB entry and one route deleted
// by hand on two nodes, and a neighbour given another MAC.  The owning checks must still fail and name node, peer and value; the connectivity matrix
// (4,830 directed pairs, measured in full) must name the two broken pairs and nothing else. Then an FDB entry pointed at
// the wrong node by hand: the encapsulation suite (one capture per segment above BIG_NODES) names node, peer and value.
import { describe, expect } from 'vitest';
import { join } from 'node:path';
import { needsRoot } from '../helpers/root.ts';
import { test, tempTopology } from '../helpers/topo.ts';
import { runSuites } from '../../harness/runner/runner.ts';
import { SUITES } from '../../suites/index.ts';
import { run } from '../../harness/util/exec.ts';
import { BIG_NODES } from '../../harness/runner/sample.ts';

const N = 70;
export function scaleYaml(n: number, name = `scale-${n}`): string {
  const nodes = Array.from({ length: n }, (_, i) => `  - { name: n${i + 1}, pods: 1 }`).join('\n');
  return `name: ${name}\nunderlay:\n  mtu: 1500\n  segments:\n    - { name: rack1, cidr: 192.168.0.0/16 }\noverlay:\n  layout: flannel\n  vtep: kernel\n  vni: 1\n  port: 4789\n  podCidr: 10.64.0.0/10\n  nodeCidrSize: 24\nnodes:\n${nodes}\n`;
}
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe.skipIf(needsRoot)(`suites at scale: ${N} nodes, hand-broken entries are still caught and named`, () => {
  test('a deleted FDB entry, a deleted route and a stale neighbour, on two nodes of 70', { timeout: 900_000 }, async ({ bringUp }) => {
    expect(N).toBeGreaterThan(BIG_NODES);
    const r = await bringUp(tempTopology(scaleYaml(N, 'scale70')));
    const t = r.topology;
    const node = (name: string) => t.nodes.find((x) => x.name === name)!;
    const [a, b, c, d] = [node('n7'), node('n40'), node('n20'), node('n55')];
    await run(['bridge', 'fdb', 'del', b.vtep.mac, 'dev', a.vtep.dev, 'dst', b.ip, 'self'], { ns: a.ns });
    await run(['ip', 'route', 'del', d.podSubnet, 'dev', c.vtep.dev], { ns: c.ns });
    // and n20's neighbour for n55's VTEP address given another MAC (above BIG_NODES the neighbours are looked up one by
    // one, not dumped): the pair is already cut by the missing route, so the matrix below is unchanged
    const wrongMac = '02:00:00:00:be:ef';
    await run(['ip', 'neigh', 'replace', d.vtep.ip, 'lladdr', wrongMac, 'dev', c.vtep.dev, 'nud', 'permanent'], { ns: c.ns });
    const suites = [SUITES.routes!, SUITES.connectivity!];
    // the routes suite's reads shared with a worker thread (what a big topology does when two cores are idle)…
    process.env.VXLAB_READ_THREADS = '2';
    const { results } = await runSuites(t, suites, { workDir: join(r.state.workDir) }).finally(() => delete process.env.VXLAB_READ_THREADS);
    const by = Object.fromEntries(results.map((x) => [x.id, x]));
    const said = (id: string) => [by[id]!.message ?? '', ...(by[id]!.diffs ?? [])];

    // routes/fdb: exactly the one missing entry, by node, peer and value
    expect(by['routes/fdb']!.status).toBe('fail');
    expect(by['routes/fdb']!.diffs).toEqual([`n7: missing FDB entry ${b.vtep.mac} dst ${b.ip} (n40): frames to it are dropped (no default entry)`]);
    // the big-topology report keeps the lists of the node that differs only
    expect(Object.keys(by['routes/fdb']!.expected as object)).toEqual(['n7']);

    // routes/remote-subnets: the missing route, and the kernel's decision for n55's subnet on n20
    expect(by['routes/remote-subnets']!.status).toBe('fail');
    expect(said('routes/remote-subnets')).toContain(`n20: missing route ${d.podSubnet} via ${d.vtep.ip} dev flannel.1 onlink for n55`);
    expect(said('routes/remote-subnets').some((s) => new RegExp(`^n20: traffic to n55's subnet ${esc(d.podSubnet)} \\(${esc(d.pods[0]!.ip)}\\) from n20/pod1 .*: expected via ${esc(d.vtep.ip)} dev flannel\\.1, observed`).test(s))).toBe(true);
    // above BIG_NODES: one routing question per remote subnet (69), lists kept for the node that differs only
    expect(Object.keys(by['routes/remote-subnets']!.expected as object)).toEqual(['n20']);
    expect((by['routes/remote-subnets']!.observed as any).n20.routeGet).toHaveLength(N - 1);
    // routes/neighbours: exactly the one stale entry, by node, peer and value (the lookup path, above NEIGH_DUMP_NODES)
    expect(by['routes/neighbours']!.status).toBe('fail');
    expect(by['routes/neighbours']!.diffs).toHaveLength(1);
    expect(by['routes/neighbours']!.diffs![0]).toMatch(new RegExp(`^n20: stale neighbour ${esc(d.vtep.ip)}: expected lladdr ${esc(d.vtep.mac)} \\(n55\\), observed ${esc(wrongMac)}`));
    expect(Object.keys(by['routes/neighbours']!.expected as object)).toEqual(['n20']);
    // …and all on this thread: the same verdicts, the same lines
    process.env.VXLAB_READ_THREADS = '1';
    const one = await runSuites(t, [SUITES.routes!], { workDir: join(r.state.workDir) }).finally(() => delete process.env.VXLAB_READ_THREADS);
    for (const x of one.results) expect({ id: x.id, status: x.status, diffs: x.diffs }).toEqual({ id: x.id, status: by[x.id]!.status, diffs: by[x.id]!.diffs });
    // nothing else in routes is wrong
    for (const id of ['routes/vxlan-device', 'routes/pod-attachment', 'routes/node-sysctls']) expect(by[id]!.status, `${id}: ${by[id]!.message}`).toBe('pass');

    // connectivity: every one of the 4,830 directed pairs measured; exactly the broken pairs wrong (both directions:
    // the replies need the deleted entries too), named
    const fm = by['connectivity/full-mesh']!;
    expect(fm.status).toBe('fail');
    expect(fm.message).toMatch(/^4 of 4830 directed pairs wrong/);
    expect(fm.message).toMatch(/full matrix: all 4830 directed pod pairs/);
    const cell = (x: typeof a, y: typeof a) => `${x.name}/pod1 (${x.pods[0]!.ip}) -> ${y.name}/pod1 (${y.pods[0]!.ip})`;
    expect(fm.diffs!.map((x) => x.split(': ')[0]).sort()).toEqual([cell(a, b), cell(b, a), cell(c, d), cell(d, c)].sort());
    expect(fm.details).toMatch(/cause per directed node pair:[\s\S]*n20\/pod1 -> n55\/pod1: no route on n20/);
    expect(fm.details).toMatch(new RegExp(`n7/pod1 -> n40/pod1: no FDB entry on n7 for ${esc(b.vtep.mac)}`));

    // encapsulation above BIG_NODES: one capture per segment on every node port, each packet attributed to its node.
    // n30's FDB entry for n31's VTEP MAC pointed at n40's underlay IP by hand (a stale entry after a node's address
    // changed): n30's traffic to n31 leaves with the wrong outer destination; outer-addresses names node, peer and value
    const [e, f, g] = [node('n30'), node('n31'), node('n40')];
    await run(['bridge', 'fdb', 'replace', f.vtep.mac, 'dev', e.vtep.dev, 'dst', g.ip, 'self', 'permanent'], { ns: e.ns });
    const enc = await runSuites(t, [SUITES.encapsulation!], { workDir: join(r.state.workDir) });
    const eb = Object.fromEntries(enc.results.map((x) => [x.id, x]));
    const oa = eb['encapsulation/outer-addresses']!;
    expect(oa.status).toBe('fail');
    expect(oa.diffs).toContainEqual(expect.stringContaining(`n30 -> n31: inner ${e.pods[0]!.ip} -> ${f.pods[0]!.ip}: expected outer ${e.ip} -> ${f.ip}, observed IPv4 ${e.ip} -> ${g.ip}`));
    // the capture mode is stated whatever the verdict: in the message of a pass, in the details of a failure (the
    // wrong outer destination also leaves n31 without a UDP packet from n30, so udp-dst-port may name that pair)
    const ud = eb['encapsulation/udp-dst-port']!;
    expect(ud.status === 'pass' ? ud.message : ud.details).toMatch(/every node captured: one capture per underlay segment on every node port \(1 segment\)/);
    // every other ring pair (2 per node) was seen; whatever fails names n30's pair to n31 and nothing else
    // — or the same packets as the receiver sees them: by their outer addresses they are n30 -> n40 traffic carrying
    // n31's inner MAC and destination (inner-addresses judges what arrives where)
    const misdelivered = `^outer to n40 carries inner destination ${esc(f.pods[0]!.ip)} of n31/pod1|^n30 -> n40: inner IPv4 destination MAC: expected ${esc(g.vtep.mac)} \\(flannel\\.1 of n40\\), observed ${esc(f.vtep.mac)}`;
    for (const x of enc.results.filter((y) => y.status === 'fail')) for (const d of x.diffs ?? [x.message ?? '']) expect(d, x.id).toMatch(new RegExp(`^n30(:| -> n31)|${misdelivered}`));
    for (const id of ['encapsulation/vxlan-header', 'encapsulation/vni', 'encapsulation/inner-addresses']) expect(eb[id]!.message, id).toMatch(new RegExp(`n30 -> n31|on ${2 * N} directed node pairs`));
  });
});
