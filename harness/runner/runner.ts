// Runs suites against a live topology and collects CheckResults; writes artifacts when something fails.
import { resetEvidence } from './evidence.ts';
import { copyFileSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { CheckResult } from '../report/types.ts';
import type { ResolvedTopology } from '../topology/resolved.ts';
import type { CheckContext, SuiteDef } from './check.ts';
import { namespaces } from '../topology/resolved.ts';
import { run, pool, stripStack } from '../util/exec.ts';
import { nsExists } from '../runtime/netns/runtime.ts';
import { ipBatch, type BatchResult } from '../probe/kernel.ts';
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
  const push = (r: CheckResult) => {
    results.push(r);
    o.onResult?.(r);
  };
  const reportHealth = (problems: HealthProblem[]) => {
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
  for (const suite of suites) {
    const memo = new Map<string, Promise<unknown>>();
    const ctx: CheckContext = {
      t,
      workDir: o.workDir,
      keep: (f) => kept.push(f),
      progress: (m) => o.onProgress?.(m),
      memo: <T>(key: string, make: () => Promise<T>) => {
        if (!memo.has(key)) memo.set(key, make());
        return memo.get(key) as Promise<T>;
      },
    };
    for (const c of suite.checks) {
      if (o.signal?.aborted) return { results, kept, interrupted: true };
      if (!broken) {
        const problems = o.health?.(started ? 'during' : 'before') ?? [];
        if (problems.length) reportHealth(problems);
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
        if (o.signal?.aborted) return { results, kept, interrupted: true };
        if (reason instanceof HealthStop) {
          reportHealth(reason.problems);
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
      if (o.signal?.aborted) return { results, kept, interrupted: true };
      const after = o.health?.('during') ?? [];
      if (after.length) {
        reportHealth(after);
        const why = `stopped: ${after[0]!.message} (see ${HEALTH_ID})`;
        push({ id: c.id, suite: suite.name, title: c.title, status: 'skip', skipReason: why, message: why, durationMs: r.durationMs });
        continue;
      }
      push(r);
    }
  }
  return { results, kept, interrupted: false };
}

/** On failure: pcaps, `ip -j` dumps of every namespace, and the resolved topology, into DIR. */
export async function writeArtifacts(t: ResolvedTopology, dir: string, files: string[]): Promise<string> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'resolved.json'), JSON.stringify(t, null, 2));
  for (const f of files) if (existsSync(f)) copyFileSync(f, join(dir, basename(f)));
  const live = namespaces(t).filter(nsExists);
  mkdirSync(join(dir, 'ns'), { recursive: true });
  // three processes per namespace, entering only its network namespace: one `ip -d -batch` for the four ip tables,
  // `bridge` and `nft` (a failing run writes these on every repro; one process per table was most of its extra time)
  await pool(live, 8, async (ns) => {
    const dump: Record<string, unknown> = {};
    const keys = ['link', 'addr', 'route', 'neigh'] as const;
    const [ip, fdb, nft] = await Promise.all([
      ipBatch(ns, ['link show', 'addr show', 'route show table all', 'neigh show'], true).catch((e): BatchResult[] => keys.map(() => ({ error: String(e?.message ?? e) }))),
      run(['bridge', '-j', 'fdb', 'show'], { ns, netOnly: true, reject: false }),
      run(['nft', '-j', 'list', 'ruleset'], { ns, netOnly: true, reject: false }),
    ]);
    for (const [i, key] of keys.entries()) dump[key] = ip[i]!.json ?? ip[i]!.error;
    dump.fdb = safeJson(fdb.stdout || 'null');
    dump.nft = nft.exitCode === 0 ? safeJson(nft.stdout) : null;
    writeFileSync(join(dir, 'ns', `${ns}.json`), JSON.stringify(dump, null, 2));
  });
  return dir;
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}
