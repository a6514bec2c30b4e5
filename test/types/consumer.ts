// An example consumer of the public API, type-checked against dist/*.d.ts (never run: test/unit/api-types.test.ts).
// Every `@ts-expect-error` is a promise that something is NOT public or NOT accepted.
import { Lab, TopologyError, NotUpError, CommandError, type LabReport, type LabPod, type TopologySpec, type LabStatus, type LabRunResult, type LabValidation, type LabPlan, type LabCleanupResult, type LabGraphOptions, type LabConformanceResult, type StepOutcome, type StepSpec } from 'vxlab';
import { labTest, test } from 'vxlab/vitest';
import { expect } from 'vitest';
// @ts-expect-error internal: not exported from the entry point
import { normalize } from 'vxlab';
// @ts-expect-error internal modules are not reachable through "exports"
import { loadTopology } from 'vxlab/dist/harness/topology/load.js';
void normalize;
void loadTopology;

const topo: TopologySpec = { name: 'demo', nodes: [{ name: 'node1', pods: 2 }, { name: 'node2', pods: ['web'] }], faults: [] };

export async function example(): Promise<void> {
  await using lab = await Lab.up('topologies/flannel-3node.yaml', { runId: 'ab12' });
  await using lab2 = await Lab.up(topo, { runId: 'ab13', faults: false });
  const p: LabPod = lab.pod('node2/pod1');
  const ns: string = p.ns;
  const ips: string[] = p.ips;
  const r = await lab.exec('node1/pod1', ['ping', '-c1', p.ip]);
  const code: number = r.exitCode;
  const out: string = r.stdout + r.stderr;
  const report: LabReport = await lab.test({ suites: ['connectivity', 'mtu'] });
  const counts: number = report.passed + report.failed + report.skipped;
  const id: string = report.results[0]!.id;
  await lab.fault({ kind: 'delete-fdb', node: 'node1', peer: 'node2' });
  // @ts-expect-error unknown fault kind
  await lab.fault({ kind: 'unplug', node: 'node1' });
  // @ts-expect-error delete-fdb needs a peer
  await lab.fault({ kind: 'delete-fdb', node: 'node1' });
  const so: StepOutcome = await lab.step({ action: 'add-node', node: { name: 'node4', pods: 1 } });
  const stepOk: boolean = so.ok && so.results.every((x) => x.id.startsWith(`steps/${so.n}/`));
  await lab.step({ action: 'restart-node', node: 'node2', newMac: '02:aa:bb:cc:dd:02' });
  const conv: boolean | undefined = (await lab.step({ check: ['routes', 'connectivity'], within: '5s' })).converged;
  const spec: StepSpec = { action: 'remove-node', node: 'node4' };
  await lab.step(spec);
  // @ts-expect-error unknown step action
  await lab.step({ action: 'reboot', node: 'node1' });
  void [stepOk, conv];
  const st: LabStatus = lab.state;
  const names: string[] = lab.nodes.map((n) => n.name).concat(lab2.pods.map((x) => x.name), st.nodes.map((n) => n.namespace));
  // @ts-expect-error internals of a lab are private
  lab.t;
  await lab.down();
  void [ns, ips, code, out, counts, id, names];

  // the CLI's other commands, as library calls
  const run: LabRunResult = await Lab.run('topologies/flannel-3node.yaml', { suites: ['mtu'], reporter: 'tap', keep: true, signal: AbortSignal.timeout(60_000) });
  const verdicts: boolean[] = (run.verdicts ?? []).map((v) => v.holds);
  const rc: number = run.exitCode;
  const text: string = run.output;
  const rep: LabRunResult = await Lab.run(topo, { expect: true, runId: 'ab14', outDir: 'out' });
  const v: LabValidation = await Lab.validate(topo);
  const pl: LabPlan = Lab.plan('topologies/flannel-3node.yaml', { runId: 'ab15' });
  const removed: boolean = await Lab.down(rep.runId);
  const c: LabCleanupResult = await Lab.cleanup();
  const reaped: string[] = c.removed;
  // @ts-expect-error run() takes no up-only options
  await Lab.run(topo, { persistent: true });
  void [verdicts, rc, text, v.nodes + v.pods, pl.stages.length, removed, reaped, run.interrupted, run.kept];

  // vxlab graph / vxlab conformance
  const go: LabGraphOptions = { format: 'mermaid', results: report.results };
  const svg: string = await Lab.graph('topologies/flannel-3node.yaml');
  const mer: string = await Lab.graph(topo, go);
  // @ts-expect-error not a graph format
  await Lab.graph(topo, { format: 'png' });
  await using live = await Lab.attach('topologies/flannel-3node.yaml', { runId: 'ab12' });
  const dot: string = await live.graph({ format: 'dot' });
  const conf: LabConformanceResult = await Lab.conformance({ conflist: 'bridge.conflist', binDirs: ['/opt/cni/bin'], reporter: 'tap', pluginTimeoutMs: 5000, signal: AbortSignal.timeout(60_000) });
  const confFailed: string[] = conf.results.filter((x) => x.status === 'fail').map((x) => x.id);
  // @ts-expect-error conformance needs a conflist
  await Lab.conformance({ topology: 'topologies/flannel-3node.yaml' });
  void [svg, mer, dot, conf.exitCode, conf.ok, conf.output, confFailed];

  try {
    await Lab.up({ name: 'x', nodes: [] });
  } catch (e) {
    if (e instanceof TopologyError) {
      const where: string = `${e.file ?? '(object)'}:${e.line ?? 0}:${e.column ?? 0} ${e.key}`;
      void where;
    } else if (e instanceof NotUpError) {
      const c: 'VXLAB_NOT_UP' = e.code;
      void c;
    } else if (e instanceof CommandError) {
      const parts: [string[], string | undefined, number | undefined, string] = [e.argv, e.namespace, e.exitCode, e.stderr];
      void parts;
    }
  }
}

labTest(topo)('a consumer test', async ({ lab }) => {
  await expect(lab).toReach('node1/pod1', 'node2/web');
  expect(await lab.test()).toPass();
});

test.override({ topology: 'topologies/flannel-3node.yaml' });
test('with override', async ({ lab, labOptions }) => {
  void labOptions.runId;
  await expect(lab).not.toReach('node1/pod1', '10.9.9.9', { attempts: 1 });
});
