// Runs suites against a live topology and collects CheckResults; writes artifacts when something fails.
import { resetEvidence } from './evidence.ts';
import type { CheckResult } from '../report/types.ts';
import type { ResolvedTopology } from '../topology/resolved.ts';
import type { CheckContext, SuiteDef } from './check.ts';
import { run, pool, stripStack } from '../util/exec.ts';
import { InterruptedError, whenAborted, withScope } from '../util/scope.ts';
import type { HealthProblem } from './health.ts';

export interface RunSuitesOptions {
  workDir: string;
  onProgress?: (msg: string) => void;
  onResult?: (r: CheckResult) => void;
  /** SIGINT/SIGTERM (or a caller's stop): the check in flight is abandoned, its probes killed, no further check runs */
  signal?: AbortSignal;
  /** mid-run faults (vanished namespace, dead VTEP): looked at before each check and every `healthIntervalMs` during one */
  health?: (phase: 'before' | 'during') => HealthProblem[];
  healthIntervalMs?: number;
}

export interface RunSuitesResult {
  results: CheckResult[];
  kept: string[];
  /** stopped by the signal: `results` holds the checks that finished before it */
  interrupted: boolean;
}

/** The id under which mid-run faults are reported (once, as a failure). */
export const HEALTH_ID = 'run/health';

class HealthStop extends Error {
  constructor(readonly problems: HealthProblem[]) {
    super(problems.map((p) => p.message).join('; '));
  }
}

export async function runSuites(t: ResolvedTopology, suites: SuiteDef[], o: RunSuitesOptions): Promise<RunSuitesResult> {
  // one call = one observation of the system: what an earlier call observed (a Lab's previous test(), a step's check
  // before an action) is forgotten, because the system may have changed since (a fault, a step, a hand edit)
  resetEvidence(t);
  const kept: string[] = [];
  const results: CheckResult[] = [];
  let broken: HealthProblem[] | undefined;
  let started = false;
  // reported once, in the suite (and at the place) where a lane first saw the fault
  const reportHealth = (problems: HealthProblem[], push: (r: CheckResult) => void) => {
    if (broken) return;
    broken = problems;
    push({
      id: HEALTH_ID,
      suite: 'run',
      title: 'the topology stays intact while the checks run (namespaces, VTEP processes)',
      status: 'fail',
      message: problems.map((p) => p.message).join('; '),
      diffs: problems.length > 1 ? problems.map((p) => p.message) : undefined,
      durationMs: 0,
    });
  };
  const makeCtx = (): CheckContext => {
    const memo = new Map<string, Promise<unknown>>();
    return {
      t,
      workDir: o.workDir,
      keep: (f) => kept.push(f),
      progress: (m) => o.onProgress?.(m),
      memo: <T>(key: string, make: () => Promise<T>) => {
        if (!memo.has(key)) memo.set(key, make());
        return memo.get(key) as Promise<T>;
      },
      trafficGate: () => readersDone,
    };
  };
  const ctxs = new Map<SuiteDef, CheckContext>(suites.map((s) => [s, makeCtx()]));
  const runSuite = async (suite: SuiteDef, push: (r: CheckResult) => void): Promise<boolean> => {
    const ctx = ctxs.get(suite)!;
    for (const c of suite.checks) {
      if (o.signal?.aborted) return false;
      if (!suite.readsOnly && !suite.gatesTraffic) await readersDone;
      if (o.signal?.aborted) return false;
      if (!broken) {
        const problems = o.health?.(started ? 'during' : 'before') ?? [];
        if (problems.length) reportHealth(problems, push);
      }
      if (broken) {
        const why = `not run: ${broken[0]!.message}${broken.length > 1 ? ` (and ${broken.length - 1} more)` : ''} (see ${HEALTH_ID})`;
        push({ id: c.id, suite: suite.name, title: c.title, status: 'skip', skipReason: why, message: why, durationMs: 0 });
        continue;
      }
      o.onProgress?.(c.id);
      started = true;
      const t0 = performance.now();
      // the check's own stop: fired by the run's signal or by a mid-run fault; its probes and captures die with it
      const stop = new AbortController();
      const onOuter = () => stop.abort(o.signal!.reason);
      o.signal?.addEventListener('abort', onOuter, { once: true });
      const timer = o.health
        ? setInterval(() => {
            const problems = o.health!('during');
            if (problems.length) stop.abort(new HealthStop(problems));
          }, o.healthIntervalMs ?? 250)
        : undefined;
      const stopped = whenAborted(stop.signal);
      let r: CheckResult;
      try {
        const out = await Promise.race([withScope({ signal: stop.signal }, () => c.run(ctx)), stopped.promise]);
        r = { id: c.id, suite: suite.name, title: c.title, ...out, durationMs: Math.round(performance.now() - t0) };
      } catch (e: any) {
        const reason = stop.signal.aborted ? stop.signal.reason : undefined;
        if (o.signal?.aborted) return false;
        if (reason instanceof HealthStop) {
          reportHealth(reason.problems, push);
          const why = `stopped: ${reason.problems[0]!.message} (see ${HEALTH_ID})`;
          push({ id: c.id, suite: suite.name, title: c.title, status: 'skip', skipReason: why, message: why, durationMs: Math.round(performance.now() - t0) });
          continue;
        }
        const msg = e instanceof InterruptedError ? e.message : stripStack(String(e?.message ?? e));
        r = { id: c.id, suite: suite.name, title: c.title, status: 'fail', message: `check crashed: ${msg}`, durationMs: Math.round(performance.now() - t0) };
      } finally {
        clearInterval(timer);
        stopped.dispose();
        o.signal?.removeEventListener('abort', onOuter);
      }
      // a fault that struck while the check ran explains its result better than the result itself
      if (o.signal?.aborted) return false;
      const after = o.health?.('during') ?? [];
      if (after.length) {
        reportHealth(after, push);
        const why = `stopped: ${after[0]!.message} (see ${HEALTH_ID})`;
        push({ id: c.id, suite: suite.name, title: c.title, status: 'skip', skipReason: why, message: why, durationMs: r.durationMs });
        continue;
      }
      push(r);
    }
    return true;
  };
  // Concurrency: suites that only read kernel state (readsOnly: routes) run in a lane of their own, alongside the
  // others; what sends traffic waits until the readers are done (trafficGate), so they read the state `up` left —
  // the overlap is the readers' reads against the other suites' reads and capture start-up. Traffic-generating
  // checks still run one after another: a capture sees only its own check's packets (the encapsulation capture takes
  // every packet on the underlay links, unfiltered, so nothing else may send while it runs).
  const readers = suites.filter((s) => s.readsOnly);
  const others = suites.filter((s) => !s.readsOnly);
  const bySuite = new Map<SuiteDef, CheckResult[]>(suites.map((s) => [s, []]));
  const lane = async (ss: SuiteDef[]) => {
    for (const s of ss) if (!(await runSuite(s, (r) => (bySuite.get(s)!.push(r), o.onResult?.(r))))) return false;
    return true;
  };
  let openGate!: () => void;
  const readersDone = new Promise<void>((r) => (openGate = r));
  // the gate opens when every reader check's reads (CheckDef.reads) have resolved — started here, one after another,
  // under the run's signal — or, at the latest, when the readers' lane ends (a reader check without reads, a failed
  // read, a stop). The readers' comparisons then run alongside the traffic: they only look at what was read.
  const readerChecks = readers.flatMap((s) => s.checks.map((c) => [s, c] as const));
  if (readerChecks.length && readerChecks.every(([, c]) => c.reads)) {
    const readAll = async () => {
      for (const [s, c] of readerChecks) {
        if (o.signal?.aborted) return;
        await c.reads!(ctxs.get(s)!);
      }
    };
    (o.signal ? withScope({ signal: o.signal }, readAll) : readAll()).then(() => openGate(), () => undefined);
  }
  const readerLane = lane(readers).finally(() => openGate());
  const [a, b] = await Promise.all([readerLane, lane(others)]);
  // the report keeps the suites' order; a health failure is reported once, where it was first seen
  for (const s of suites) results.push(...bySuite.get(s)!);
  if (!a || !b) return { results, kept, interrupted: true };
  return { results, kept, interrupted: false };
}

// On failure: the artifacts (pcaps, state dumps, resolved topology, index.json): harness/report/artifacts.ts
export { writeArtifacts } from '../report/artifacts.ts';
