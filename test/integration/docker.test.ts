// runtime docker and runtime kind on a real Docker daemon: every suite on container nodes, the CNI path, a node
// killed from outside, SIGKILL + cleanup, and the root namespace before up and after down. Needs root and dockerd
// (.ci/run and scripts/bootstrap.sh install and start it); in CI a skip here fails the run.
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootSnapshot, vxNamespaces } from '../helpers/host.ts';
import { byId, failed, test } from '../helpers/session.ts';
import { resolveFile, tempTopology, testRunId, TOPO } from '../helpers/topo.ts';
import { up } from '../../harness/runtime/lifecycle.ts';
import { readState, statePath } from '../../harness/runtime/state.ts';
import { runSession } from '../../harness/runner/session.ts';
import { ipJson } from '../../harness/util/exec.ts';
import { ensureNodeImage } from '../../harness/runtime/docker/image.ts';

import { BIN, allPassOrSkip, containersOfRun, docker, dockerUp, networksOfRun } from '../helpers/docker.ts';

describe.skipIf(!dockerUp)('runtime docker (root, dockerd)', () => {
  it('docker-3node: nodes are labelled containers whose network namespaces are bound under vxlab names', async () => {
    const t = resolveFile(TOPO('docker-3node.yaml'));
    const r = await up(t);
    try {
      const image = await ensureNodeImage();
      expect(image).toMatch(/^vxlab-node:[0-9a-f]{12}$/);
      for (const n of t.nodes) {
        const info = JSON.parse(await docker('inspect', n.container!))[0];
        expect(info.Name).toBe(`/vx-${t.runId}-docker-3node-${n.name}`);
        expect(info.Config.Labels).toMatchObject({ 'vxlab.run': t.runId, 'vxlab.topology': 'docker-3node', 'vxlab.node': n.name });
        expect(info.Config.Image).toBe(image);
        // the namespace vxlab configures is the container's own: same inode
        expect(statSync(`/var/run/netns/${n.ns}`).ino).toBe(statSync(`/proc/${info.State.Pid}/ns/net`).ino);
        // and the container has mount/UTS namespaces of its own
        expect(statSync(`/proc/${info.State.Pid}/ns/mnt`).ino).not.toBe(statSync('/proc/self/ns/mnt').ino);
        expect((await docker('exec', n.container!, 'hostname'))).toBe(n.name);
        const [eth0] = await ipJson(n.ns, ['-d', 'link', 'show', 'dev', 'eth0']);
        expect(eth0).toMatchObject({ address: n.underlayMac, mtu: 1500 });
        expect(await ipJson(n.ns, ['route', 'show', 'default'])).toEqual([]);
        expect(readState(t.runId)!.discovered![n.name]!.containerId).toBe(info.Id);
      }
      const net = JSON.parse(await docker('network', 'inspect', t.segments[0]!.network!.name))[0];
      expect(net).toMatchObject({ Internal: true, IPAM: { Config: [{ Subnet: '192.168.31.0/24', Gateway: '192.168.31.254' }] } });
      expect(net.Options).toMatchObject({ 'com.docker.network.bridge.enable_ip_masquerade': 'false', 'com.docker.network.driver.mtu': '1500' });
    } finally {
      await r.down();
    }
    expect(await containersOfRun(t.runId)).toBe('');
    expect(await networksOfRun(t.runId)).toBe('');
    expect(vxNamespaces(`vx-${t.runId}-`)).toEqual([]);
  });

  test('docker-3node through every suite', async ({ vxrun }) => {
    allPassOrSkip(await vxrun(TOPO('docker-3node.yaml')));
  });

  test('docker-routed-mixed (two Docker networks, a router container, calico, one userspace VTEP) through every suite', async ({ vxrun }) => {
    const r = await vxrun(TOPO('docker-routed-mixed.yaml'));
    allPassOrSkip(r);
    expect(r.topology.nodes.map((n) => n.vtep.kind)).toEqual(['kernel', 'userspace', 'kernel']);
  });

  test('runtime docker with a CNI conflist (overlay.cni: bridge + host-local) through every suite', async ({ vxrun }) => {
    const f = tempTopology(
      `name: docker-cni\nruntime: docker\nunderlay: { segments: [{ name: rack1, cidr: 192.168.32.0/24 }] }\n` +
        `overlay: { layout: flannel, podCidr: 10.244.0.0/16, cni: { conflist: ${TOPO('cni/bridge.conflist')} } }\n` +
        `nodes: [{ name: node1, pods: 2 }, { name: node2, pods: 2 }, { name: node3, pods: 1 }]\n`,
    );
    const r = await vxrun(f);
    allPassOrSkip(r);
  });

  it('after down the root namespace (links, addresses, routes, nft ruleset) is exactly as before up', async () => {
    const t = resolveFile(TOPO('docker-routed-mixed.yaml'));
    // another docker test file may have its own run's Docker networks up meanwhile: those are left out
    const before = await rootSnapshot({ onlyRun: t.runId });
    const r = await up(t);
    try {
      // while up, Docker's bridges are in the root namespace, named after the run
      const during = (await ipJson<any[]>(undefined, ['link', 'show', 'type', 'bridge'])).map((l) => l.ifname);
      expect(during).toEqual(expect.arrayContaining([`vx-${t.runId}-s0`, `vx-${t.runId}-s1`]));
    } finally {
      await r.down();
    }
    expect(await rootSnapshot({ onlyRun: t.runId })).toEqual(before);
  });

  it('a node container killed from outside mid-run: the failure names the node, teardown still completes', async () => {
    const id = testRunId();
    const session = runSession({ file: TOPO('docker-3node.yaml'), runId: id, reporter: 'json', quiet: true, outDir: mkdtempSync(join(tmpdir(), 'vxlab-art-')) });
    const deadline = Date.now() + 60_000;
    while (readState(id)?.status !== 'up' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(readState(id)?.status).toBe('up');
    await docker('kill', `vx-${id}-docker-3node-node2`);
    const r = await session;
    expect(r.exitCode).toBe(1);
    const fails = failed(r);
    expect(fails.length).toBeGreaterThan(0);
    expect(fails.join('\n')).toMatch(/node2/);
    expect(await containersOfRun(id)).toBe('');
    expect(await networksOfRun(id)).toBe('');
    expect(vxNamespaces(`vx-${id}-`)).toEqual([]);
    expect(existsSync(statePath(id))).toBe(false);
  });

  it('SIGKILL of vxlab run, then vxlab cleanup: no container, network or namespace of that run is left', async () => {
    // a private state dir: this cleanup sees only this run
    const env = { VXLAB_STATE_DIR: mkdtempSync(join(tmpdir(), 'vxlab-state-')) };
    const id = testRunId();
    const child = execa(process.execPath, [BIN, 'run', TOPO('docker-3node.yaml'), '--run-id', id, '--reporter', 'tap'], { reject: false, env });
    const st = join(env.VXLAB_STATE_DIR, `${id}.json`);
    const deadline = Date.now() + 60_000;
    const status = () => (existsSync(st) ? JSON.parse(readFileSync(st, 'utf8')).status : undefined);
    while (status() !== 'up' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(status()).toBe('up');
    expect(await containersOfRun(id)).not.toBe('');
    child.kill('SIGKILL');
    await child;
    const c = await execa(process.execPath, [BIN, 'cleanup'], { reject: false, env });
    expect(c.stdout).toMatch(new RegExp(`removed 1 run\\(s\\) \\(${id}\\)`));
    expect(c.exitCode).toBe(0);
    expect(await containersOfRun(id)).toBe('');
    expect(await networksOfRun(id)).toBe('');
    expect(vxNamespaces(`vx-${id}-`)).toEqual([]);
    expect(existsSync(st)).toBe(false);
  });

  it('CLI: status --json shows container ids and images; exec runs in the netns or (--container) in the container', async () => {
    const id = testRunId();
    const f = TOPO('docker-3node.yaml');
    const vx = (...a: string[]) => execa(process.execPath, [BIN, ...a], { reject: false });
    expect((await vx('up', f, '--run-id', id)).exitCode).toBe(0);
    try {
      const j = JSON.parse((await vx('status', f, '--run-id', id, '--json')).stdout);
      expect(j.runtime).toBe('docker');
      const cid = await docker('inspect', '-f', '{{.Id}}', `vx-${id}-docker-3node-node1`);
      expect(j.nodes[0].container).toEqual({ name: `vx-${id}-docker-3node-node1`, id: cid, image: await ensureNodeImage() });
      expect((await vx('exec', f, 'node1/pod1', '--run-id', id, '--', 'ping', '-c1', '-W2', '10.244.3.2')).exitCode).toBe(0);
      const h = await vx('exec', f, 'node3', '--run-id', id, '--container', '--', 'hostname');
      expect(h.stdout.trim()).toBe('node3');
      expect((await vx('exec', f, 'node3', '--run-id', id, '--container', '--', 'sh', '-c', 'exit 5')).exitCode).toBe(5);
    } finally {
      expect((await vx('down', f, '--run-id', id)).exitCode).toBe(0);
    }
    expect(await containersOfRun(id)).toBe('');
  });

  it('faults on container nodes: underlay-mtu narrows the node link, drop-udp-port black-holes it (suites name the node)', async () => {
    const f = tempTopology(
      `extends: ${TOPO('docker-3node.yaml')}\nname: docker-faults\nfaults:\n  - { kind: underlay-mtu, node: node2, mtu: 1400 }\n  - { kind: drop-udp-port, node: node3, port: 4789 }\n`,
    );
    const id = testRunId();
    const r = await runSession({ file: f, runId: id, reporter: 'json', quiet: true, outDir: mkdtempSync(join(tmpdir(), 'vxlab-art-')) });
    const ids = byId(r);
    expect(ids['mtu/vtep-mtu']).toBe('fail');
    expect(ids['connectivity/full-mesh']).toBe('fail');
    const msgs = failed(r).join('\n');
    expect(msgs).toMatch(/node2.*1400|1400.*node2/s);
    expect(msgs).toMatch(/node3/);
    expect(await containersOfRun(id)).toBe('');
  });
});
