// A whole run: resolve → up → faults → suites (+ external TAP checks) → expectations → report → down.
import { dirname, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { loadTopology, locateSemantic } from '../topology/load.ts';
import { normalize } from '../topology/normalize.ts';
import type { ResolvedTopology } from '../topology/resolved.ts';
import type { CheckResult, RunReport } from '../report/types.ts';
import { getReporter, writeReports, Progress, runTapScript } from '../report/index.ts';
import { up, teardown, type Running } from '../runtime/lifecycle.ts';
import { readState, type RunState } from '../runtime/state.ts';
import { applyFault, describeFault, FaultSkip } from '../faults/apply.ts';
import { runSuites, writeArtifacts } from './runner.ts';
import { judge, notJudged, renderVerdicts, unmatched, validateExpect, type Verdict } from './expect.ts';
import { checkIds, getSuites, suiteNames } from '../../suites/index.ts';
import { applyAttachments, readAttachments } from '../overlay/cni-attach.ts';
import { interruptSignal } from '../cli/common.ts';

export interface SessionOptions {
  file: string;
  runId: string;
  suites?: string[];
  reporter?: string;
  outDir?: string;
  /** leave the topology up when something failed */
  keep?: boolean;
  /** compare results with the file's expect: (repro, or run on a file that has one) */
  useExpect?: boolean;
  /** run against a topology that is already up (vxlab test) */
  attach?: boolean;
  /** print progress to stderr */
  quiet?: boolean;
}

export interface SessionResult {
  report: RunReport;
  verdicts?: Verdict[];
  missing?: string[];
  /** expectations for suites that were not run (--suite): not judged */
  notJudged?: string[];
  exitCode: number;
  output: string;
  artifactsDir?: string;
  kept: boolean;
  topology: ResolvedTopology;
}

export function resolveWithExpect(file: string, runId: string): ResolvedTopology {
  const loaded = loadTopology(file);
  let t: ResolvedTopology;
  try {
    t = normalize(loaded.topology, { runId, file: loaded.file });
  } catch (e) {
    throw locateSemantic(loaded, e);
  }
  validateExpect(loaded, t.expect, checkIds(), suiteNames());
  return t;
}

export async function runSession(o: SessionOptions): Promise<SessionResult> {
  const t = resolveWithExpect(o.file, o.runId);
  const reporter = o.reporter ?? 'pretty';
  getReporter(reporter); // unknown reporter: fail before touching the host
  const suites = getSuites(o.suites);
  const progress = new Progress({ stream: process.stderr, tty: o.quiet ? false : undefined });
  const say = (m: string) => (o.quiet ? undefined : progress.update(m));
  const startedAt = new Date();
  const t0 = performance.now();
  let running: Running | undefined;
  let state: RunState | undefined;
  const intr = interruptSignal();
  const results: CheckResult[] = [];
  let kept: string[] = [];
  let keepUp = false;
  try {
    if (o.attach) {
      state = readState(t.runId);
      if (!state) throw Object.assign(new Error(`run ${t.runId} of ${o.file} is not up; start it with 'vxlab up ${o.file}'`), { code: 'VXLAB_NOT_UP' });
      // pods attached by a CNI plugin have the addresses the plugin gave them, recorded at up
      if (t.cni) {
        const att = readAttachments(state.workDir);
        if (att) applyAttachments(t, att);
      }
    } else {
      say(`up ${t.name}`);
      running = await up(t, { ephemeral: true, signal: intr.signal, onStage: (s) => say(`up: ${s}`) });
      state = running.state;
      for (const f of t.faults) {
        say(`fault: ${describeFault(f)}`);
        try {
          await applyFault(t, f);
        } catch (e) {
          if (e instanceof FaultSkip) results.push({ id: `faults/${f.kind}`, suite: 'faults', title: describeFault(f), status: 'skip', skipReason: e.message, message: e.message, durationMs: 0 });
          else throw e;
        }
      }
    }
    if (!o.quiet) progress.start(suites.reduce((a, s) => a + s.checks.length, 0) + t.checks.length);
    const r = await runSuites(t, suites, {
      workDir: state.workDir,
      onProgress: (m) => !o.quiet && progress.update(m),
      onResult: (x) => !o.quiet && progress.result(x),
    });
    results.push(...r.results);
    kept = r.kept;
    for (const c of t.checks) {
      const x = await runTapScript(c.name, c.command, {
        cwd: t.file ? dirname(t.file) : process.cwd(),
        timeoutMs: c.timeoutSec * 1000,
        env: { VXLAB_RUN_ID: t.runId, VXLAB_TOPOLOGY: t.file ?? '', VXLAB_PREFIX: t.prefix },
      });
      results.push(x);
      if (!o.quiet) progress.result(x);
    }
  } catch (e) {
    // whatever failed after up, the run's namespaces and processes go (unless --keep asked to look at them)
    if (running && !o.keep) await teardown(running.state).catch(() => {});
    throw e;
  } finally {
    intr.dispose();
    if (!o.quiet) progress.done();
  }

  const useExpect = o.useExpect ?? Object.keys(t.expect).length > 0;
  const verdicts = useExpect ? judge(results, t.expect) : undefined;
  // expectations for suites this session did not run (--suite) are not judged, not failed
  const ran = suites.map((s) => s.name);
  const missing = useExpect ? unmatched(results, t.expect, ran) : undefined;
  const unjudged = useExpect ? notJudged(t.expect, ran) : undefined;
  const ok = verdicts ? verdicts.every((v) => v.holds) && !missing!.length : results.every((r) => r.status !== 'fail');
  let artifactsDir: string | undefined;
  const anyFail = results.some((r) => r.status === 'fail');
  if (anyFail || !ok) {
    artifactsDir = resolve(o.outDir ?? 'artifacts', `${t.name}-${t.runId}`);
    mkdirSync(artifactsDir, { recursive: true });
    await writeArtifacts(t, artifactsDir, kept);
    for (const r of results) if (r.status === 'fail') r.artifacts = artifactsDir;
  }
  const report: RunReport = {
    topology: t.name,
    file: t.file,
    runId: t.runId,
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - t0),
    results,
    artifactsDir,
    resolved: t,
    expectations: verdicts ? { verdicts, missing: missing!, notJudged: unjudged } : undefined,
  };
  let output = await writeReports(report, { reporter: reporter as any, outDir: o.outDir });
  if (verdicts) {
    const table = renderVerdicts(verdicts, missing!, unjudged);
    output += reporter === 'pretty' ? `\nExpectations (${t.file ? t.file : t.name}):\n${table}\n${ok ? 'every expectation holds' : 'SOME EXPECTATIONS DO NOT HOLD'}\n` : '';
    if (reporter !== 'pretty' && !o.quiet) process.stderr.write(`${table}\n`);
  }
  if (artifactsDir) {
    // the pretty report names the directory itself; machine formats keep stdout clean
    if (reporter !== 'pretty' && !o.quiet) process.stderr.write(`artifacts: ${artifactsDir} (pcaps, ip -j dumps of every namespace, resolved topology)\n`);
  }
  if (running) {
    if (o.keep && !ok) {
      keepUp = true;
      // hand the run over: make it persistent so cleanup does not reap it
      const s = readState(t.runId)!;
      s.ephemeral = false;
      s.status = 'up';
      const { writeState } = await import('../runtime/state.ts');
      writeState(s);
      const msg = `--keep: topology left up as run ${t.runId}.\n  get in:  vxlab exec ${o.file} ${t.nodes[0]!.name}${t.nodes[0]!.pods[0] ? `/${t.nodes[0]!.pods[0].name}` : ''} --run-id ${t.runId} -- bash\n  remove:  vxlab down ${o.file} --run-id ${t.runId}\n`;
      if (reporter === 'pretty') output += msg;
      else process.stderr.write(msg);
    } else await teardown(running.state);
  }
  return { report, verdicts, missing, notJudged: unjudged, exitCode: ok ? 0 : 1, output, artifactsDir, kept: keepUp, topology: t };
}
