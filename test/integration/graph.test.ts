// `vxlab graph`: the SVG it writes, opened in headless Chromium, holds every node and every tunnel (and no tunnel
// between VNIs); DOT and Mermaid name the same elements. With --run-id it draws the live state: a hand-broken FDB
// entry, route and MTU show up on exactly the tunnel and node they belong to.
import { describe, expect } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { needsRoot } from '../helpers/root.ts';
import { hasChromium, launch } from '../helpers/browser.ts';
import { resolveFile, tempTopology, test, testRunId, TOPO } from '../helpers/topo.ts';
import { run } from '../../harness/util/exec.ts';

const BIN = resolve(import.meta.dirname, '../../bin/vxlab.js');
const attrs = (els: any[], name: string) => els.map((e) => e.getAttribute(name) as string);

// four nodes on two routed segments, one userspace VTEP, one node on another VNI, a narrow router link, two faults
const MIXED = () =>
  tempTopology(`name: graph-mixed
underlay:
  segments:
    - { name: rack1, cidr: 192.168.10.0/24 }
    - { name: rack2, cidr: 192.168.20.0/24, routerMtu: 1400 }
nodes:
  - { name: node1, segment: rack1, pods: 2 }
  - { name: node2, segment: rack1, pods: 1, vtep: userspace }
  - { name: node3, segment: rack2, pods: [web, db] }
  - { name: node4, segment: rack2, pods: 1, overlay: { vni: 7 } }
faults:
  - { kind: delete-route, node: node1, peer: node3 }
  - { kind: drop-udp-port, node: node2, port: 4789 }
`);

describe.skipIf(!hasChromium)('vxlab graph SVG in headless Chromium', () => {
  test('every node and every tunnel is drawn; none across VNIs; faults where they act', async () => {
    const file = MIXED();
    const out = join(mkdtempSync(join(tmpdir(), 'vxlab-graph-')), 'g.svg');
    const r = await execa(process.execPath, [BIN, 'graph', file, '--out', out], { reject: false });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const t = resolveFile(file);
    const pairs: string[] = [];
    for (let i = 0; i < t.nodes.length; i++)
      for (let j = i + 1; j < t.nodes.length; j++) if (t.nodes[i]!.vtep.vni === t.nodes[j]!.vtep.vni) pairs.push(`tunnel-${t.nodes[i]!.name}-${t.nodes[j]!.name}`);
    expect(pairs).toEqual(['tunnel-node1-node2', 'tunnel-node1-node3', 'tunnel-node2-node3']);

    await using browser = await launch({ width: 1600, height: 1000 });
    const p = await browser.newPage();
    const requests: string[] = [];
    p.on('request', (q) => requests.push(q.url()));
    await p.goto(pathToFileURL(out).href);
    expect(requests).toEqual([pathToFileURL(out).href]);

    expect((await p.locator('g.vx-node').evaluateAll(attrs, 'id')).sort()).toEqual(t.nodes.map((n) => `node-${n.name}`).sort());
    expect((await p.locator('g.vx-tunnel').evaluateAll(attrs, 'id')).sort()).toEqual(pairs);
    for (const n of t.nodes) {
      const g = p.locator(`g#node-${n.name}`);
      const box = await g.boundingBox();
      expect(box && box.width > 50 && box.height > 30, n.name).toBe(true);
      const text = (await g.textContent())!.replace(/\s+/g, ' ');
      for (const want of [n.name, n.ip, n.vtep.dev, n.vtep.mac, `VNI ${n.vtep.vni}`, `UDP ${n.vtep.port}`, `MTU ${n.vtep.mtu}`, ...n.pods.map((q) => `${q.name} ${q.ip}`)]) expect(text, `${n.name}: ${want}`).toContain(want);
      expect(text).toContain(n.vtep.kind === 'userspace' ? 'userspace VTEP' : 'kernel vxlan');
    }
    for (const id of pairs) expect((await p.locator(`g#${id} path`).boundingBox())!.width, id).toBeGreaterThan(10);
    // segments with CIDR and MTU, the router's narrow link
    await expect(p.locator('g#segment-rack2').textContent()).resolves.toContain('192.168.20.0/24');
    await expect(p.locator('g#routerlink-rack2').getAttribute('class')).resolves.toContain('vx-narrow');
    await expect(p.locator('g#routerlink-rack2').textContent()).resolves.toContain('MTU 1400 (narrow < 1500)');
    // mixed kernel/userspace tunnels are marked; the fault on one peer sits on that tunnel, the node fault on the node
    await expect(p.locator('g#tunnel-node1-node2').getAttribute('class')).resolves.toContain('vx-mixed');
    await expect(p.locator('g#tunnel-node1-node3').getAttribute('class')).resolves.not.toContain('vx-mixed');
    // the tunnel's label refers to its numbered note below the picture, which names the fault
    const ref = (await p.locator('g#tunnel-node1-node3').textContent())!.match(/\[(\d+)\]/)![1];
    await expect(p.locator('g#a_note-tunnel-node1-node3').textContent()).resolves.toMatch(new RegExp(`\\[${ref}\\] tunnel node1 ↔ node3\\s*fault: node1: route to node3's pod subnet deleted`));
    await expect(p.locator('g#node-node2').textContent()).resolves.toContain('fault: nftables drops UDP port 4789');
    await expect(p.locator('g#notes').textContent()).resolves.toMatch(/2 VNIs \(1, 7\)/);

    // DOT and Mermaid name the same nodes and tunnels
    const dot = (await execa(process.execPath, [BIN, 'graph', file, '--format', 'dot'])).stdout;
    const mmd = (await execa(process.execPath, [BIN, 'graph', file, '--format', 'mermaid'])).stdout;
    for (const n of t.nodes) {
      expect(dot).toContain(`id="node-${n.name}"`);
      expect(mmd).toMatch(new RegExp(`n_${n.name}\\["<b>${n.name}</b>`));
    }
    for (const id of pairs) {
      expect(dot).toContain(`id="${id}"`);
      const [, a, b] = id.split('-');
      expect(mmd).toMatch(new RegExp(`n_${a} <-.->\\|.*\\| n_${b}`));
    }
    expect(mmd.split('\n').filter((l) => l.includes('<-.->')).length).toBe(pairs.length);
    const bad = await execa(process.execPath, [BIN, 'graph', file, '--format', 'png'], { reject: false });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toBe("vxlab: --format 'png': expected one of: svg, dot, mermaid");
  }, 300_000);
});

describe.skipIf(needsRoot || !hasChromium)('vxlab graph --run-id: the live state, differences marked (root)', () => {
  test('a hand-deleted FDB entry and route, and a shrunk MTU, land on their tunnel and node', async () => {
    const runId = testRunId();
    const file = TOPO('flannel-3node.yaml');
    const { up } = await import('../../harness/runtime/lifecycle.ts');
    const t = resolveFile(file, runId);
    const running = await up(t);
    try {
      const graph = async () => {
        const out = join(mkdtempSync(join(tmpdir(), 'vxlab-graph-')), 'live.svg');
        const r = await execa(process.execPath, [BIN, 'graph', file, '--run-id', runId, '--out', out], { reject: false });
        expect(r.stderr).toBe('');
        expect(r.exitCode).toBe(0);
        return out;
      };
      // healthy: nothing differs
      const clean = readFileSync(await graph(), 'utf8');
      expect(clean).not.toContain('vx-diff');
      expect(clean).toContain('live state');

      const [n1, n2, n3] = t.nodes;
      await run(['bridge', '-n', n1!.ns, 'fdb', 'del', n2!.vtep.mac, 'dev', n1!.vtep.dev, 'dst', n2!.ip, 'self']);
      await run(['ip', '-n', n3!.ns, 'route', 'del', n1!.podSubnet, 'dev', n3!.vtep.dev]);
      await run(['ip', '-n', n2!.ns, 'link', 'set', n2!.underlayIf, 'mtu', '1400']);
      const out = await graph();

      await using browser = await launch({ width: 1600, height: 1000 });
      const p = await browser.newPage();
      await p.goto(pathToFileURL(out).href);
      expect((await p.locator('g.vx-tunnel.vx-diff').evaluateAll(attrs, 'id')).sort()).toEqual(['tunnel-node1-node2', 'tunnel-node1-node3']);
      await expect(p.locator('g#a_note-tunnel-node1-node2').textContent()).resolves.toContain(`node1→node2: no FDB entry ${n2!.vtep.mac} dst ${n2!.ip}`);
      await expect(p.locator('g#a_note-tunnel-node1-node3').textContent()).resolves.toContain(`node3→node1: no route ${n1!.podSubnet}`);
      expect(await p.locator('[id^="a_note-tunnel-"]').count()).toBe(2);
      expect(await p.locator('g.vx-node.vx-diff').evaluateAll(attrs, 'id')).toEqual(['node-node2']);
      const node2 = (await p.locator('g#node-node2').textContent())!.replace(/\s+/g, ' ');
      expect(node2).toContain('eth0 MTU: expected 1500, observed 1400');
      expect(node2).toContain('MTU 1400'); // the picture shows what is, the difference says what should be
    } finally {
      await running.down();
    }
  }, 300_000);
});
