// runtime kind (the stand-in kind) and builder: external on runtime docker, on a real Docker daemon. Needs root and
// dockerd (.ci/run and scripts/bootstrap.sh install and start it); in CI a skip here fails the run. Split from
// docker.test.ts so that vitest runs the two in parallel workers (helpers: test/helpers/docker.ts).
import { describe, expect, it } from 'vitest';
import { processesOf } from '../helpers/procs.ts';
import { execa } from 'execa';
import { statSync } from 'node:fs';
import { withStandin } from '../helpers/kind.ts';
import { vxNamespaces } from '../helpers/host.ts';
import { byId, test } from '../helpers/session.ts';
import { resolveFile, tempTopology, TOPO } from '../helpers/topo.ts';
import { up } from '../../harness/runtime/lifecycle.ts';
import { runSession } from '../../harness/runner/session.ts';
import { ipJson, run } from '../../harness/util/exec.ts';
import { isAlive } from '../../harness/runtime/state.ts';
import { setupTeardownHook, SETUP_WHAT } from '../../harness/overlay/external.ts';

import { AGENT, BIN, allPassOrSkip, containersOfRun, docker, dockerUp, networksOfRun } from '../helpers/docker.ts';

describe.skipIf(!dockerUp)('builder: external on runtime docker (root, dockerd)', () => {
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

describe.skipIf(!dockerUp)('runtime kind with the stand-in kind (root, dockerd)', () => {

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
