// External TAP checks, the remaining fault kinds, and the userspace VTEP's lifecycle through the CLI.
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { resolve } from 'node:path';
import { needsRoot } from '../helpers/root.ts';
import { test, byId } from '../helpers/session.ts';
import { TOPO, tempTopology, testRunId } from '../helpers/topo.ts';
import { vxNamespaces } from '../helpers/host.ts';
import { run } from '../../harness/util/exec.ts';

const BIN = resolve(import.meta.dirname, '../../bin/vxlab.js');
const SCRIPT = resolve(import.meta.dirname, '../fixtures/checks/pod-ping.sh');
const vx = (...a: string[]) => execa(process.execPath, [BIN, ...a], { reject: false });

import { readState } from '../../harness/runtime/state.ts';
import { isAlive } from '../../harness/runtime/state.ts';

/** the VTEP processes a run recorded in its state file */
function recorded(id: string) {
  return readState(id)?.processes ?? [];
}

describe.skipIf(needsRoot)('external checks, faults, userspace VTEP lifecycle (root)', () => {
  test('an external TAP script declared in the topology runs as a subtest', async ({ vxrun }) => {
    process.env.VXLAB_BIN = BIN;
    const f = tempTopology(`extends: ${TOPO('flannel-3node.yaml')}\nname: ext\nchecks:\n  - { name: pod-ping, command: [sh, ${SCRIPT}] }\n`);
    const r = await vxrun(f, { suites: ['routes'] });
    const ext = r.report.results.find((x) => x.id === 'external/pod-ping')!;
    expect(ext.status).toBe('pass');
    expect(ext.subtests!.map((s) => [s.status, s.title])).toEqual([
      ['pass', 'node1/pod1 reaches node3/pod1'],
      ['pass', 'an address outside every pod subnet is unreachable'],
    ]);
  });

  test('loss 100% on one node (nftables numgen) breaks exactly its pairs; tx-checksum off keeps traffic working', async ({ vxrun }) => {
    const f = tempTopology(`extends: ${TOPO('flannel-3node.yaml')}\nname: loss\nfaults:\n  - { kind: loss, node: node3, percent: 100 }\n  - { kind: tx-checksum, node: node1, link: flannel.1, offload: "off" }\n`);
    const r = await vxrun(f, { suites: ['connectivity'] });
    const cm = r.report.results.find((x) => x.id === 'connectivity/full-mesh')!;
    expect(cm.status).toBe('fail');
    expect(cm.diffs!.length).toBe(16); // 2 pods on node3 × 4 pods elsewhere × 2 directions
    expect(cm.diffs!.every((d) => d.includes('node3/'))).toBe(true);
  });

  test('link-down on the VTEP and delete-neigh are caught by routes/connectivity', async ({ vxrun }) => {
    const f = tempTopology(`extends: ${TOPO('flannel-3node.yaml')}\nname: ldown\nfaults:\n  - { kind: delete-neigh, node: node2, peer: node1 }\n  - { kind: link-down, node: node3, link: flannel.1 }\n`);
    const r = await vxrun(f, { suites: ['routes', 'connectivity'] });
    const ids = byId(r);
    expect(ids['routes/neighbours']).toBe('fail');
    expect(ids['routes/vxlan-device']).toBe('fail');
    const dev = r.report.results.find((x) => x.id === 'routes/vxlan-device')!;
    expect(dev.diffs).toContain('node3: flannel.1 state: expected "up", observed "down"');
    expect(ids['connectivity/full-mesh']).toBe('fail');
  });

  it('userspace VTEP: up starts it, vtep stats shows counters and FDB, down stops it', async () => {
    const id = testRunId();
    const f = TOPO('userspace-3node.yaml');
    expect((await vx('up', f, '--run-id', id)).exitCode).toBe(0);
    const procs = recorded(id);
    try {
      expect(procs).toHaveLength(3);
      expect(procs.every((p) => isAlive(p.pid, p.startTime))).toBe(true);
      expect((await vx('exec', f, 'node1/pod1', '--run-id', id, '--', 'ping', '-c', '3', '-i', '0.05', '-W', '2', '10.244.2.2')).exitCode).toBe(0);
      const s = await vx('vtep', 'stats', f, 'node1', '--run-id', id, '--json');
      expect(s.exitCode).toBe(0);
      const j = JSON.parse(s.stdout);
      expect(j.dev).toBe('flannel.1');
      expect(j.counters.txPackets).toBeGreaterThanOrEqual(3);
      expect(j.counters.rxPackets).toBeGreaterThanOrEqual(3);
      expect(j.fdb.filter((e: any) => e.static).map((e: any) => e.dst).sort()).toEqual(['192.168.1.3', '192.168.1.4']);
      const human = await vx('vtep', 'stats', f, 'node2', '--run-id', id);
      expect(human.stdout).toMatch(/wrongVni/);
    } finally {
      expect((await vx('down', f, '--run-id', id)).exitCode).toBe(0);
    }
    expect(procs.filter((p) => isAlive(p.pid, p.startTime))).toEqual([]);
    expect(vxNamespaces(`vx-${id}-`)).toEqual([]);
  });

  it('SIGKILL of `vxlab run` takes its userspace VTEPs with it; cleanup reaps the namespaces', async () => {
    const id = testRunId();
    const child = execa(process.execPath, [BIN, 'run', TOPO('userspace-3node.yaml'), '--run-id', id], { reject: false });
    const deadline = Date.now() + 30_000;
    while (recorded(id).length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const procs = recorded(id);
    expect(procs).toHaveLength(3);
    child.kill('SIGKILL');
    await child;
    const gone = Date.now() + 5000;
    while (procs.some((p) => isAlive(p.pid, p.startTime)) && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
    expect(procs.filter((p) => isAlive(p.pid, p.startTime))).toEqual([]);
    expect((await vx('cleanup')).exitCode).toBe(0);
    expect(vxNamespaces(`vx-${id}-`)).toEqual([]);
  });
});

describe.skipIf(needsRoot)('vxlab run --keep (root)', () => {
  it('leaves a failed topology up, says how to get in and how to remove it, and writes artifacts', async () => {
    const id = testRunId();
    const f = tempTopology(`extends: ${TOPO('flannel-3node.yaml')}\nname: keep\nfaults:\n  - { kind: delete-route, node: node2, peer: node1 }\n`);
    const out = resolve(require('node:os').tmpdir(), `vxlab-keep-${id}`);
    const r = await vx('run', f, '--suite', 'routes', '--keep', '--run-id', id, '--out', out);
    try {
      expect(r.exitCode).toBe(1);
      expect(r.stdout).toMatch(new RegExp(`get in:  vxlab exec .* node1/pod1 --run-id ${id} -- bash`));
      expect(r.stdout).toMatch(new RegExp(`remove:  vxlab down .* --run-id ${id}`));
      expect(r.stdout).toMatch(/artifacts: .*keep-/);
      expect(vxNamespaces(`vx-${id}-`).length).toBe(10);
      const dumps = require('node:fs').readdirSync(resolve(out, `keep-${id}`, 'ns'));
      expect(dumps).toContain(`vx-${id}-keep-node2.json`);
      expect(require('node:fs').existsSync(resolve(out, 'report.xml'))).toBe(true);
      // a kept run is persistent: cleanup (without --all) leaves it alone
      await vx('cleanup');
      expect(vxNamespaces(`vx-${id}-`).length).toBe(10);
    } finally {
      expect((await vx('down', f, '--run-id', id)).exitCode).toBe(0);
    }
    expect(vxNamespaces(`vx-${id}-`)).toEqual([]);
  });
});
