// Lab.graph / lab.graph / Lab.conformance: the library members `vxlab graph` and `vxlab conformance` are built on,
// on real topologies (the kernel, Debian's CNI plugins). The CLI's output must be exactly the library's.
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { needsRoot } from '../helpers/root.ts';
import { vxNamespaces } from '../helpers/host.ts';
import { testRunId, TOPO } from '../helpers/topo.ts';
import { run } from '../../harness/util/exec.ts';
import { statePath } from '../../harness/runtime/state.ts';
import { Lab, TopologyError, UsageError, type TopologySpec } from '../../harness/api/index.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/vxlab.js');
const SYS = '/usr/lib/cni';
const cli = (args: string[]) => execa(process.execPath, [BIN, ...args], { reject: false, cwd: ROOT, stripFinalNewline: false });

function gone(runId: string): void {
  expect(vxNamespaces(`vx-${runId}-`), `namespaces of ${runId}`).toEqual([]);
  expect(existsSync(statePath(runId)), `state file of ${runId}`).toBe(false);
}

describe('Lab.graph: a topology that is not up (no root)', () => {
  it('draws a file as `vxlab graph FILE` does (the same text), in each format', async () => {
    const file = TOPO('routed-2seg.yaml');
    const dot = await Lab.graph(file, { format: 'dot' });
    expect(dot).toMatch(/^graph "routed-2seg" \{/);
    for (const id of ['node-node1', 'node-node2', 'node-node3', 'router', 'tunnel-node1-node2']) expect(dot).toContain(`id="${id}"`);
    const r = await cli(['graph', file, '--format', 'dot']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(dot);
    const mermaid = await Lab.graph(file, { format: 'mermaid' });
    expect(mermaid).toMatch(/^(flowchart|graph) /m);
    expect(mermaid).toContain('node3');
    const svg = await Lab.graph(file);
    expect(svg).toContain('<svg');
    expect(svg).toContain('id="node&#45;node2"'); // Graphviz escapes '-' in ids
  });

  it('an object topology; bad input is a typed error before anything is drawn', async () => {
    const topo: TopologySpec = { name: 'gobj', nodes: [{ name: 'a', pods: 1 }, { name: 'b', pods: ['web'] }] };
    const dot = await Lab.graph(topo, { format: 'dot' });
    expect(dot).toContain('id="node-a"');
    expect(dot).toContain('web 10.244.2.2');
    await expect(Lab.graph(topo, { format: 'png' as 'svg' })).rejects.toThrow(UsageError);
    await expect(Lab.graph(topo, { format: 'png' as 'svg' })).rejects.toThrow("format 'png': expected one of: svg, dot, mermaid");
    const bad = await Lab.graph({ name: 'gbad', nodes: [{ name: 'a', pods: -1 }] } as unknown as TopologySpec).catch((e) => e);
    expect(bad).toBeInstanceOf(TopologyError);
    expect(bad.key).toBe('nodes[0].pods');
  });
});

describe.skipIf(needsRoot)('lab.graph: the live state (root)', () => {
  it('healthy: nothing differs; a hand-deleted FDB entry lands on its tunnel; `graph --run-id` prints the same', async () => {
    const runId = testRunId();
    const file = TOPO('flannel-3node.yaml');
    {
      await using lab = await Lab.up(file, { runId });
      const clean = await lab.graph({ format: 'dot' });
      expect(clean).toContain('live state');
      expect(clean).not.toContain('≠');
      const [n1, n2] = [lab.node('node1'), lab.node('node2')];
      await run(['bridge', '-n', n1.ns, 'fdb', 'del', n2.vtep.mac, 'dev', n1.vtep.device, 'dst', n2.ip, 'self']);
      const broken = await lab.graph({ format: 'dot' });
      expect(broken).toContain(`node1→node2: no FDB entry ${n2.vtep.mac} dst ${n2.ip}`);
      // the CLI attaches to the same run through Lab.attach and draws it with lab.graph
      const r = await cli(['graph', file, '--run-id', runId, '--format', 'dot']);
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe(broken);
      // failures of a report are marked where they act
      const report = await lab.test({ suites: ['routes'] });
      expect(report.results.find((x) => x.id === 'routes/fdb')!.status).toBe('fail');
      const marked = await lab.graph({ format: 'dot', results: report.results });
      expect(marked).toContain('vx-fail');
      await lab.down();
      await expect(lab.graph()).rejects.toThrow(/is not up: down\(\) was called/);
    }
    gone(runId);
  }, 300_000);
});

describe.skipIf(needsRoot)('Lab.conformance (root, Debian CNI plugins)', () => {
  it('bridge + host-local: every cni/* check and the suites pass; nothing is left behind', async () => {
    const runId = testRunId();
    const r = await Lab.conformance({ conflist: 'topologies/cni/bridge.conflist', binDirs: [SYS], runId, reporter: 'tap' });
    const failing = r.results.filter((x) => x.status === 'fail');
    expect(failing.map((x) => `${x.id}: ${x.message}`)).toEqual([]);
    expect(r).toMatchObject({ ok: true, exitCode: 0, interrupted: false, failed: 0, runId });
    expect(r.results.filter((x) => x.suite === 'cni').map((x) => x.status)).toEqual(Array(8).fill('pass'));
    expect(new Set(r.results.map((x) => x.suite))).toEqual(new Set(['cni', 'conformance', 'routes', 'encapsulation', 'mtu', 'connectivity']));
    expect(r.passed + r.failed + r.skipped).toBe(r.results.length);
    expect(r.output).toMatch(/^TAP version 14/);
    expect(r.output).toMatch(/^ok \d+ - cni\/version$/m);
    gone(runId);
  }, 300_000);

  it('a plugin that prints malformed JSON fails the owning checks (a result, not a throw)', async () => {
    const runId = testRunId();
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const conflist = join(mkdtempSync(join(tmpdir(), 'vxlab-apiconf-')), 'c.conflist');
    writeFileSync(conflist, JSON.stringify({ cniVersion: '1.0.0', name: 'vxb-json', plugins: [{ type: 'invalid-json' }] }));
    const r = await Lab.conformance({ conflist, binDirs: [join(ROOT, 'test/fixtures/cni/broken'), SYS], runId });
    expect(r.ok).toBe(false);
    expect(r.exitCode).toBe(1);
    const add = r.results.find((x) => x.id === 'cni/add-result-valid')!;
    expect(add.status).toBe('fail');
    expect(add.message).toMatch(/^plugin "invalid-json" \(plugins\[0\]\) ADD printed malformed JSON on stdout/);
    expect(r.results.find((x) => x.id === 'conformance/attach')!.status).toBe('fail');
    gone(runId);
  }, 300_000);

  it('bad input throws before the host changes', async () => {
    const runId = testRunId();
    await expect(Lab.conformance({ conflist: 'topologies/cni/bridge.conflist', binDirs: ['/nonexistent-vxlab-bin'], runId })).rejects.toThrow('--bin-dir /nonexistent-vxlab-bin: /nonexistent-vxlab-bin is not a directory');
    await expect(Lab.conformance({ conflist: 'topologies/cni/bridge.conflist', pluginTimeoutMs: 5, runId })).rejects.toThrow(UsageError);
    await expect(Lab.conformance({ conflist: 'topologies/cni/bridge.conflist', runId: 'BAD!' })).rejects.toThrow(/runId 'BAD!'/);
    gone(runId);
  });
});
