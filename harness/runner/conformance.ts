// vxlab conformance, the orchestration: bring up a VXLAN overlay without pods, run the cni/* spec checks with
// throwaway pod namespaces (recorded in the run's state file), let the plugin chain attach every pod, run the four
// suites on them, DEL them, tear down. harness/cli/conformance.ts parses arguments and calls conformance().
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PKG_ROOT } from '../util/module.ts';
import { UsageError } from '../util/errors.ts';
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
import type { CheckResult, RunReport } from '../report/types.ts';
import { isReporterName, Progress, reporterNames, writeReports } from '../report/index.ts';
import { runSuites, writeArtifacts } from './runner.ts';
import { getSuites } from '../../suites/index.ts';
import { throwIfAborted, withScope } from '../util/scope.ts';
import { healthProblems } from './health.ts';
import { daemonsResult, observeIdentities, setupLogs } from '../overlay/external.ts';

export const CONFORMANCE_TOPOLOGY = join(PKG_ROOT, 'topologies/conformance-default.yaml');
export const DEFAULT_BIN_DIRS = ['/usr/lib/cni', '/opt/cni/bin'];
/** given to the cni/* checks' ADDs when a plugin declares the portMappings capability */
export const CHECK_PORT_MAPPINGS = [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }];

export interface ConformanceOptions {
  conflist: string;
  /** plugin directories (default DEFAULT_BIN_DIRS); each must exist */
  binDirs?: string[];
  /** topology file (default: topologies/conformance-default.yaml, layout chosen by the conflist) */
  topology?: string;
  /** 1–8 of [a-z0-9] */
  runId: string;
  reporter?: string;
  outDir?: string;
  /** per plugin invocation (default 10 000) */
  timeoutMs?: number;
}

/** Everything is checked here, before the host changes: reporter, bin dirs, conflist, plugins, topology. */
export async function prepareConformance(o: ConformanceOptions): Promise<ConformanceInput> {
  const reporter = o.reporter ?? 'pretty';
  if (!isReporterName(reporter)) throw new UsageError(`--reporter ${reporter}: unknown reporter; expected one of: ${reporterNames.join(', ')}`);
  const binDirs = o.binDirs?.length ? o.binDirs.map((d) => resolve(d)) : DEFAULT_BIN_DIRS;
  if (o.binDirs?.length) {
    for (const [i, d] of binDirs.entries()) {
      let ok = false;
      try {
        ok = statSync(d).isDirectory();
      } catch {}
      if (!ok) throw new CniInputError(`--bin-dir ${o.binDirs[i]}: ${d} is not a directory`);
    }
  }
  const conflist = resolve(o.conflist);
  const prep = await prepareCni({ binDir: binDirs, conflist }, '--conflist');
  const file = o.topology ?? CONFORMANCE_TOPOLOGY;
  const loaded = loadTopology(file);
  const topo = structuredClone(loaded.topology);
  topo.overlay = {
    ...topo.overlay,
    // without --topology the conflist decides; with it, the topology's own layout stands
    layout: o.topology ? topo.overlay?.layout : layoutForConflist(prep.list),
    cni: { binDir: binDirs, conflist },
  };
  let t: ResolvedTopology;
  try {
    t = normalize(topo, { runId: o.runId, file: loaded.file });
  } catch (e) {
    throw locateSemantic(loaded, e);
  }
  return { prep, t, reporter, outDir: o.outDir, timeoutMs: o.timeoutMs ?? 10_000 };
}

export interface ConformanceInput {
  prep: PreparedCni;
  t: ResolvedTopology;
  reporter: string;
  outDir?: string;
  timeoutMs: number;
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

export async function runConformance(inp: ConformanceInput, o: { quiet?: boolean; signal?: AbortSignal } = {}): Promise<{ results: CheckResult[]; artifactsDir?: string; interrupted?: boolean }> {
  const { prep, t, timeoutMs } = inp;
  const progress = new Progress({ stream: process.stderr, tty: o.quiet ? false : undefined });
  const say = (m: string) => (o.quiet ? undefined : progress.update(m));
  const results: CheckResult[] = [];
  let running: Running | undefined;
  let artifactsDir: string | undefined;
  let interrupted = false;
  // the signal reaches every plugin call, probe and capture (see harness/util/scope.ts); checks finished so far are kept
  try {
    await withScope({ signal: o.signal }, async () => {
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
      throwIfAborted(o.signal);
      if (attached) {
        await observeIdentities(t); // builder: external — judge against what the nodes announce
        if (!o.quiet) progress.start(suites.reduce((a, s) => a + s.checks.length, 0));
        const r = await runSuites(t, suites, { workDir: state.workDir, signal: o.signal, health: (phase) => healthProblems(t, state, phase === 'before' ? 'before the checks started' : 'during the run'), onProgress: (m) => say(m), onResult: (x) => !o.quiet && progress.result(x) });
        results.push(...r.results);
        kept = [...r.kept, ...setupLogs(state.workDir)];
        throwIfAborted(o.signal);
        const daemons = daemonsResult(state); // builder: external
        if (daemons) results.push(daemons);
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
        await writeArtifacts(t, artifactsDir, kept, results);
        for (const r of results) if (r.status === 'fail') r.artifacts = artifactsDir;
      }
    });
  } catch (e) {
    if (!o.signal?.aborted) throw e;
    interrupted = true;
  } finally {
    if (!o.quiet) progress.done();
    if (running) await teardown(running.state);
  }
  return { results, artifactsDir, interrupted };
}


/** prepareConformance + runConformance + the report: what `vxlab conformance` prints, and its exit code. */
export async function conformance(
  inp: ConformanceInput,
  o: { quiet?: boolean; signal?: AbortSignal } = {},
): Promise<{ results: CheckResult[]; report: RunReport; output: string; exitCode: number; artifactsDir?: string; interrupted?: boolean; message?: string }> {
  const startedAt = new Date();
  const t0 = performance.now();
  const { results, artifactsDir, interrupted } = await runConformance(inp, o);
  const report: RunReport = { topology: inp.t.name, file: inp.prep.source, runId: inp.t.runId, startedAt: startedAt.toISOString(), durationMs: Math.round(performance.now() - t0), results, artifactsDir, resolved: inp.t, ...(interrupted ? { interrupted } : {}) };
  let output = await writeReports(report, { reporter: inp.reporter as any, outDir: inp.outDir });
  if (interrupted) {
    // the signal stopped it: the checks that finished are reported, the topology is torn down, exit 130
    const by = typeof o.signal?.reason === 'string' ? o.signal.reason : 'a signal';
    const message = `interrupted by ${by}: ${results.length} check(s) finished before it; the topology is torn down`;
    if (inp.reporter === 'tap') output += `Bail out! ${message}\n`;
    return { results, report, output, exitCode: 130, artifactsDir, interrupted, message };
  }
  return { results, report, output, exitCode: results.some((r) => r.status === 'fail') ? 1 : 0, artifactsDir };
}
