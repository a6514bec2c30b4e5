// The topology picture as data (pure): tunnels per VNI, port mismatches, faults where they act, narrow links, the
// hub for large meshes, live-state marking and failure locations. The rendered SVG is tested in a browser
// (test/integration/graph.test.ts).
import { describe, expect, it } from 'vitest';
import { join, relative, resolve } from 'node:path';
import { readdirSync } from 'node:fs';
import { renderGraph } from '../../harness/graph/index.ts';
import { buildGraph, findTunnel } from '../../harness/graph/model.ts';
import { toDot } from '../../harness/graph/dot.ts';
import { toMermaid } from '../../harness/graph/mermaid.ts';
import { markLive, type LiveSnapshot } from '../../harness/graph/live.ts';
import { locateFailures, markFailures } from '../../harness/graph/locate.ts';
import { heatmap } from '../../harness/report/html.ts';
import type { ResolvedTopology } from '../../harness/topology/resolved.ts';
import type { CheckResult } from '../../harness/report/types.ts';
import { resolveFile, tempTopology, TOPO } from '../helpers/topo.ts';

const BUG = (f: string) => resolve(import.meta.dirname, '../../topologies/bugs', f);

/** What a healthy live system shows for `t`, in the snapshot's shape. */
function healthy(t: ResolvedTopology): LiveSnapshot {
  const snap: LiveSnapshot = { segments: Object.fromEntries(t.segments.map((s) => [s.name, true])), router: t.routed ? true : undefined, nodes: {}, pods: {} };
  for (const n of t.nodes) {
    const others = t.nodes.filter((o) => o !== n);
    snap.nodes[n.name] = {
      present: true,
      eth0: { mtu: n.underlayMtu, up: true, addrs: [`${n.ip}/${n.prefixLen}`] },
      vtep: { kind: n.vtep.kind, mac: n.vtep.mac, mtu: n.vtep.mtu, vni: n.vtep.vni, port: n.vtep.port, local: n.ip, up: true },
      fdb: others.map((o) => ({ mac: o.vtep.mac, dst: o.ip })),
      // every pod family: a neighbour for each tunnel address, a route to each subnet (dual-stack shares the device)
      neigh: others.flatMap((o) => o.vteps.map((v) => ({ dst: v.ip, lladdr: o.vtep.mac }))),
      routes: others.flatMap((o) => o.vteps.map((v, i) => ({ dst: o.podSubnets[i] ?? o.podSubnet, gateway: v.ip, dev: n.vtep.dev }))),
      errors: [],
    };
    for (const p of n.pods) snap.pods[`${n.name}/${p.name}`] = { present: true, addrs: t.families.length > 1 ? p.addrs.map((a) => `${a.ip}/${a.prefixLen}`) : [`${p.ip}/${p.prefixLen}`, 'fd00::2/64'], mtu: p.mtu };
  }
  return snap;
}

describe('graph model', () => {
  it('one tunnel per pair of nodes sharing a VNI; none across VNIs', () => {
    const g = buildGraph(resolveFile(BUG('vni-mismatch.yaml')));
    expect(g.tunnels.map((t) => `${t.a}-${t.b}`)).toEqual(['node1-node2']);
    expect(g.vnis).toEqual([1, 2]);
    expect(g.notes[0]).toMatch(/2 VNIs \(1, 2\)/);
  });

  it('marks tunnels whose ends listen on different ports', () => {
    const g = buildGraph(resolveFile(BUG('port-mismatch.yaml')));
    expect(findTunnel(g, 'node1', 'node2')!.portMismatch).toBe('node1 on UDP 4789, node2 on UDP 8472');
    expect(findTunnel(g, 'node3', 'node2')!.portMismatch).toBe('node2 on UDP 8472, node3 on UDP 4789');
    expect(findTunnel(g, 'node1', 'node3')!.portMismatch).toBeUndefined();
  });

  it('places a per-peer fault on its tunnel, a node fault on its node; mixed VTEP kinds are visible', () => {
    const g = buildGraph(resolveFile(BUG('missing-fdb-entry.yaml')));
    expect(findTunnel(g, 'node2', 'node1')!.faults).toEqual(['node1: FDB entry for node2 deleted']);
    expect(g.nodes.every((n) => !n.faults.length)).toBe(true);
    const fw = buildGraph(resolveFile(BUG('firewall-drops-vxlan.yaml')));
    expect(fw.nodes.filter((n) => n.faults.length).map((n) => [n.name, n.faults[0]])).toEqual([['node3', 'node3: nftables drops UDP port 4789 (both)']]);
    const mixed = buildGraph(resolveFile(TOPO('mixed-kernel-userspace.yaml')));
    expect(mixed.tunnels.filter((t) => t.mixed).map((t) => `${t.a}-${t.b}`)).toEqual(['node1-node2', 'node2-node3']);
  });

  it('a router link narrower than its segment is narrow', () => {
    const g = buildGraph(resolveFile(BUG('narrow-middle-link.yaml')));
    expect(g.routed).toBe(true);
    expect(g.segments.filter((s) => s.narrow).length).toBeGreaterThan(0);
    expect(toDot(g)).toMatch(/class="vx-routerlink vx-narrow"/);
  });
});

describe('DOT and Mermaid', () => {
  it('name every node and tunnel with stable ids', () => {
    const t = resolveFile(TOPO('flannel-3node.yaml'));
    const g = buildGraph(t);
    const dot = toDot(g);
    const mmd = toMermaid(g);
    for (const n of t.nodes) {
      expect(dot).toContain(`id="node-${n.name}"`);
      expect(mmd).toContain(`n_${n.name}["<b>${n.name}</b>`);
    }
    for (const tu of g.tunnels) expect(dot).toContain(`id="tunnel-${tu.a}-${tu.b}"`);
    expect(mmd.match(/<-\.->/g)).toHaveLength(3);
    expect(mmd.match(/^ {2}linkStyle \d+ /gm)).toHaveLength(3);
  });

  it('escapes labels', () => {
    const f = tempTopology('name: esc\nnodes:\n  - { name: a, pods: [x] }\n  - { name: b, pods: 1 }\nfaults:\n  - { kind: drop-icmp-frag-needed, node: a }\n');
    const g = buildGraph(resolveFile(f));
    expect(toMermaid(g)).toContain('#quot;fragmentation needed#quot;');
    expect(toDot(g)).toContain('&quot;fragmentation needed&quot;');
    expect(toMermaid(g)).not.toMatch(/[^#]"fragmentation/);
  });

  it('large VNI groups become a hub plus the tunnels that have something to show', () => {
    const nodes = Array.from({ length: 20 }, (_, i) => `  - { name: n${i + 1}, pods: 1 }`).join('\n');
    const t = resolveFile(tempTopology(`name: big\nnodes:\n${nodes}\nfaults:\n  - { kind: delete-fdb, node: n3, peer: n7 }\n`));
    const g = buildGraph(t);
    expect(g.tunnels).toHaveLength(190);
    const dot = toDot(g);
    expect(dot).toContain('full mesh: 190 tunnels');
    expect(dot.match(/class="vx-tunnel/g)).toHaveLength(1);
    expect(dot).toContain('id="tunnel-n3-n7"');
    expect(toDot(g, { meshLimit: 50 }).match(/class="vx-tunnel/g)).toHaveLength(190);
  });
});

describe('live state (markLive)', () => {
  it('a healthy system differs in nothing; pods show every address family', () => {
    const t = resolveFile(TOPO('routed-2seg.yaml'));
    const g = markLive(buildGraph(t), t, healthy(t));
    expect(g.live).toBe(true);
    expect([...g.nodes.flatMap((n) => [...n.diffs, ...n.pods.flatMap((p) => p.diffs)]), ...g.tunnels.flatMap((x) => x.diffs), ...g.segments.flatMap((s) => s.diffs)]).toEqual([]);
    expect(g.nodes[0]!.pods[0]!.ips).toEqual([t.nodes[0]!.pods[0]!.ip, 'fd00::2']);
  });

  it('missing and stale entries land on the tunnel of that direction; device differences on the node', () => {
    const t = resolveFile(TOPO('flannel-3node.yaml'));
    const [n1, n2, n3] = t.nodes;
    const s = healthy(t);
    s.nodes.node1!.fdb = s.nodes.node1!.fdb.filter((f) => f.mac !== n2!.vtep.mac);
    s.nodes.node3!.neigh = s.nodes.node3!.neigh.map((x) => (x.dst === n1!.vtep.ip ? { ...x, lladdr: '02:00:00:00:00:99' } : x));
    s.nodes.node2!.routes = s.nodes.node2!.routes.map((r) => (r.dst === n3!.podSubnet ? { ...r, gateway: '10.9.9.9' } : r));
    s.nodes.node2!.vtep!.port = 8472;
    s.nodes.node3!.eth0!.mtu = 1400;
    s.pods['node1/pod2'] = { present: false, addrs: [] };
    const g = markLive(buildGraph(t), t, s);
    expect(findTunnel(g, 'node1', 'node2')!.diffs).toEqual([`node1→node2: no FDB entry ${n2!.vtep.mac} dst ${n2!.ip}`]);
    expect(findTunnel(g, 'node1', 'node3')!.diffs).toEqual([`node3→node1: neighbour ${n1!.vtep.ip} lladdr 02:00:00:00:00:99, expected ${n1!.vtep.mac}`]);
    expect(findTunnel(g, 'node2', 'node3')!.diffs).toEqual([`node2→node3: route ${n3!.podSubnet} via 10.9.9.9, expected via ${n3!.vtep.ip}`]);
    const node = (n: string) => g.nodes.find((x) => x.name === n)!;
    expect(node('node2').diffs).toEqual(['flannel.1 port: expected 4789, observed 8472']);
    expect(node('node2').vtep.port).toBe(8472);
    expect(node('node3').diffs).toEqual([
      'eth0 MTU: expected 1500, observed 1400',
      'neighbour 10.244.1.0 lladdr 02:00:00:00:00:99 belongs to no node (stale)',
    ]);
    expect(node('node1').pods[1]!.diffs).toEqual(['namespace gone']);
  });

  it('dual-stack: both families drawn (tunnel addresses, subnets, pod addresses); a missing IPv6 entry lands on its tunnel', () => {
    const t = resolveFile(TOPO('dual-stack-userspace.yaml'));
    const [n1] = t.nodes;
    const g0 = buildGraph(t);
    const gn2 = g0.nodes.find((n) => n.name === 'node2')!;
    expect(gn2.vtepIps).toEqual(['10.244.2.0/32', 'fd00:10:244:2::/128']);
    expect(gn2.podSubnets).toEqual(['10.244.2.0/24', 'fd00:10:244:2::/64']);
    expect(gn2.pods[0]!.ips).toEqual(['10.244.2.2', 'fd00:10:244:2::2']);
    for (const out of [toDot(g0), toMermaid(g0)]) expect(out).toContain('10.244.2.0/32 fd00:10:244:2::/128 · pods 10.244.2.0/24 fd00:10:244:2::/64');
    expect(markLive(buildGraph(t), t, healthy(t)).tunnels.flatMap((x) => x.diffs)).toEqual([]);
    const s = healthy(t);
    const v6 = (n: typeof n1) => n!.vteps.find((v) => v.family === 6)!;
    s.nodes.node2!.neigh = s.nodes.node2!.neigh.filter((x) => x.dst !== v6(n1).ip);
    s.nodes.node3!.routes = s.nodes.node3!.routes.filter((r) => r.dst !== 'fd00:10:244:2::/64');
    s.pods['node1/pod1']!.addrs = s.pods['node1/pod1']!.addrs.filter((a) => !a.includes(':'));
    const g = markLive(buildGraph(t), t, s);
    expect(findTunnel(g, 'node1', 'node2')!.diffs).toEqual([`node2→node1: no neighbour ${v6(n1).ip}`]);
    expect(findTunnel(g, 'node2', 'node3')!.diffs).toEqual(['node3→node2: no route fd00:10:244:2::/64']);
    expect(g.nodes[0]!.pods[0]!.diffs).toEqual([`eth0: expected ${n1!.pods[0]!.addrs[1]!.ip}/64, observed ${n1!.pods[0]!.ip}/24`]);
  });

  it('after a vtep-mac-change the expected state follows the new MAC: the peers’ old entries are stale', () => {
    const t = resolveFile(BUG('stale-vtep-mac.yaml'));
    const f = t.faults.find((x) => x.kind === 'vtep-mac-change')! as { node: string; mac: string };
    const s = healthy(t); // the peers still point at the old MAC, the node itself has the new one
    s.nodes[f.node]!.vtep!.mac = f.mac;
    const g = markLive(buildGraph(t), t, s);
    const changed = g.nodes.find((n) => n.name === f.node)!;
    expect(changed.diffs).toEqual([]);
    const peers = g.nodes.filter((n) => n.name !== f.node);
    for (const p of peers) expect(p.diffs.some((d) => /FDB entry .* belongs to no node \(stale\)/.test(d))).toBe(true);
    for (const p of peers) expect(findTunnel(g, p.name, f.node)!.diffs.some((d) => d.startsWith(`${p.name}→${f.node}: no FDB entry ${f.mac.toLowerCase()}`))).toBe(true);
  });
});

describe('failure locations (locateFailures)', () => {
  const t = resolveFile(TOPO('flannel-3node.yaml'));
  const [n1, n2, n3] = t.nodes;
  const fail = (id: string, lines: string[], message = lines[0]!): CheckResult => ({ id, suite: id.split('/')[0]!, title: id, status: 'fail', message, diffs: lines, durationMs: 0 });

  it('subject and peer of a line highlight their tunnel; addresses and MACs identify the peer', () => {
    const g = buildGraph(t);
    const loc = locateFailures(t, g, [
      fail('routes/fdb', [`node1: missing FDB entry ${n2!.vtep.mac} dst ${n2!.ip}`]),
      fail('connectivity/full-mesh', [`node3/pod1 (${n3!.pods[0]!.ip}) -> node1/pod2 (${n1!.pods[1]!.ip}): expected reachable, observed unreachable`]),
      { id: 'routes/neighbours', suite: 'routes', title: '', status: 'pass', durationMs: 0, diffs: ['node2: ignored, passing'] },
    ]);
    expect([...loc.tunnels.keys()].sort()).toEqual(['node1~node2', 'node1~node3']);
    expect([...loc.nodes.keys()].sort()).toEqual(['node1', 'node2', 'node3']);
    expect([...loc.pods.keys()].sort()).toEqual(['node1/pod2', 'node3/pod1']);
    markFailures(g, loc);
    expect(findTunnel(g, 'node1', 'node2')!.failed).toEqual(['routes/fdb']);
    expect(findTunnel(g, 'node2', 'node3')!.failed).toBeUndefined();
    expect(toDot(g).match(/class="vx-node vx-fail"/g)).toHaveLength(3);
  });

  it('a node name is a whole word: node1 does not match node10, an IP not a longer one', () => {
    const ten = resolveFile(tempTopology(`name: ten\nnodes:\n${Array.from({ length: 11 }, (_, i) => `  - { name: node${i + 1}, pods: 0 }`).join('\n')}\n`));
    const g = buildGraph(ten);
    const loc = locateFailures(ten, g, [fail('encapsulation/udp-dst-port', ['node10 -> node11: expected UDP dst port 4789, observed 8472'])]);
    expect([...loc.tunnels.keys()]).toEqual(['node10~node11']);
    expect([...loc.nodes.keys()].sort()).toEqual(['node10', 'node11']);
  });

  it('a message without a node names nothing', () => {
    expect(locateFailures(t, buildGraph(t), [fail('mtu/x', ['3 of 12 pairs wrong'])]).nodes.size).toBe(0);
  });
});

describe('heat map', () => {
  it('marks exactly the judged cells that differ, only in the actual grid', () => {
    const m = { pods: ['a/p', 'b/p', 'c/p'], ips: ['1', '2', '3'], expected: ['011', '101', '110'], actual: ['001', '101', '100'], judged: ['011', '101', '110'] };
    const h = heatmap('connectivity/full-mesh', m);
    expect(h.wrong).toBe(2);
    expect(h.html.match(/class="wrong"/g)).toHaveLength(2);
    expect(h.html).toContain('title="a/p → b/p: expected reachable, observed unreachable"');
    expect(heatmap('x', { ...m, judged: ['000', '000', '000'] }).wrong).toBe(0);
  });

  it('large matrices keep tooltips only on wrong cells', () => {
    const n = 50;
    const row = (i: number, flip = false) => Array.from({ length: n }, (_, j) => (i === j ? '0' : flip && j === 0 ? '0' : '1')).join('');
    const m = { pods: Array.from({ length: n }, (_, i) => `n${i}/p`), ips: Array.from({ length: n }, (_, i) => `10.0.0.${i}`), expected: Array.from({ length: n }, (_, i) => row(i)), actual: Array.from({ length: n }, (_, i) => row(i, i === 3)), judged: Array.from({ length: n }, (_, i) => row(i)) };
    const h = heatmap('connectivity/full-mesh', m);
    expect(h.wrong).toBe(1);
    expect(h.html.match(/<td[^>]*title=/g)).toHaveLength(1);
    expect(h.html.length).toBeLessThan(200_000);
  });
});

describe('expected | observed alignment', () => {
  it('pairs common lines and leaves a blank opposite a line only one side has', async () => {
    const { alignLines } = await import('../../harness/report/html.ts');
    const rows = alignLines(['{', '  "a": [', '    "x",', '    "y"', '  ]', '}'], ['{', '  "a": [', '    "y"', '  ]', '}']);
    expect(rows.filter((r) => !r.same)).toEqual([{ l: '    "x",', same: false }]);
    expect(rows).toHaveLength(6);
    expect(alignLines(['a', 'b'], ['a', 'c'])).toEqual([{ l: 'a', r: 'a', same: true }, { l: 'b', r: 'c', same: false }]);
    expect(alignLines(['  "x",', '  "y"'], ['  "x"'])).toEqual([{ l: '  "x",', r: '  "x"', same: true }, { l: '  "y"', same: false }]);
  });
});

describe('every shipped topology draws', () => {
  const dir = resolve(import.meta.dirname, '../../topologies');
  const files = [...readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => join(dir, f)), ...readdirSync(join(dir, 'bugs')).filter((f) => f.endsWith('.yaml')).map((f) => join(dir, 'bugs', f))];
  it.each(files.map((f) => [relative(dir, f), f]))('%s: SVG with every node and tunnel, Mermaid with every node', async (_name, f) => {
    const t = resolveFile(f);
    const g = buildGraph(t);
    const svg = (await renderGraph(g, 'svg')).replace(/&#45;/g, '-'); // Graphviz writes '-' as an entity
    expect(svg).toMatch(/^(<!--[^]*?-->\s*)*<svg [^]*<\/svg>\s*$/);
    for (const n of t.nodes) expect(svg).toContain(`id="node-${n.name}"`);
    for (const tu of g.tunnels) expect(svg).toContain(`id="tunnel-${tu.a}-${tu.b}"`);
    const mmd = await renderGraph(g, 'mermaid');
    for (const n of t.nodes) expect(mmd).toContain(`n_${n.name.replace(/-/g, '_')}[`);
  });
});

describe('HTML report (without a browser)', () => {
  it('is self-contained: a CSP that forbids fetches, no external references, failures open', async () => {
    const { toHtml } = await import('../../harness/report/html.ts');
    const { sampleReport } = await import('./report-sample.ts');
    const report = { ...sampleReport(), resolved: resolveFile(BUG('missing-fdb-entry.yaml')) };
    const html = await toHtml(report);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">`);
    expect(html).not.toMatch(/<(script|img|iframe)[^>]+src=|<link |@import|url\(/i);
    // the only absolute URLs are XML namespace names and the SVG DOCTYPE-free Graphviz credits
    const urls = [...html.matchAll(/https?:\/\/[^\s"'<>)]+/g)].map((m) => m[0]);
    expect(urls.every((u) => /^http:\/\/www\.w3\.org\/(2000\/svg|1999\/xlink)$/.test(u)), urls.join(' ')).toBe(true);
    expect(html).toMatch(/<tbody class="check fail" id="check-routes-remote-subnets"[^]*?<details open>/);
    expect(html).toContain('id="node&#45;node1"'); // Graphviz writes '-' as an entity
  });
});
