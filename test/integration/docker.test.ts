// runtime docker and runtime kind on a real Docker daemon: every suite on container nodes, the CNI path, a node
// killed from outside, SIGKILL + cleanup, and the root namespace before up and after down. Needs root and dockerd
// (.ci/run and scripts/bootstrap.sh install and start it); in CI a skip here fails the run.
import { describe, expect, it } from 'vitest';
import { processesOf } from '../helpers/procs.ts';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { needsRoot } from '../helpers/root.ts';
import { withStandin } from '../helpers/kind.ts';
import { rootSnapshot, vxNamespaces } from '../helpers/host.ts';
import { byId, failed, test } from '../helpers/session.ts';
import { resolveFile, tempTopology, testRunId, TOPO } from '../helpers/topo.ts';
import { up } from '../../harness/runtime/lifecycle.ts';
import { readState, statePath } from '../../harness/runtime/state.ts';
import { runSession } from '../../harness/runner/session.ts';
import { ipJson, run } from '../../harness/util/exec.ts';
import { ensureNodeImage } from '../../harness/runtime/docker/image.ts';
import { isAlive } from '../../harness/runtime/state.ts';
import { setupTeardownHook, SETUP_WHAT } from '../../harness/overlay/external.ts';

const BIN = resolve(import.meta.dirname, '../../bin/vxlab.js');
const AGENT = resolve(import.meta.dirname, '../fixtures/agents/flannel-agent.mjs');

// a bound, not a target: the two docker files run side by side, and a whole run of container nodes with a setup
// agent took 94–120 s there at load average 20–27 on 2 cores (vitest's default here is 120 s)
const SLOW = 240_000;
const dockerUp = !needsRoot && (await execa('docker', ['info'], { reject: false }).catch(() => ({ exitCode: 1 }))).exitCode === 0;
if (!dockerUp && process.env.CI === 'true') throw new Error('docker integration tests must run in CI: dockerd is not answering (.ci/run starts it)');

async function docker(...args: string[]): Promise<string> {
  return (await execa('docker', args)).stdout.trim();
}
const containersOfRun = (id: string) => docker('ps', '-aq', '--filter', `label=vxlab.run=${id}`);
const networksOfRun = (id: string) => docker('network', 'ls', '-q', '--filter', `label=vxlab.run=${id}`);

function allPassOrSkip(r: Awaited<ReturnType<typeof runSession>>) {
  expect(failed(r)).toEqual([]);
  const ids = byId(r);
  for (const must of ['routes/fdb', 'encapsulation/outer-addresses', 'mtu/df-boundary', 'mtu/tcp-transfer', 'connectivity/full-mesh']) expect(ids[must], must).toBe('pass');
}

describe.skipIf(!dockerUp)('runtime docker (root, dockerd)', { timeout: SLOW }, () => {
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

describe.skipIf(!dockerUp)('builder: external on runtime docker (root, dockerd)', { timeout: SLOW }, () => {
  const result = (r: Awaited<ReturnType<typeof runSession>>, id: string) => r.report.results.find((x) => x.id === id)!;

  test('docker-external-agent: the agent runs in every container node\'s namespace, every suite passes, nothing is left', async ({ vxrun }) => {
    const r = await vxrun(TOPO('docker-external-agent.yaml'));
    allPassOrSkip(r);
    const ids = byId(r);
    for (const id of ['routes/vxlan-device', 'routes/remote-subnets', 'routes/neighbours', 'encapsulation/inner-addresses', 'setup/daemons']) expect(ids[id], id).toBe('pass');
    // identities were read from the containers: the kernel-chosen MACs the agent announced, the Docker-side node IPs
    for (const n of r.topology.nodes) {
      expect(n.container).toBe(`vx-${r.report.runId}-docker-ext-agent-${n.name}`);
      expect(n.vtep.observed).toMatchObject({ device: 'flannel.1', present: true, vni: 1, local: n.ip, learning: false, problems: [] });
      expect(n.vtep.mac).toBe(n.vtep.observed!.mac);
    }
    expect(r.topology.nodes.map((n) => n.ip)).toEqual(['192.168.41.2', '192.168.41.3', '192.168.41.4']);
    expect(await containersOfRun(r.report.runId)).toBe('');
    expect(await networksOfRun(r.report.runId)).toBe('');
    expect(processesOf(r.report.runId)).toEqual([]);
  });

  test('a forgotten peer on container nodes: route, neighbour and FDB checks name node1 and node3', async ({ vxrun }) => {
    const f = tempTopology(`extends: ${TOPO('docker-external-agent.yaml')}
name: docker-ext-forget
overlay:
  setup:
    - command: [node, ${AGENT}, --mistake, forget-peer, --target, node1]
      daemon: true
      ready: { command: [node, ${AGENT}, --check-ready], timeoutSec: 30 }
`);
    const r = await vxrun(f, { suites: ['routes', 'connectivity'] });
    const n3 = r.topology.nodes[2]!;
    // a container node has no default route (vxlab removes Docker's), so the route lookup from a pod fails outright too
    const rs = result(r, 'routes/remote-subnets').diffs!;
    expect(rs[0]).toBe(`node1: missing route ${n3.podSubnet} via ${n3.podSubnet.split('/')[0]} dev flannel.1 onlink for node3`);
    expect(rs.slice(1).every((d) => d.startsWith(`node1: traffic to node3's subnet ${n3.podSubnet} `) && d.includes('expected via 10.244.3.0 dev flannel.1'))).toBe(true);
    expect(result(r, 'routes/neighbours').diffs).toEqual([`node1: missing neighbour ${n3.podSubnet.split('/')[0]} lladdr ${n3.vtep.mac} (node3)`]);
    expect(result(r, 'routes/fdb').diffs).toEqual([`node1: missing FDB entry ${n3.vtep.mac} dst 192.168.41.4 (node3): frames to it are dropped (no default entry)`]);
    expect(result(r, 'routes/vxlan-device').status).toBe('pass');
    expect(result(r, 'connectivity/full-mesh').status).toBe('fail');
    expect(result(r, 'connectivity/full-mesh').diffs!.every((d) => /node1\/pod\d .* -> node3|node3\/pod\d .* -> node1/.test(d))).toBe(true);
    expect(await containersOfRun(r.report.runId)).toBe('');
    expect(processesOf(r.report.runId)).toEqual([]);
  });

  it('teardown stops the setup daemons and leaves the containers\' own processes to the runtime', async () => {
    const t = resolveFile(TOPO('docker-external-agent.yaml'));
    const r = await up(t);
    try {
      const daemons = r.state.processes.filter((p) => p.what.startsWith(SETUP_WHAT));
      expect(daemons).toHaveLength(3);
      for (const d of daemons) expect(isAlive(d.pid, d.startTime), d.what).toBe(true);
      const inits = await Promise.all(t.nodes.map((n) => docker('inspect', '-f', '{{.State.Pid}}', n.container!)));
      await setupTeardownHook(r.state);
      // the daemons are this test process's children here: dead once reaped
      for (const d of daemons) await expect.poll(() => isAlive(d.pid, d.startTime), { timeout: 10_000, message: d.what }).toBe(false);
      await expect.poll(() => processesOf(t.runId), { timeout: 10_000 }).toEqual([]);
      // the containers' init processes share the nodes' network namespaces but are not vxlab's setup programs
      for (const [i, n] of t.nodes.entries()) {
        expect(await docker('inspect', '-f', '{{.State.Running}} {{.State.Pid}}', n.container!), n.container).toBe(`true ${inits[i]}`);
      }
    } finally {
      await r.down();
    }
    expect(await containersOfRun(t.runId)).toBe('');
    expect(await networksOfRun(t.runId)).toBe('');
    expect(vxNamespaces(`vx-${t.runId}-`)).toEqual([]);
  });
});

describe.skipIf(!dockerUp)('runtime kind with the stand-in kind (root, dockerd)', { timeout: SLOW }, () => {

  it('kind-3node: nodes are kind node containers; IPs and MACs are read from Docker; down deletes the cluster', async () => {
    await withStandin(async () => {
      const t = resolveFile(TOPO('kind-3node.yaml'));
      const defaults = t.nodes.map((n) => n.ip);
      const r = await up(t);
      try {
        const cluster = `vx-${t.runId}-kind-3node`;
        expect(await docker('ps', '--filter', `label=io.x-k8s.kind.cluster=${cluster}`, '--format', '{{.Names}} {{.Label "io.x-k8s.kind.role"}}').then((s) => s.split('\n').sort())).toEqual(
          [`${cluster}-control-plane control-plane`, `${cluster}-worker worker`, `${cluster}-worker2 worker`],
        );
        for (const n of t.nodes) {
          const info = JSON.parse(await docker('inspect', n.container!))[0];
          const ep = info.NetworkSettings.Networks[cluster];
          expect(n.ip).toBe(ep.IPAddress);
          expect(n.underlayMac).toBe(ep.MacAddress);
          expect(statSync(`/var/run/netns/${n.ns}`).ino).toBe(statSync(`/proc/${info.State.Pid}/ns/net`).ino);
        }
        // the stand-in creates nodes in reverse order, as kind creates them in no fixed order: Docker's addresses
        // are not the file's defaults, and the overlay was built with Docker's
        expect(t.nodes.map((n) => n.ip)).not.toEqual(defaults);
        const [vx] = await ipJson(t.nodes[0]!.ns, ['-d', 'link', 'show', 'dev', 'flannel.1']);
        expect(vx.linkinfo.info_data.local).toBe(t.nodes[0]!.ip);
        expect((await run(['ping', '-c', '1', '-W', '2', t.nodes[2]!.pods[1]!.ip], { ns: t.nodes[0]!.pods[0]!.ns, reject: false })).exitCode).toBe(0);
      } finally {
        await r.down();
      }
      expect((await execa('kind', ['get', 'clusters'])).stdout).not.toMatch(t.runId);
      expect(await networksOfRun(t.runId)).toBe('');
      expect(vxNamespaces(`vx-${t.runId}-`)).toEqual([]);
    });
  });

  test('kind-3node through every suite', async ({ vxrun }) => {
    await withStandin(async () => allPassOrSkip(await vxrun(TOPO('kind-3node.yaml'))));
  });

  it('vxlab plan prints the kind config it would use', async () => {
    const p = await execa(process.execPath, [BIN, 'plan', TOPO('kind-3node.yaml'), '--run-id', 'kplan'], { reject: false });
    expect(p.exitCode).toBe(0);
    expect(p.stdout).toMatch(/#\s+disableDefaultCNI: true/);
    expect(p.stdout).toMatch(/#\s+podSubnet: 10\.246\.0\.0\/16/);
    expect(p.stdout).toMatch(/#\s+- role: control-plane\n#\s+- role: worker\n#\s+- role: worker/);
  });

  test('builder: external on kind nodes: the agent programs every node container, every suite passes', async ({ vxrun }) => {
    const f = tempTopology(`extends: ${TOPO('kind-3node.yaml')}
name: kind-ext
overlay:
  builder: external
  setup:
    - command: [node, ${AGENT}]
      daemon: true
      ready: { command: [node, ${AGENT}, --check-ready], timeoutSec: 30 }
`);
    const r = await withStandin(() => vxrun(f));
    allPassOrSkip(r);
    expect(byId(r)['setup/daemons']).toBe('pass');
    for (const n of r.topology.nodes) expect(n.vtep.observed).toMatchObject({ device: 'flannel.1', present: true, local: n.ip, problems: [] });
    expect(await docker('ps', '-aq', '--filter', `label=io.x-k8s.kind.cluster=vx-${r.report.runId}-kind-ext`)).toBe('');
    expect(processesOf(r.report.runId)).toEqual([]);
  });
});
