// up/down on the real kernel: live state matches the resolved topology, pods talk, nothing is left behind.
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { needsRoot } from '../helpers/root.ts';
import { rootSnapshot, vxNamespaces } from '../helpers/host.ts';
import { resolveFile, test, TOPO, testRunId } from '../helpers/topo.ts';
import { run, ipJson, bridgeJson } from '../../harness/util/exec.ts';
import { up } from '../../harness/runtime/lifecycle.ts';
import { readState, statePath } from '../../harness/runtime/state.ts';
import { namespaces } from '../../harness/topology/resolved.ts';

const BIN = resolve(import.meta.dirname, '../../bin/vxlab.js');

describe.skipIf(needsRoot)('netns lifecycle (root)', () => {
  test('flannel-3node: live links, routes, neighbours and FDB match the resolved topology; pods ping', async ({ bringUp }) => {
    const r = await bringUp(TOPO('flannel-3node.yaml'));
    const t = r.topology;
    for (const n of t.nodes) {
      const [link] = await ipJson(n.ns, ['-d', 'link', 'show', 'dev', 'flannel.1']);
      expect(link.linkinfo.info_kind).toBe('vxlan');
      expect(link.linkinfo.info_data).toMatchObject({ id: 1, port: 4789, local: n.ip, learning: false, link: 'eth0' });
      expect(link.address).toBe(n.vtep.mac);
      expect(link.mtu).toBe(1450);
      const routes = await ipJson<any[]>(n.ns, ['route', 'show', 'dev', 'flannel.1']);
      const neigh = await ipJson<any[]>(n.ns, ['neigh', 'show', 'dev', 'flannel.1']);
      const fdb = (await bridgeJson<any[]>(n.ns, ['fdb', 'show', 'dev', 'flannel.1'])).filter((f) => f.dst);
      const others = t.nodes.filter((o) => o !== n);
      expect(routes.map((x) => [x.dst, x.gateway, x.flags]).sort()).toEqual(others.map((o) => [o.podSubnet, o.vtep.ip, ['onlink']]).sort());
      expect(neigh.map((x) => [x.dst, x.lladdr, x.state]).sort()).toEqual(others.map((o) => [o.vtep.ip, o.vtep.mac, ['PERMANENT']]).sort());
      expect(fdb.map((x) => [x.mac, x.dst, x.state]).sort()).toEqual(others.map((o) => [o.vtep.mac, o.ip, 'permanent']).sort());
    }
    const p11 = t.nodes[0]!.pods[0]!;
    const p12 = t.nodes[0]!.pods[1]!;
    const p31 = t.nodes[2]!.pods[0]!;
    expect((await run(['ping', '-c', '1', '-W', '2', p31.ip], { ns: p11.ns, reject: false })).exitCode).toBe(0);
    expect((await run(['ping', '-c', '1', '-W', '2', p12.ip], { ns: p11.ns, reject: false })).exitCode).toBe(0);
  });

  test('routed two-segment underlay: nodes on different subnets reach each other through the router', async ({ bringUp }) => {
    const r = await bringUp(TOPO('routed-2seg.yaml'));
    const t = r.topology;
    const [n1, , n3] = t.nodes;
    const routes = await ipJson<any[]>(n1!.ns, ['route', 'show', 'default']);
    expect(routes[0]).toMatchObject({ gateway: '192.168.10.1', dev: 'eth0' });
    expect((await run(['ping', '-c', '1', '-W', '2', n3!.pods[1]!.ip], { ns: n1!.pods[0]!.ns, reject: false })).exitCode).toBe(0);
    expect((await run(['ping', '-c', '1', '-W', '2', n3!.ip], { ns: n1!.ns, reject: false })).exitCode).toBe(0);
  });

  it('down removes exactly what up created, and the root namespace is unchanged', async () => {
    const before = await rootSnapshot();
    const nsBefore = vxNamespaces();
    const t = resolveFile(TOPO('routed-2seg.yaml'));
    const r = await up(t);
    expect(existsSync(statePath(t.runId))).toBe(true);
    expect(readState(t.runId)!.namespaces.sort()).toEqual(namespaces(t).sort());
    // exactly this run's namespaces appeared under its prefix (other runs may come and go concurrently)
    const mine = (n: string) => n.startsWith(`vx-${t.runId}`) || namespaces(t).includes(n);
    expect(vxNamespaces().filter(mine).sort()).toEqual(namespaces(t).sort());
    // another run's namespace (a sentinel this test owns) must survive; the test judges only its own names, so other
    // runs (concurrent test files, the soak) may come and go meanwhile
    const sentinel = `vx-${testRunId()}s`;
    await run(['ip', 'netns', 'add', sentinel]);
    try {
      await r.down();
      const after = vxNamespaces();
      expect(after.filter(mine)).toEqual([]);
      expect(after).toContain(sentinel);
      expect(nsBefore.filter((n) => namespaces(t).includes(n))).toEqual([]);
    } finally {
      await run(['ip', 'netns', 'del', sentinel], { reject: false });
    }
    expect(existsSync(statePath(t.runId))).toBe(false);
    expect(await rootSnapshot()).toEqual(before);
  });

  it('two topologies, and one topology under two run ids, are up at once without colliding', async () => {
    const a = await up(resolveFile(TOPO('flannel-3node.yaml')));
    const b = await up(resolveFile(TOPO('flannel-3node.yaml')));
    const c = await up(resolveFile(TOPO('routed-2seg.yaml')));
    try {
      for (const r of [a, b, c]) {
        const p = r.topology.nodes[0]!.pods[0]!;
        const q = r.topology.nodes[2]!.pods[0]!;
        expect((await run(['ping', '-c', '1', '-W', '2', q.ip], { ns: p.ns, reject: false })).exitCode).toBe(0);
      }
    } finally {
      await a.down();
      await b.down();
      await c.down();
    }
    expect(vxNamespaces(a.topology.prefix)).toEqual([]);
    expect(vxNamespaces(b.topology.prefix)).toEqual([]);
  });

  it('CLI: up, status --json, exec (exit code passes through), down', async () => {
    const id = testRunId();
    const f = TOPO('flannel-3node.yaml');
    const vx = (...a: string[]) => execa(process.execPath, [BIN, ...a], { reject: false });
    expect((await vx('up', f, '--run-id', id)).exitCode).toBe(0);
    try {
      const st = await vx('status', f, '--run-id', id, '--json');
      expect(st.exitCode).toBe(0);
      const j = JSON.parse(st.stdout);
      expect(j.nodes).toHaveLength(3);
      expect(j.nodes[0]).toMatchObject({ namespace: `vx-${id}-flannel-3node-node1`, present: true, vtep: { device: 'flannel.1', address: '10.244.1.0' } });
      expect(j.nodes[0].interfaces).toEqual(['eth0', 'flannel.1', 'cni0', 'v-pod1', 'v-pod2']);
      expect(j.nodes[0].pods[1]).toMatchObject({ name: 'pod2', addresses: ['10.244.1.3/24'] });
      expect((await vx('exec', f, 'node1/pod1', '--run-id', id, '--', 'ping', '-c1', '-W2', '10.244.3.2')).exitCode).toBe(0);
      expect((await vx('exec', f, 'node2', '--run-id', id, '--', 'sh', '-c', 'exit 7')).exitCode).toBe(7);
      expect((await vx('up', f, '--run-id', id)).exitCode).toBe(4);
    } finally {
      expect((await vx('down', f, '--run-id', id)).exitCode).toBe(0);
    }
    expect(vxNamespaces(`vx-${id}-`)).toEqual([]);
  });

  it('SIGKILL during up, then cleanup, leaves nothing behind', async () => {
    const before = await rootSnapshot();
    const id = testRunId();
    const f = TOPO('flannel-3node.yaml');
    const child = execa(process.execPath, [BIN, 'up', f, '--run-id', id], { reject: false });
    // kill it once it has recorded its state and started creating namespaces
    const deadline = Date.now() + 15_000;
    while (!(existsSync(statePath(id)) && vxNamespaces(`vx-${id}-`).length) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    child.kill('SIGKILL');
    await child;
    expect(existsSync(statePath(id))).toBe(true);
    const c = await execa(process.execPath, [BIN, 'cleanup'], { reject: false });
    expect(c.exitCode).toBe(0);
    expect(c.stdout).toMatch(new RegExp(`removed \\d+ run\\(s\\) \\(.*${id}`));
    expect(vxNamespaces(`vx-${id}-`)).toEqual([]);
    expect(existsSync(statePath(id))).toBe(false);
    expect(await rootSnapshot()).toEqual(before);
  });

  it('SIGTERM during up rolls back what was created', async () => {
    const id = testRunId();
    const child = execa(process.execPath, [BIN, 'up', TOPO('flannel-3node.yaml'), '--run-id', id], { reject: false });
    const deadline = Date.now() + 15_000;
    while (!vxNamespaces(`vx-${id}-`).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    child.kill('SIGTERM');
    const r = await child;
    // the signal lands while up is still building (namespaces exist, stages pending): it must roll back
    expect(r.exitCode).toBe(130);
    expect(r.stderr).toMatch(/interrupted; rolled back/);
    expect(existsSync(statePath(id))).toBe(false);
    expect(vxNamespaces(`vx-${id}-`)).toEqual([]);
  });
});
