// vxlab conformance: run a CNI plugin chain through the cni/* spec checks and the four network suites
// on a live VXLAN overlay whose pods that chain attached.
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Command } from './main.ts';
import { EXIT, interruptSignal, pickRunId, UsageError } from './common.ts';
import { preflight } from './preflight.ts';
import { loadTopology, locateSemantic } from '../topology/load.ts';
import { normalize } from '../topology/normalize.ts';
import type { ResolvedTopology } from '../topology/resolved.ts';
import type { Conflist } from '../cni/runtime.ts';
import { runCniChecks } from '../cni/checks.ts';
import {
  attachCni,
  attachmentProblems,
  CniInputError,
  detachCni,
  layoutForConflist,
  nodeCniDir,
  nodeConflist,
  prepareCni,
  type PreparedCni,
} from '../overlay/cni-attach.ts';
import { teardown, up, type Running } from '../runtime/lifecycle.ts';
import { writeState, type RunState } from '../runtime/state.ts';
import { createNamespaces, deleteNamespaces } from '../runtime/netns/runtime.ts';
import { run } from '../util/exec.ts';
import type { CheckResult } from '../report/types.ts';
import { isReporterName, Progress, reporterNames, writeReports } from '../report/index.ts';
import { runSuites, writeArtifacts } from '../runner/runner.ts';
import { getSuites } from '../../suites/index.ts';

export const CONFORMANCE_TOPOLOGY = fileURLToPath(new URL('../../topologies/conformance-default.yaml', import.meta.url));
export const DEFAULT_BIN_DIRS = ['/usr/lib/cni', '/opt/cni/bin'];
/** given to the cni/* checks' ADDs when a plugin declares the portMappings capability */
export const CHECK_PORT_MAPPINGS = [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }];

export const CONFORMANCE_OPTIONS = {
  conflist: { type: 'string' },
  'bin-dir': { type: 'string', multiple: true },
  topology: { type: 'string' },
  reporter: { type: 'string' },
  out: { type: 'string' },
  'run-id': { type: 'string' },
  'plugin-timeout': { type: 'string' },
} as const;

export interface ConformanceInput {
  prep: PreparedCni;
  t: ResolvedTopology;
  reporter: string;
  outDir?: string;
  timeoutMs: number;
}

/** Everything is checked here, before the host changes: usage, reporter, bin dirs, conflist, plugins, topology. */
export async function resolveConformance(argv: string[]): Promise<ConformanceInput> {
  const { values } = parseArgs({ args: argv, allowPositionals: false, options: CONFORMANCE_OPTIONS });
  if (!values.conflist) throw new UsageError('conformance: expected --conflist FILE');
  const reporter = values.reporter ?? 'pretty';
  if (!isReporterName(reporter)) throw new UsageError(`--reporter ${reporter}: unknown reporter; expected one of: ${reporterNames.join(', ')}`);
  let timeoutMs = 10_000;
  if (values['plugin-timeout'] !== undefined) {
    timeoutMs = Number(values['plugin-timeout']);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 100) throw new UsageError(`--plugin-timeout ${values['plugin-timeout']}: expected milliseconds (an integer ≥ 100)`);
  }
  const binDirs = values['bin-dir']?.length ? values['bin-dir'].map((d) => resolve(d)) : DEFAULT_BIN_DIRS;
  if (values['bin-dir']?.length) {
    for (const [i, d] of binDirs.entries()) {
      let ok = false;
      try {
        ok = statSync(d).isDirectory();
      } catch {}
      if (!ok) throw new CniInputError(`--bin-dir ${values['bin-dir'][i]}: ${d} is not a directory`);
    }
  }
  const conflist = resolve(values.conflist);
  const prep = await prepareCni({ binDir: binDirs, conflist }, '--conflist');
  const file = values.topology ?? CONFORMANCE_TOPOLOGY;
  const runId = pickRunId(resolve(file), values['run-id'], true);
  const loaded = loadTopology(file);
  const topo = structuredClone(loaded.topology);
  topo.overlay = {
    ...topo.overlay,
    // without --topology the conflist decides; with it, the topology's own layout stands
    layout: values.topology ? topo.overlay?.layout : layoutForConflist(prep.list),
    cni: { binDir: binDirs, conflist },
  };
  let t: ResolvedTopology;
  try {
    t = normalize(topo, { runId, file: loaded.file });
  } catch (e) {
    throw locateSemantic(loaded, e);
  }
  return { prep, t, reporter, outDir: values.out, timeoutMs };
}

function capabilityArgsFor(list: Conflist): Record<string, unknown> | undefined {
  return list.plugins.some((p) => p.capabilities?.portMappings === true) ? { portMappings: CHECK_PORT_MAPPINGS } : undefined;
}

/**
 * Throwaway pod namespaces for the cni/* checks: named under the run's prefix and recorded in the
 * state file before they are created, so down/cleanup remove them whatever happens.
 */
export function podNsFactory(t: ResolvedTopology, state: RunState): { make(): Promise<string>; del(ns: string): Promise<void> } {
  let seq = 0;
  return {
    async make() {
      const ns = `${t.prefix}-${t.name}-cni${seq++}`;
      state.namespaces.push(ns);
      writeState(state);
      await createNamespaces([ns]);
      await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      return ns;
    },
    async del(ns) {
      const left = await deleteNamespaces([ns]);
      if (left.length) throw new Error(`could not remove namespace ${ns}`);
      state.namespaces = state.namespaces.filter((x) => x !== ns);
      writeState(state);
    },
  };
}

const result = (id: string, title: string, r: Partial<CheckResult> & Pick<CheckResult, 'status'>, durationMs: number): CheckResult => ({
  id,
  suite: 'conformance',
  title,
  durationMs,
  ...r,
});

export async function runConformance(inp: ConformanceInput, o: { quiet?: boolean; signal?: AbortSignal } = {}): Promise<{ results: CheckResult[]; artifactsDir?: string }> {
  const { prep, t, timeoutMs } = inp;
  const progress = new Progress({ stream: process.stderr, tty: o.quiet ? false : undefined });
  const say = (m: string) => (o.quiet ? undefined : progress.update(m));
  const results: CheckResult[] = [];
  let running: Running | undefined;
  let artifactsDir: string | undefined;
  try {
    say(`up ${t.name} (${t.layout} layout, overlay only)`);
    running = await up(t, { ephemeral: true, skipCniAttach: true, signal: o.signal, onStage: (s) => say(`up: ${s}`), cniTimeoutMs: timeoutMs });
    const state = running.state;
    const node = t.nodes[0]!;
    const dir = nodeCniDir(state.workDir, node.name);

    // 1. the cni/* spec checks, in the first node (same IPAM state as that node's pods)
    say(`cni/* checks in ${node.ns}`);
    const pods = podNsFactory(t, state);
    const cni = await runCniChecks({
      conflist: nodeConflist(prep, node, join(dir, 'ipam')),
      binDirs: prep.binDirs,
      nodeNs: node.ns,
      makePodNs: () => pods.make(),
      deletePodNs: (ns) => pods.del(ns),
      workDir: dir,
      timeoutMs,
      capabilityArgs: capabilityArgsFor(prep.list),
    });
    results.push(...cni);

    // 2. the plugin attaches every pod of the topology
    say(`CNI ADD of ${t.nodes.reduce((a, n) => a + n.pods.length, 0)} pods`);
    let attached = false;
    let t0 = performance.now();
    try {
      await attachCni(t, state, prep, { timeoutMs, onPod: (p) => say(`ADD ${p.node}/${p.name}`) });
      attached = true;
      const ps = t.nodes.flatMap((n) => n.pods);
      const problems = attachmentProblems(t);
      results.push(
        result('conformance/attach', 'the plugin attaches every pod of the topology (CNI ADD from the node namespace)', {
          status: problems.length ? 'fail' : 'pass',
          message: problems.length
            ? `${ps.length} pods attached, but: ${problems.join('; ')}`
            : `${ps.length} pods attached: ${ps.map((p) => `${p.node}/${p.name} ${p.ip}/${p.prefixLen} via ${p.hostIf}`).join(', ')}`,
          diffs: problems.length ? problems : undefined,
          observed: Object.fromEntries(ps.map((p) => [`${p.node}/${p.name}`, { ip: p.ip, prefixLen: p.prefixLen, gateway: p.gateway, hostIf: p.hostIf, mtu: p.mtu }])),
        }, Math.round(performance.now() - t0)),
      );
    } catch (e) {
      results.push(result('conformance/attach', 'the plugin attaches every pod of the topology (CNI ADD from the node namespace)', { status: 'fail', message: (e as Error).message }, Math.round(performance.now() - t0)));
    }

    // 3. the four network suites on those pods
    const suites = getSuites();
    let kept: string[] = [];
    if (attached) {
      if (!o.quiet) progress.start(suites.reduce((a, s) => a + s.checks.length, 0));
      const r = await runSuites(t, suites, { workDir: state.workDir, onProgress: (m) => say(m), onResult: (x) => !o.quiet && progress.result(x) });
      results.push(...r.results);
      kept = r.kept;
    } else {
      const why = 'the pods could not be attached (see conformance/attach)';
      for (const s of suites) for (const c of s.checks) results.push({ id: c.id, suite: s.name, title: c.title, status: 'skip', skipReason: why, message: why, durationMs: 0 });
    }

    // 4. CNI DEL of every pod, in reverse order
    t0 = performance.now();
    const d = await detachCni(state.workDir);
    results.push(
      result('conformance/detach', 'CNI DEL of every attached pod succeeds (reverse order)', {
        status: d.errors.length ? 'fail' : 'pass',
        message: d.errors.length ? d.errors.join('; ') : `${d.deleted.length} pod(s) deleted`,
        diffs: d.errors.length ? d.errors : undefined,
      }, Math.round(performance.now() - t0)),
    );

    if (inp.outDir && results.some((r) => r.status === 'fail')) {
      artifactsDir = resolve(inp.outDir, `${t.name}-${t.runId}`);
      await writeArtifacts(t, artifactsDir, kept);
      for (const r of results) if (r.status === 'fail') r.artifacts = artifactsDir;
    }
  } finally {
    if (!o.quiet) progress.done();
    if (running) await teardown(running.state);
  }
  return { results, artifactsDir };
}

const cmd: Command = {
  summary: 'check a CNI plugin chain: the cni/* spec checks plus the network suites on pods it attaches',
  usage: 'vxlab conformance --conflist FILE [--bin-dir DIR]… [--topology FILE] [--reporter tap|junit|json|pretty|html] [--out DIR] [--run-id ID] [--plugin-timeout MS]',
  help: `Brings up a VXLAN overlay (vxlab programs the VTEPs, neighbours, FDB and routes, as flanneld or
calico-node would), then runs two groups of checks against the plugin chain in --conflist:
  cni/*           the CNI spec checks (VERSION, ADD result, netns state, CHECK, DEL, concurrent ADD,
                  error objects), in the first node's namespace with throwaway pod namespaces
  the suites      routes, encapsulation, mtu, connectivity, on pods the chain attached (CNI ADD per pod
                  from inside its node namespace; their addresses come from the ADD results)
plus conformance/attach and conformance/detach (ADD and DEL of every pod). One report; exit 0 iff
nothing failed. Each node's pod subnet is injected into host-local IPAM ranges (dataDir under the run's
work dir), and the main plugin's mtu is set to the pod MTU (bridge, ptp, macvlan, ipvlan, vlan) unless
the conflist sets one; a bridge without isGateway gets isGateway: true.

Layout: without --topology, the shipped topologies/conformance-default.yaml (3 nodes × 2 pods) is used
and the layout follows the conflist: main plugin (plugins[0]) ptp → calico layout (vxlan.calico,
routed /32 pods), anything else → flannel layout (flannel.1, the bridge plugin owns cni0). With
--topology FILE, that file's overlay.layout decides and its overlay.cni is replaced by --conflist.

Bad input (missing conflist, invalid JSON, unknown field, plugin not in --bin-dir) exits 2 naming the
file and field, before anything on the host changes.
  --conflist FILE      the network configuration list (.conflist) to test
  --bin-dir DIR        plugin directory, repeatable (default: ${DEFAULT_BIN_DIRS.join(', ')})
  --topology FILE      run on this topology instead of the default
  --reporter NAME      pretty (default) | tap | junit | json | html, on stdout
  --out DIR            also write report.tap, report.xml, report.json, report.html (and artifacts on failure) to DIR
  --run-id ID          run id (default: random)
  --plugin-timeout MS  per plugin invocation (default 10000); a plugin that takes longer is killed`,
  async main(argv) {
    const inp = await resolveConformance(argv);
    preflight();
    const intr = interruptSignal();
    const startedAt = new Date();
    const t0 = performance.now();
    try {
      const { results, artifactsDir } = await runConformance(inp, { signal: intr.signal });
      const out = await writeReports(
        { topology: inp.t.name, file: inp.prep.source, runId: inp.t.runId, startedAt: startedAt.toISOString(), durationMs: Math.round(performance.now() - t0), results, artifactsDir, resolved: inp.t },
        { reporter: inp.reporter, outDir: inp.outDir },
      );
      process.stdout.write(out);
      return results.some((r) => r.status === 'fail') ? EXIT.FAIL : EXIT.OK;
    } finally {
      intr.dispose();
    }
  },
};
export default cmd;
