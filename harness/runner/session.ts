// A whole run: resolve → up → faults → suites (+ external TAP checks) → expectations → report → down.
import { dirname, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { loadTopology } from '../topology/load.ts';
import type { ResolvedTopology } from '../topology/resolved.ts';
import type { CheckResult, RunReport } from '../report/types.ts';
import { getReporter, writeReports, Progress, runTapScript } from '../report/index.ts';
import { up, teardown, type Running } from '../runtime/lifecycle.ts';
import { readState, writeState, type RunState } from '../runtime/state.ts';
import { applyFaultsReporting } from '../faults/apply.ts';
import { HEALTH_ID, runSuites, writeArtifacts } from './runner.ts';
import { capGiven } from '../report/artifacts.ts';
import { judge, notJudged, renderVerdicts, unmatched, type Verdict } from './expect.ts';
import { getSuites } from '../../suites/index.ts';
import { applyAttachments, readAttachments } from '../overlay/cni-attach.ts';
import { processInterrupt } from '../util/signals.ts';
import { InterruptedError, throwIfAborted, withScope } from '../util/scope.ts';
import { healthProblems } from './health.ts';
import { resolveChecked, resolveStatic } from './validate.ts';
import { daemonsResult, observeIdentities, setupLogs } from '../overlay/external.ts';
import { renderTimeline, runSteps, stepExpectations, type TimelineEntry } from '../steps/apply.ts';

export interface SessionOptions {
  file: string;
  /** already resolved (Lab.test: the lab's own topology, with the faults it applied); default: resolve `file` */
  topology?: ResolvedTopology;
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
  /**
   * Stops the session: the work in flight (probes, captures, helpers) is killed, what this session created is torn
   * down, and the result has `interrupted` set (exit code 130). Without one, SIGINT/SIGTERM do this.
   */
  signal?: AbortSignal;
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
  /** stopped by a signal: `report.results` holds the checks that finished before it */
  interrupted?: boolean;
}

/** Load, normalize and check the expectations (synchronous; `resolveChecked` also checks overlay.cni). */
export function resolveWithExpect(file: string, runId: string): ResolvedTopology {
  return resolveStatic(loadTopology(file), runId);
}

function interruptedBy(signal: AbortSignal): string {
  return typeof signal.reason === 'string' ? signal.reason : 'a stop request';
}

export async function runSession(o: SessionOptions): Promise<SessionResult> {
  const t = o.topology ?? (await resolveChecked(o.file, o.runId));
  const reporter = o.reporter ?? 'pretty';
  getReporter(reporter); // unknown reporter: fail before touching the host
  const suites = getSuites(o.suites);
  const progress = new Progress({ stream: process.stderr, tty: o.quiet ? false : undefined });
  const say = (m: string) => (o.quiet ? undefined : progress.update(m));
  const startedAt = new Date();
  const t0 = performance.now();
  let running: Running | undefined;
  let state: RunState | undefined;
  // installed for the whole session, teardown included: a second Ctrl-C cannot cut the teardown short
  const intr = o.signal ? undefined : processInterrupt();
  const signal = o.signal ?? intr!.signal;
  const results: CheckResult[] = [];
  let kept: string[] = [];
  let keepUp = false;
  let interrupted = false;
  let stage = 'up';
  let timeline: TimelineEntry[] = [];
  try {
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
        running = await up(t, { ephemeral: true, signal, onStage: (s) => say(`up: ${s}`) });
        state = running.state;
        await observeIdentities(t); // builder: external — faults and suites see what the nodes announce
        stage = 'faults';
        results.push(...(await applyFaultsReporting(t, t.faults, say, signal)));
        if (t.steps?.length) {
          // steps: vxlab plays the control plane; each step's time is measured (harness/steps/)
          stage = 'steps';
          const st = await runSteps(t, running.state, { workDir: running.state.workDir, signal, say });
          results.push(...st.results);
          timeline = st.timeline;
        }
      }
      stage = 'checks';
      await observeIdentities(t);
      if (!o.quiet) progress.start(suites.reduce((a, s) => a + s.checks.length, 0) + t.checks.length + (t.builder === 'external' ? 1 : 0));
      const st = state;
      const r = await runSuites(t, suites, {
        workDir: st.workDir,
        signal,
        health: (phase) => healthProblems(t, st, phase === 'before' ? (o.attach ? 'since up' : 'before the checks started') : 'during the run'),
        onProgress: (m) => !o.quiet && progress.update(m),
        onResult: (x) => !o.quiet && progress.result(x),
      });
      results.push(...r.results);
      kept = [...r.kept, ...setupLogs(st.workDir)];
      if (r.interrupted) throw new InterruptedError(signal.reason);
      const daemons = daemonsResult(st); // builder: external
      if (daemons) {
        results.push(daemons);
        if (!o.quiet) progress.result(daemons);
      }
      for (const c of t.checks) {
        throwIfAborted(signal);
        const x = await withScope({ signal }, () =>
          runTapScript(c.name, c.command, {
            cwd: t.file ? dirname(t.file) : process.cwd(),
            timeoutMs: c.timeoutSec * 1000,
            env: { VXLAB_RUN_ID: t.runId, VXLAB_TOPOLOGY: t.file ?? '', VXLAB_PREFIX: t.prefix },
          }),
        );
        throwIfAborted(signal); // a script killed by the stop has no result worth reporting
        results.push(x);
        if (!o.quiet) progress.result(x);
      }
    } catch (e) {
      // a stop (signal) ends the work; anything else is an error, reported after the teardown below
      if (!(signal.aborted && (e instanceof InterruptedError || (e as any)?.code === 'VXLAB_ABORTED' || (e as any)?.code === 'VXLAB_INTERRUPTED'))) throw e;
      interrupted = true;
    }
    interrupted ||= signal.aborted;
    if (!o.quiet) progress.done();

    // a check step's expect: judged under the step's ids (steps/3/routes/fdb), next to the file's own
    const expect = { ...t.expect, ...(o.attach ? {} : stepExpectations(t)) };
    const useExpect = !interrupted && (o.useExpect ?? Object.keys(expect).length > 0);
    const verdicts = useExpect ? judge(results, expect) : undefined;
    // expectations for suites this session did not run (--suite) are not judged, not failed
    const ran = [...suites.map((s) => s.name), ...(t.steps?.length && !o.attach ? ['steps'] : [])];
    const missing = useExpect ? unmatched(results, expect, ran) : undefined;
    const unjudged = useExpect ? notJudged(expect, ran) : undefined;
    const ok = !interrupted && (verdicts ? verdicts.every((v) => v.holds) && !missing!.length : results.every((r) => r.status !== 'fail'));
    let artifactsDir: string | undefined;
    const anyFail = results.some((r) => r.status === 'fail');
    // interrupted: the user wants out; no artifacts (the namespaces may be half-built or half-probed)
    if (!interrupted && (anyFail || !ok) && state) {
      artifactsDir = resolve(o.outDir ?? 'artifacts', `${t.name}-${t.runId}`);
      mkdirSync(artifactsDir, { recursive: true });
      // repro (expectations asked for) where every expectation held: the failures are the ones the file documents,
      // so the namespaces' state is not dumped (three processes per namespace: the largest part of a reproduced
      // bug's time beyond its fixed sibling's run); the pcaps and resolved topology still are. VXLAB_ARTIFACT_NAMESPACES dumps them anyway.
      const documented = o.useExpect === true && ok && !capGiven() ? 'every expectation of the file held (the failures are the ones it documents): the namespaces\' state was not dumped; VXLAB_ARTIFACT_NAMESPACES=0 (or vxlab run FILE) dumps it' : undefined;
      await writeArtifacts(t, artifactsDir, kept, results, documented);
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
      ...(interrupted ? { interrupted: true } : {}),
      resolved: t,
      expectations: verdicts ? { verdicts, missing: missing!, notJudged: unjudged } : undefined,
    };
    let output = await writeReports(report, { reporter: reporter as any, outDir: o.outDir });
    if (timeline.length) {
      const tl = `Step timeline (${t.file ?? t.name}):\n${renderTimeline(timeline)}\n`;
      if (reporter === 'pretty') output += `\n${tl}`;
      else if (!o.quiet) process.stderr.write(tl);
    }
    if (verdicts) {
      const table = renderVerdicts(verdicts, missing!, unjudged);
      output += reporter === 'pretty' ? `\nExpectations (${t.file ? t.file : t.name}):\n${table}\n${ok ? 'every expectation holds' : 'SOME EXPECTATIONS DO NOT HOLD'}\n` : '';
      if (reporter !== 'pretty' && !o.quiet) process.stderr.write(`${table}\n`);
    }
    if (interrupted) {
      const done = results.filter((r) => r.id !== HEALTH_ID).length;
      const msg = `interrupted by ${interruptedBy(signal)} during ${stage}: ${done} check${done === 1 ? '' : 's'} finished before it; ${o.attach ? 'the topology (not created by this command) is left up' : running ? 'the topology is torn down' : 'what up had created is rolled back'}`;
      if (reporter === 'tap') output += `Bail out! ${msg}\n`;
      else if (reporter === 'pretty') output += `\n${msg}\n`;
      if (reporter !== 'pretty' && !o.quiet) process.stderr.write(`${msg}\n`);
    }
    if (artifactsDir) {
      // the pretty report names the directory itself; machine formats keep stdout clean
      if (reporter !== 'pretty' && !o.quiet) process.stderr.write(`artifacts: ${artifactsDir} (pcaps, ip -j dumps of the namespaces listed in index.json, resolved topology)\n`);
    }
    if (running && o.keep && !ok && !interrupted) {
      keepUp = true;
      // hand the run over: make it persistent so cleanup does not reap it
      const s2 = readState(t.runId)!;
      s2.ephemeral = false;
      s2.status = 'up';
      writeState(s2);
      const msg = `--keep: topology left up as run ${t.runId}.\n  get in:  vxlab exec ${o.file} ${t.nodes[0]!.name}${t.nodes[0]!.pods[0] ? `/${t.nodes[0]!.pods[0].name}` : ''} --run-id ${t.runId} -- bash\n  remove:  vxlab down ${o.file} --run-id ${t.runId}\n`;
      if (reporter === 'pretty') output += msg;
      else process.stderr.write(msg);
    }
    return { report, verdicts, missing, notJudged: unjudged, exitCode: interrupted ? 130 : ok ? 0 : 1, output, artifactsDir, kept: keepUp, topology: t, interrupted };
  } finally {
    if (!o.quiet) progress.done();
    // whatever happened after up — a failed fault, a crash while judging, a signal — what this session created goes
    // (unless --keep handed a failed run over)
    try {
      if (running && !keepUp) await teardown(running.state);
    } finally {
      intr?.dispose();
    }
  }
}
