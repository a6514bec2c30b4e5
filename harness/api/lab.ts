// The library API: a Lab is a live topology you start, use and dispose of (`await using lab = await Lab.up(…)`).
// The CLI is a thin layer over the same functions (harness/cli/*), so the two cannot drift.
import './polyfill.ts';
// What only a live lab needs (the lifecycle, the suites and reports, faults, CNI attach, the VTEP's control socket) is
// imported where it is used, not here: `vxlab validate` and `vxlab plan` go through this class too and must start
// quickly (npm run bench, row cli).
import { resolve } from 'node:path';
import { constants } from 'node:os';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { z } from 'zod';
import { loadTopology, loadTopologyObject, locateSemantic, type Loaded } from '../topology/load.ts';
import { normalize, refreshTopology, resolveLiveStep, RUN_ID_RE } from '../topology/normalize.ts';
import { resolveStatic, validateCni } from '../runner/validate.ts';
import { FaultSchema, StepSchema, TopologySchema } from '../topology/schema.ts';
import type { ResolvedTopology } from '../topology/resolved.ts';
import { SemanticError, TopologyError } from '../topology/errors.ts';
import type { CleanupResult } from '../runtime/lifecycle.ts';
import { plan, type Plan } from '../plan/plan.ts';
import { describeStep, renderSteps, runSteps } from '../steps/apply.ts';
import { isAlive, readState, removeState, type RunState } from '../runtime/state.ts';
import { vtepPaths } from '../runtime/vtep-launch.ts';
import { getRuntime } from '../runtime/registry.ts';
import type { Verdict } from '../runner/expect.ts';
import type { GraphFormat } from '../graph/index.ts';
import type { SessionResult } from '../runner/session.ts';
import { toJsonReport, type JsonReport } from '../report/json.ts';
import type { CheckResult } from '../report/types.ts';
import type { VtepStats } from '../vtep/stats.ts';
import { preflight } from '../util/preflight.ts';
import { loadExeca } from '../util/exec.ts';
import { NotUpError, UsageError } from '../util/errors.ts';
import { defaultRunId, randomRunId } from '../util/run-id.ts';
import { validationOf } from '../cli/validate-line.ts';
import { labNodes, statusOf, type LabNode, type LabPod, type LabStatus } from './status.ts';

/** A topology written as an object: the same schema as a topology file (`extends` resolves from baseDir). */
export type TopologySpec = z.input<typeof TopologySchema>;
/** One fault, as in a topology's `faults:` list. */
export type FaultSpec = z.input<typeof FaultSchema>;

/** One step, as a topology file's `steps:` entry: an action (restart-node, remove-node, add-node, change-node-ip) or checks. */
export type StepSpec = z.input<typeof StepSchema>;

/** What lab.step() did: its number, how long it took, and (check steps) the results and whether they converged. */
export interface StepOutcome {
  /** the step's number in this run (results are steps/<n>/…) */
  n: number;
  /** e.g. "add-node node4 (192.168.1.5, pods 10.244.4.0/24)" */
  what: string;
  /** applied in (actions), or until the checks passed or `within` ran out */
  ms: number;
  /** action: one pass result; checks: every check's result (ids steps/<n>/<check id>) */
  results: CheckResult[];
  /** no result failed */
  ok: boolean;
  /** check steps: attempts made, and whether the checks passed within the deadline */
  attempts?: number;
  converged?: boolean;
  /** check steps: ended before `within` ran out because every failure was settled (CheckResult.settled) */
  settled?: boolean;
}

export interface LabUpOptions {
  /** 1–8 characters of [a-z0-9], part of every namespace name (default: random) */
  runId?: string;
  /** apply the topology's `faults:` after up (default true) */
  faults?: boolean;
  /**
   * false (default): the run belongs to this process — userspace VTEPs exit with it, and `vxlab cleanup` reaps the
   * run if the process dies before down(). true: the run outlives the process, like `vxlab up` (remove with down()).
   */
  persistent?: boolean;
  /** object topologies: the directory `extends`, overlay.cni.conflist and checks resolve from (default: cwd) */
  baseDir?: string;
  /** aborting rolls back what was created and rejects with an error whose code is VXLAB_ABORTED */
  signal?: AbortSignal;
  /** progress: each stage of up, and each fault */
  onStage?: (stage: string) => void;
}

export interface LabAttachOptions {
  /** the run id given to Lab.up / `vxlab up --run-id` (default for files: the one `vxlab up FILE` derives) */
  runId?: string;
  baseDir?: string;
}

export interface LabExecOptions {
  /** kill the command after this many ms (default 60 000); the result then has timedOut: true */
  timeoutMs?: number;
  input?: string;
  env?: Record<string, string>;
  /** 'inherit': the command talks to this process's terminal (stdout/stderr are then empty) */
  stdio?: 'pipe' | 'inherit';
  /**
   * runtime docker/kind, node targets only: run inside the node's container (its own filesystem and tools) instead
   * of in its network namespace with the host's tools
   */
  container?: boolean;
}

export interface LabExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
  /** the namespace it ran in (with container: the container's, bound under this name) */
  ns: string;
}

export interface LabTestOptions {
  /** suites to run (default: all): routes, encapsulation, mtu, connectivity */
  suites?: string[];
  /** compare with the topology's `expect:` (default: when it has one) */
  expect?: boolean;
  /** also write report.tap, report.xml, report.json here; artifacts of a failure go to outDir/<topology>-<run> */
  outDir?: string;
  /** print progress to stderr (default false) */
  progress?: boolean;
  /**
   * stops the checks: probes, captures and helper processes in flight are killed, and the report holds the checks
   * that finished (`interrupted: true`, ok false). test() never installs SIGINT/SIGTERM handlers of its own.
   */
  signal?: AbortSignal;
}

/** The JSON reporter's model (results, summary, …) plus the counts. */
export interface LabReport extends JsonReport {
  passed: number;
  failed: number;
  skipped: number;
  /** with expect: every expectation of the topology's `expect:` block, judged */
  verdicts?: Verdict[];
  /** false when a check failed (or, with expect:, an expectation does not hold) */
  ok: boolean;
}

export interface LabRunOptions {
  /** 1–8 characters of [a-z0-9], part of every namespace name (default: random) */
  runId?: string;
  /** suites to run (default: all): routes, encapsulation, mtu, connectivity */
  suites?: string[];
  /** compare with the topology's `expect:` (default: when it has one); true is `vxlab repro` */
  expect?: boolean;
  /** how `output` is rendered: pretty (default) | tap | junit | json | html */
  reporter?: string;
  /** also write report.tap, report.xml, report.json, report.html here; artifacts of a failure go to outDir/<topology>-<run> */
  outDir?: string;
  /** when something failed, leave the topology up (persistent; remove it with Lab.down(runId)) */
  keep?: boolean;
  /** print progress (and, for machine reporters, the expectations table and artifacts dir) to stderr (default false) */
  progress?: boolean;
  /**
   * stops the run: work in flight is killed, what the run created is torn down, and the result holds the checks that
   * finished (`interrupted: true`, exitCode 130). run() never installs SIGINT/SIGTERM handlers of its own.
   */
  signal?: AbortSignal;
  /** object topologies: the directory `extends`, overlay.cni.conflist and checks resolve from (default: cwd) */
  baseDir?: string;
}

/** A whole run's report (`vxlab run` / `vxlab repro`): the report model and verdicts, and the CLI's rendering. */
export interface LabRunResult extends LabReport {
  /** the report rendered by opts.reporter (with the expectations table, interrupt and --keep notes, as the CLI prints) */
  output: string;
  /** what the CLI exits with: 0 ok, 1 a check failed or an expectation does not hold, 130 interrupted */
  exitCode: number;
  interrupted: boolean;
  /** keep: the failed topology was left up under runId */
  kept: boolean;
}

/** `Lab.graph` / `lab.graph`: what to draw and how. */
export interface LabGraphOptions {
  /** svg (default; Graphviz compiled to WebAssembly, no browser) | dot | mermaid */
  format?: LabGraphFormat;
  /** mark where these results' failures act (e.g. a report's `results`) */
  results?: CheckResult[];
}
export type LabGraphFormat = 'svg' | 'dot' | 'mermaid';
// the renderer's formats, exactly (a type-level check: graph/ itself is loaded only when something is drawn)
const _formatsMatch: [LabGraphFormat, GraphFormat] extends [GraphFormat, LabGraphFormat] ? true : never = true;
void _formatsMatch;

/** `Lab.conformance`: a CNI plugin chain through the cni/* spec checks and the four suites (`vxlab conformance`). */
export interface LabConformanceOptions {
  /** the network configuration list (.conflist) to test */
  conflist: string;
  /** plugin directories (default: /usr/lib/cni, /opt/cni/bin); each must exist */
  binDirs?: string[];
  /**
   * topology file (default: the shipped topologies/conformance-default.yaml, whose layout the conflist chooses: ptp →
   * calico, anything else → flannel); its overlay.cni is replaced by `conflist`
   */
  topology?: string;
  /** 1–8 characters of [a-z0-9] (default: random) */
  runId?: string;
  /** how `output` is rendered: pretty (default) | tap | junit | json | html */
  reporter?: string;
  /** also write report.tap, report.xml, report.json, report.html (and artifacts on failure) here */
  outDir?: string;
  /** per plugin invocation (default 10 000); a plugin that takes longer is killed */
  pluginTimeoutMs?: number;
  /** print progress to stderr (default false) */
  progress?: boolean;
  /** stops the run: what it created is torn down, the result holds the checks that finished (exitCode 130) */
  signal?: AbortSignal;
}

/** A conformance run's report (cni/*, conformance/attach|detach and the suites) and the CLI's rendering. */
export interface LabConformanceResult extends LabReport {
  /** the report rendered by opts.reporter, as `vxlab conformance` prints it */
  output: string;
  /** 0 nothing failed, 1 a check failed, 130 interrupted */
  exitCode: number;
  interrupted: boolean;
  /** interrupted: what stopped it and how many checks finished */
  message?: string;
}

/** What `vxlab validate` prints for a good file. */
export interface LabValidation {
  name: string;
  nodes: number;
  pods: number;
  segments: number;
  layout: string;
}

/** Every command `up` would run, per stage and namespace (`vxlab plan --json`). */
/** The plan of up; with steps:, `steps` holds their commands (the control plane per step), rendered. */
export type LabPlan = Plan & { steps?: string };
/** What Lab.cleanup removed and kept (`vxlab cleanup`). */
export type LabCleanupResult = CleanupResult;

export interface FaultOutcome {
  applied: boolean;
  /** why the host could not apply it (then it is reported as a skip by the next test()) */
  reason?: string;
}

const GRAPH_FORMATS: readonly LabGraphFormat[] = ['svg', 'dot', 'mermaid'];
function graphFormat(f: string | undefined): LabGraphFormat {
  const format = (f ?? 'svg') as LabGraphFormat;
  if (!GRAPH_FORMATS.includes(format)) throw new UsageError(`format '${f}': expected one of: ${GRAPH_FORMATS.join(', ')}`);
  return format;
}

function checkRunId(id: string): string {
  if (!RUN_ID_RE.test(id)) throw new UsageError(`runId '${id}': expected 1–8 characters of [a-z0-9]`);
  return id;
}

/** Load and resolve a file or an object exactly as the CLI does; every bad input is a TopologyError. */
export function resolveLab(topology: string | TopologySpec, runId: string, baseDir?: string): { t: ResolvedTopology; loaded: Loaded } {
  const loaded = typeof topology === 'string' ? loadTopology(topology) : loadTopologyObject(topology, { baseDir });
  return { t: resolveStatic(loaded, runId), loaded };
}

/**
 * A run that is up: its topology as up left it (what the runtime discovered, the identities the nodes announce, the
 * addresses a CNI plugin gave the pods) and its state. Throws NotUpError otherwise. Lab.attach, and CLI commands that
 * need the state too (vxlab graph --run-id).
 */
export async function liveRun(topology: string | TopologySpec, opts: LabAttachOptions = {}): Promise<{ t: ResolvedTopology; state: RunState }> {
  if (typeof topology !== 'string' && !opts.runId) throw new UsageError('Lab.attach(object): expected opts.runId');
  const runId = checkRunId(opts.runId ?? defaultRunId(resolve(topology as string)));
  const { t } = resolveLab(topology, runId, opts.baseDir);
  const state = readState(t.runId);
  const where = typeof topology === 'string' ? ` of ${topology}` : '';
  if (!state) throw new NotUpError(`run ${t.runId}${where} is not up${typeof topology === 'string' ? `; start it with 'vxlab up ${topology}'` : ''}`, t.runId);
  // what the runtime learned at up (kind: node IPs, pod CIDRs) wins over the file's defaults
  if (state.discovered) refreshTopology(t, state.discovered);
  // builder: external — the VTEP identities are whatever the nodes announce
  await (await import('../overlay/external.ts')).observeIdentities(t, { skipMissingNs: true });
  // pods attached by a CNI plugin have the addresses the plugin gave them, recorded at up
  if (t.cni) {
    const { applyAttachments, readAttachments } = await import('../overlay/cni-attach.ts');
    const att = readAttachments(state.workDir);
    if (att) applyAttachments(t, att);
  }
  return { t, state };
}

/**
 * Labs this process brought up (not persistent) and has not taken down. If the process ends with some still up —
 * a test runner that gives up on a timed-out test and stops its worker (vitest: SIGTERM, then SIGKILL after 0.5 s)
 * before `await using` or a finally ran — they are removed synchronously on 'exit' and on SIGTERM/SIGINT/SIGHUP:
 * owned processes killed, namespaces deleted, state file and work dir removed. The signal handlers exist only while
 * such labs do; after reaping, the signal is re-raised unless someone else handles it. Against SIGKILL, ephemeral runs
 * are what `vxlab cleanup` reaps (owner gone).
 */
const owned = new Set<string>();
const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
const onSignal = (sig: NodeJS.Signals) => {
  reapOwnedSync();
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
};

function reapOwnedSync(): void {
  for (const runId of owned) {
    const s = readState(runId);
    if (!s || s.pid !== process.pid) continue;
    for (const p of s.processes) if (isAlive(p.pid, p.startTime)) try { process.kill(p.pid, 'SIGKILL'); } catch {}
    spawnSync('ip', ['-force', '-batch', '-'], { input: [...s.namespaces].reverse().map((n) => `netns del ${n}`).join('\n') + '\n', stdio: ['pipe', 'ignore', 'ignore'] });
    // containers, Docker networks and kind clusters (runtime docker/kind) cannot be removed synchronously here: the
    // state file stays, and `vxlab cleanup` (owner gone) removes them with the runtime
    if (s.resources?.length) continue;
    try {
      rmSync(s.workDir, { recursive: true, force: true });
    } catch {}
    removeState(runId);
  }
  disown();
}

function own(runId: string): void {
  if (!owned.size) {
    process.on('exit', reapOwnedSync);
    for (const sig of SIGNALS) process.once(sig, onSignal);
  }
  owned.add(runId);
}

function disown(runId?: string): void {
  if (runId === undefined) owned.clear();
  else owned.delete(runId);
  if (!owned.size) {
    process.off('exit', reapOwnedSync);
    for (const sig of SIGNALS) process.off(sig, onSignal);
  }
}

export class Lab implements AsyncDisposable {
  #t: ResolvedTopology;
  #down = false;
  /** faults the host could not apply: reported as skips by test() */
  #faultSkips: CheckResult[] = [];
  /** steps applied through step() (numbered after the topology's own) */
  #stepN = 0;

  private constructor(t: ResolvedTopology, faultSkips: CheckResult[] = []) {
    this.#t = t;
    this.#faultSkips = faultSkips;
  }

  /**
   * Build a topology (a file path or an object in the topology schema) and apply its faults. Bad input throws a
   * TopologyError before anything on the host changes; a failure half-way rolls back what was created.
   */
  static async up(topology: string | TopologySpec, opts: LabUpOptions = {}): Promise<Lab> {
    const runId = checkRunId(opts.runId ?? randomRunId());
    const { t, loaded } = resolveLab(topology, runId, opts.baseDir);
    // overlay.cni: bin dirs, conflist and plugins, checked (file:line:col) before the host changes
    await validateCni(loaded, t);
    preflight(['ip', 'bridge', 'sysctl']);
    if (!opts.persistent) own(t.runId);
    let running;
    try {
      running = await (await import('../runtime/lifecycle.ts')).up(t, { ephemeral: !opts.persistent, signal: opts.signal, onStage: opts.onStage });
    } catch (e) {
      disown(t.runId);
      throw e;
    }
    try {
      await (await import('../overlay/external.ts')).observeIdentities(t); // builder: external — faults, nodes and test() see what the nodes announce
    } catch (e) {
      await running.down().catch(() => {});
      disown(t.runId);
      throw e;
    }
    let skips: CheckResult[] = [];
    if (opts.faults !== false && t.faults.length) {
      try {
        // a fault that fails (or the signal) rolls the whole up back; one the host cannot apply is a skip
        skips = await (await import('../faults/apply.ts')).applyFaults(running, opts.signal, opts.onStage);
      } catch (e) {
        disown(t.runId);
        throw e;
      }
    }
    return new Lab(t, skips);
  }

  /**
   * A whole run, as `vxlab run` (and with expect: true, `vxlab repro`): up under a fresh run id, faults, the suites and
   * the topology's `checks:`, expectations, report, down. Bad input throws a TopologyError before the host changes; a
   * failing check is a result (ok false, exitCode 1), never a throw.
   */
  static async run(topology: string | TopologySpec, opts: LabRunOptions = {}): Promise<LabRunResult> {
    const runId = checkRunId(opts.runId ?? randomRunId());
    // resolved and checked (overlay.cni included) before the host changes, exactly as `vxlab run FILE`
    const { t, loaded } = resolveLab(topology, runId, opts.baseDir);
    await validateCni(loaded, t);
    preflight(['ip', 'bridge', 'sysctl']);
    const { runSession } = await import('../runner/session.ts');
    const r = await runSession({
      file: typeof topology === 'string' ? topology : t.name,
      topology: t,
      runId,
      suites: opts.suites,
      useExpect: opts.expect,
      reporter: opts.reporter,
      outDir: opts.outDir,
      keep: opts.keep,
      quiet: !opts.progress,
      signal: opts.signal ?? new AbortController().signal,
    });
    return { ...toLabReport(r), output: r.output, exitCode: r.exitCode, interrupted: Boolean(r.interrupted), kept: r.kept };
  }

  /**
   * Check a topology (schema, semantics, fault targets, expectations, overlay.cni) without touching the host, as
   * `vxlab validate`. Throws a TopologyError (file:line:col) on bad input.
   */
  static async validate(topology: string | TopologySpec, opts: { baseDir?: string } = {}): Promise<LabValidation> {
    const { t, loaded } = resolveLab(topology, 'check', opts.baseDir);
    await validateCni(loaded, t);
    return validationOf(t);
  }

  /** Every command `up` would run for this topology and run id, per stage and namespace (`vxlab plan`); a dry run. */
  static plan(topology: string | TopologySpec, opts: { runId?: string; baseDir?: string } = {}): LabPlan {
    const runId = checkRunId(opts.runId ?? (typeof topology === 'string' ? defaultRunId(resolve(topology)) : randomRunId()));
    const loaded = typeof topology === 'string' ? loadTopology(topology) : loadTopologyObject(topology, { baseDir: opts.baseDir });
    let t: ResolvedTopology;
    try {
      t = normalize(loaded.topology, { runId, file: loaded.file });
    } catch (e) {
      throw locateSemantic(loaded, e);
    }
    const p: LabPlan = plan(t);
    // steps: the control plane's commands per step, after up's (simulated; the file's topology is not changed)
    if (t.steps?.length) p.steps = renderSteps(t);
    return p;
  }

  /**
   * Draw a topology that is not up (`vxlab graph FILE`): underlay segments, router, nodes with their VTEPs, pods,
   * tunnels coloured by VNI, the faults where they act. No root, nothing on the host changes. For a running lab's
   * live state, `lab.graph()`.
   */
  static async graph(topology: string | TopologySpec, opts: LabGraphOptions & { baseDir?: string } = {}): Promise<string> {
    const format = graphFormat(opts.format);
    const loaded = typeof topology === 'string' ? loadTopology(topology) : loadTopologyObject(topology, { baseDir: opts.baseDir });
    let t: ResolvedTopology;
    try {
      t = normalize(loaded.topology, { runId: 'graph', file: loaded.file });
    } catch (e) {
      throw locateSemantic(loaded, e);
    }
    const { renderGraph, topologyGraph } = await import('../graph/index.ts');
    const g = await topologyGraph(t, { results: opts.results });
    g.runId = undefined; // a drawing of the topology, not of a run
    return renderGraph(g, format);
  }

  /**
   * `vxlab conformance`: bring up a VXLAN overlay whose pods the plugin chain in `conflist` attaches, run the cni/*
   * spec checks and the four suites on it, tear it down. Bad input (conflist, plugins, bin dirs, topology) throws
   * before the host changes; a failing check is a result (ok false, exitCode 1), never a throw.
   */
  static async conformance(opts: LabConformanceOptions): Promise<LabConformanceResult> {
    if (!opts?.conflist) throw new UsageError('Lab.conformance: expected opts.conflist');
    const timeoutMs = opts.pluginTimeoutMs ?? 10_000;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 100) throw new UsageError(`pluginTimeoutMs ${opts.pluginTimeoutMs}: expected milliseconds (an integer ≥ 100)`);
    const runId = checkRunId(opts.runId ?? randomRunId());
    const { conformance, prepareConformance } = await import('../runner/conformance.ts');
    // everything is checked before the host changes
    const inp = await prepareConformance({ conflist: opts.conflist, binDirs: opts.binDirs, topology: opts.topology, runId, reporter: opts.reporter, outDir: opts.outDir, timeoutMs });
    preflight();
    const r = await conformance(inp, { quiet: !opts.progress, signal: opts.signal });
    const j = toJsonReport(r.report);
    return { ...j, passed: j.summary.pass, failed: j.summary.fail, skipped: j.summary.skip, ok: r.exitCode === 0, output: r.output, exitCode: r.exitCode, interrupted: Boolean(r.interrupted), ...(r.message ? { message: r.message } : {}) };
  }

  /** Remove exactly what the run `runId` created (`vxlab down`). false: nothing is recorded for it. */
  static async down(runId: string): Promise<boolean> {
    return (await import('../runtime/lifecycle.ts')).downRun(checkRunId(runId));
  }

  /**
   * Reap runs whose owner process died before it finished (`vxlab cleanup`). all: every recorded vxlab run and every
   * unrecorded vx-* namespace, container and network on this host — other users' runs included.
   */
  static async cleanup(opts: { all?: boolean } = {}): Promise<LabCleanupResult> {
    return (await import('../runtime/lifecycle.ts')).cleanup(Boolean(opts.all));
  }

  /** A lab for a run that is already up (`vxlab up FILE`, or a persistent Lab.up). Throws NotUpError otherwise. */
  static async attach(topology: string | TopologySpec, opts: LabAttachOptions = {}): Promise<Lab> {
    return new Lab((await liveRun(topology, opts)).t);
  }

  get runId(): string {
    return this.#t.runId;
  }
  /** the topology's name */
  get name(): string {
    return this.#t.name;
  }
  /** every namespace of this run starts with it (vx-<run>) */
  get prefix(): string {
    return this.#t.prefix;
  }
  get file(): string | undefined {
    return this.#t.file;
  }
  get nodes(): LabNode[] {
    return labNodes(this.#t);
  }
  get pods(): LabPod[] {
    return this.nodes.flatMap((n) => n.pods);
  }
  /** faults the host could not apply (e.g. no ethtool): each becomes a skip result in test() */
  get skippedFaults(): CheckResult[] {
    return this.#faultSkips.map((x) => ({ ...x }));
  }
  /** what `vxlab status --json` shows, read now */
  get state(): LabStatus {
    return statusOf(this.#t, this.#live());
  }

  /** 'node/pod' → the pod. */
  pod(target: string): LabPod {
    const [node, pod, extra] = target.split('/');
    const n = this.node(node ?? '');
    const p = n.pods.find((x) => x.name === pod);
    if (!p || extra !== undefined) throw new UsageError(`unknown pod '${target}'; expected NODE/POD, one of: ${this.pods.map((x) => `${x.node}/${x.name}`).join(', ')}`);
    return p;
  }

  node(name: string): LabNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new UsageError(`unknown node '${name}'; expected one of: ${this.#t.nodes.map((x) => x.name).join(', ')}`);
    return n;
  }

  /** The namespace of 'node' or 'node/pod'. */
  ns(target: string): string {
    return target.includes('/') ? this.pod(target).ns : this.node(target).ns;
  }

  /** Run argv (no shell) in the namespace of 'node' or 'node/pod'. A non-zero exit is a result, never a throw. */
  async exec(target: string, argv: string[], opts: LabExecOptions = {}): Promise<LabExecResult> {
    const state = this.#live();
    if (!argv.length) throw new UsageError('exec: expected a command (argv)');
    const ns = this.ns(target);
    let full = ['ip', 'netns', 'exec', ns, ...argv];
    if (opts.container) {
      const n = this.#t.nodes.find((x) => x.name === target);
      if (!n?.container) throw new UsageError(`exec --container: ${target} is not a container node (runtime ${this.#t.runtime}; pods are namespaces)`);
      full = getRuntime(this.#t.runtime).execArgv(state, n.name, argv);
    }
    const t0 = performance.now();
    const inherit = opts.stdio === 'inherit';
    const { execa } = await loadExeca();
    const r = await execa(full[0]!, full.slice(1), {
      reject: false,
      timeout: opts.timeoutMs ?? 60_000,
      input: opts.input,
      env: opts.env,
      stdin: inherit && opts.input === undefined ? 'inherit' : undefined,
      stdout: inherit ? 'inherit' : 'pipe',
      stderr: inherit ? 'inherit' : 'pipe',
      stripFinalNewline: false,
    });
    const sig = r.signal ? constants.signals[r.signal as NodeJS.Signals] : undefined;
    return {
      exitCode: r.exitCode ?? (sig ? 128 + sig : r.failed && !r.timedOut ? 127 : 1),
      stdout: String(r.stdout ?? ''),
      stderr: String(r.stderr ?? '') || (r.exitCode === undefined && !r.signal && !r.timedOut ? String(r.shortMessage ?? '') : ''),
      timedOut: Boolean(r.timedOut),
      durationMs: Math.round(performance.now() - t0),
      ns,
    };
  }

  /** Run the suites (and the topology's `checks:`) against the live topology. */
  async test(opts: LabTestOptions = {}): Promise<LabReport> {
    const signal = opts.signal ?? new AbortController().signal;
    const r = await this.session({ suites: opts.suites, useExpect: opts.expect, outDir: opts.outDir, quiet: !opts.progress, reporter: 'json', signal });
    return toLabReport(r);
  }

  /**
   * test(), with the CLI's rendering (reporter output, expectations table, exit code): `vxlab test`. Without a
   * signal, SIGINT/SIGTERM stop it (exit code 130, the finished checks reported).
   */
  async session(o: { suites?: string[]; useExpect?: boolean; outDir?: string; quiet?: boolean; reporter?: string; signal?: AbortSignal }): Promise<SessionResult> {
    this.#live();
    const { runSession } = await import('../runner/session.ts');
    const r = await runSession({ file: this.#t.file ?? this.#t.name, topology: this.#t, runId: this.#t.runId, attach: true, ...o });
    if (this.#faultSkips.length) r.report.results.unshift(...this.#faultSkips.map((x) => ({ ...x })));
    return r;
  }

  /** Inject a fault (the kinds of a topology's `faults:`). down() undoes it with the namespaces. */
  async fault(f: FaultSpec): Promise<FaultOutcome> {
    this.#live();
    const parsed = FaultSchema.safeParse(f);
    if (!parsed.success) {
      throw new TopologyError(parsed.error.issues.map((i) => ({ key: ['fault', ...i.path].join('.'), message: i.message })));
    }
    const fault = parsed.data;
    const names = this.#t.nodes.map((n) => n.name);
    if (!names.includes(fault.node)) throw new TopologyError([{ key: 'fault.node', message: `unknown node '${fault.node}'; expected one of: ${names.join(', ')}` }]);
    if ('peer' in fault && (!names.includes(fault.peer) || fault.peer === fault.node)) {
      throw new TopologyError([{ key: 'fault.peer', message: `unknown peer '${fault.peer}'; expected another node: ${names.filter((n) => n !== fault.node).join(', ')}` }]);
    }
    if (fault.kind === 'vtep') throw new UsageError("fault kind 'vtep': a userspace VTEP's faults are set when it starts; list them in the topology's faults:");
    const skips = await (await import('../faults/apply.ts')).applyFaultsReporting(this.#t, [fault]);
    this.#t.faults.push(fault);
    if (skips.length) {
      this.#faultSkips.push(...skips);
      return { applied: false, reason: skips[0]!.skipReason };
    }
    return { applied: true };
  }

  /**
   * Apply one step to the running lab, as a topology file's `steps:` would (vxlab plays the control plane the way
   * flannel and felix reconcile, or as the topology's `control:` says): an action moves the lab's expected state with
   * it (lab.pods, lab.test() follow); a check step runs its suites or checks, retried until they pass or `within` runs
   * out. Bad input throws a TopologyError (key `step.…`) before anything changes.
   */
  async step(step: StepSpec, opts: { signal?: AbortSignal } = {}): Promise<StepOutcome> {
    const state = this.#live();
    const parsed = StepSchema.safeParse(step);
    if (!parsed.success) throw new TopologyError(parsed.error.issues.map((i) => ({ key: ['step', ...i.path].join('.'), message: i.message })));
    let s;
    try {
      s = resolveLiveStep(this.#t, parsed.data);
    } catch (e) {
      if (e instanceof SemanticError) throw new TopologyError([{ key: ['step', ...e.path.slice(2)].join('.'), message: e.message }]);
      throw e;
    }
    if (s.action === 'check') {
      const { SUITE_NAMES, CHECK_IDS } = await import('../../suites/ids.ts');
      const bad = s.check.find((c) => !SUITE_NAMES.includes(c) && !CHECK_IDS.includes(c));
      if (bad) throw new TopologyError([{ key: 'step.check', message: `unknown suite or check '${bad}'; expected a suite (${SUITE_NAMES.join(', ')}) or a check id like routes/fdb` }]);
    }
    this.#stepN = Math.max(this.#stepN, ...(state.steps ?? []).map((x) => x.n)) + 1;
    s.n = this.#stepN;
    const saved = this.#t.steps;
    this.#t.steps = [s];
    try {
      const r = await runSteps(this.#t, state, { workDir: state.workDir, signal: opts.signal });
      const tl = r.timeline[0]!;
      return { n: s.n, what: describeStep(s), ms: Math.round(tl.ms), results: r.results, ok: r.results.every((x) => x.status !== 'fail'), ...(tl.attempts !== undefined ? { attempts: tl.attempts, converged: tl.converged, ...(tl.settled ? { settled: true } : {}) } : {}) };
    } finally {
      this.#t.steps = saved;
    }
  }

  /**
   * Draw this lab's live state (`vxlab graph FILE --run-id ID`): what `ip -j` / `bridge -j` read in its namespaces,
   * with everything that differs from the topology marked in red. Needs root, as every live read.
   */
  async graph(opts: LabGraphOptions = {}): Promise<string> {
    const format = graphFormat(opts.format);
    const state = this.#live();
    const { renderGraph, topologyGraph } = await import('../graph/index.ts');
    return renderGraph(await topologyGraph(this.#t, { live: { workDir: state.workDir }, results: opts.results }), format);
  }

  /** A userspace VTEP's counters, drop reasons and FDB (`vxlab vtep stats`). */
  async vtepStats(node: string): Promise<VtepStats> {
    const state = this.#live();
    const n = this.#t.nodes.find((x) => x.name === node);
    if (!n) throw new UsageError(`unknown node '${node}'; expected one of: ${this.#t.nodes.map((x) => x.name).join(', ')}`);
    if (n.vtep.kind !== 'userspace') throw new UsageError(`${node} uses a kernel VTEP (${n.vtep.dev}); it has no userspace VTEP stats`);
    return (await import('../vtep/stats.ts')).readVtepStats(vtepPaths(state.workDir, n.name).control);
  }

  /** Remove exactly what up created. Idempotent; `await using` calls it. */
  async down(): Promise<void> {
    if (this.#down) return;
    const s = readState(this.#t.runId);
    if (s) await (await import('../runtime/lifecycle.ts')).teardown(s);
    disown(this.#t.runId);
    this.#down = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.down();
  }

  #live(): RunState {
    const s = this.#down ? undefined : readState(this.#t.runId);
    if (!s) throw new NotUpError(`run ${this.#t.runId} (${this.#t.name}) is not up${this.#down ? ': down() was called' : ''}`, this.#t.runId);
    return s;
  }
}

export function toLabReport(r: SessionResult): LabReport {
  const j = toJsonReport(r.report);
  return { ...j, passed: j.summary.pass, failed: j.summary.fail, skipped: j.summary.skip, verdicts: r.verdicts, ok: r.exitCode === 0 };
}
