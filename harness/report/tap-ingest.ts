// Ingest TAP produced by external scripts into CheckResults (via tap-parser), and run
// such a script as one check whose subtests are the script's test points.
import { Parser, type Result } from 'tap-parser';
import { run } from '../util/exec.ts';
import type { CheckResult } from './types.ts';

export interface IngestOptions {
  /** id prefix for every result, default `external/<name>` */
  prefix?: string;
  /** suite name for every result, default `external` */
  suite?: string;
}

/** `1-some-description` style id fragment. */
export function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60)
      .replace(/-+$/, '') || 'test'
  );
}

interface Level {
  results: CheckResult[];
  /** results of a just-finished child stream, waiting for its closing test point */
  pendingChild?: CheckResult[];
}

const first = (d: Record<string, unknown>, keys: string[]): unknown => {
  for (const k of keys) if (d[k] !== undefined) return d[k];
  return undefined;
};

const MESSAGE_KEYS = ['message', 'msg', 'error'];
const EXPECTED_KEYS = ['expected', 'wanted', 'expect', 'want'];
const OBSERVED_KEYS = ['observed', 'found', 'actual', 'got'];
const CONSUMED = new Set([...MESSAGE_KEYS, ...EXPECTED_KEYS, ...OBSERVED_KEYS, 'diffs', 'diff', 'details', 'duration_ms', 'artifacts', 'severity']);

function fromResult(r: Result, prefix: string, suite: string): CheckResult {
  const name = r.name?.trim() || `test ${r.id}`;
  const c: CheckResult = {
    id: `${prefix}/${r.id}-${slug(name)}`,
    suite,
    title: name,
    status: r.ok ? 'pass' : 'fail',
    durationMs: 0,
  };
  if (r.todo !== false) {
    const reason = typeof r.todo === 'string' && r.todo ? r.todo : undefined;
    if (r.ok) c.message = `TODO${reason ? ` (${reason})` : ''} passed unexpectedly`;
    else {
      c.status = 'skip';
      c.skipReason = `TODO${reason ? `: ${reason}` : ''}`;
    }
  } else if (r.skip !== false) {
    c.status = 'skip';
    c.skipReason = typeof r.skip === 'string' && r.skip ? r.skip : 'skipped';
  }
  const d = r.diag && typeof r.diag === 'object' && !Array.isArray(r.diag) ? (r.diag as Record<string, unknown>) : undefined;
  if (d) {
    const msg = first(d, MESSAGE_KEYS);
    if (msg !== undefined) c.message = typeof msg === 'string' ? msg : JSON.stringify(msg);
    const exp = first(d, EXPECTED_KEYS);
    if (exp !== undefined) c.expected = exp;
    const obs = first(d, OBSERVED_KEYS);
    const rest: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(d)) if (!CONSUMED.has(k)) rest[k] = v;
    if (obs !== undefined) c.observed = obs;
    else if (Object.keys(rest).length) c.observed = rest; // unknown diagnostics: keep them visible
    if (Array.isArray(d.diffs)) c.diffs = d.diffs.map(String);
    else if (typeof d.diff === 'string') c.diffs = d.diff.split('\n').filter((l) => l !== '');
    if (typeof d.details === 'string') c.details = d.details;
    if (typeof d.artifacts === 'string') c.artifacts = d.artifacts;
    if (typeof d.duration_ms === 'number') c.durationMs = d.duration_ms;
  } else if (r.diag !== null && r.diag !== undefined) {
    c.observed = r.diag;
  }
  if (!c.durationMs && typeof r.time === 'number') c.durationMs = Math.round(r.time);
  if (r.tapError) {
    c.status = 'fail';
    c.message = `TAP error: ${r.tapError}${c.message ? `; ${c.message}` : ''}`;
  }
  if (c.status === 'fail' && !c.message) c.message = 'not ok';
  return c;
}

function hook(p: Parser, level: Level, prefix: string, suite: string): void {
  p.on('child', (child: Parser) => {
    const sub: Level = { results: [] };
    // child ids are nested under the (future) closing point; use a provisional prefix
    hook(child, sub, prefix, suite);
    child.on('complete', () => {
      level.pendingChild = sub.results;
    });
  });
  p.on('assert', (r: Result) => {
    const c = fromResult(r, prefix, suite);
    if (level.pendingChild) {
      c.subtests = reprefix(level.pendingChild, c.id);
      level.pendingChild = undefined;
      if (c.status === 'pass' && c.subtests.some((s) => s.status === 'fail')) {
        c.status = 'fail';
        c.message = 'a subtest failed but the closing test point is ok';
      }
    }
    level.results.push(c);
  });
}

function reprefix(results: CheckResult[], parentId: string): CheckResult[] {
  return results.map((r) => {
    const tail = r.id.slice(r.id.lastIndexOf('/') + 1);
    const id = `${parentId}/${tail}`;
    return { ...r, id, ...(r.subtests ? { subtests: reprefix(r.subtests, id) } : {}) };
  });
}

export interface IngestResult {
  results: CheckResult[];
  /** true when the stream is valid and nothing failed */
  ok: boolean;
  /** non-TAP lines (stdout that is neither TAP nor a comment) */
  extra: string[];
  comments: string[];
  plan?: { start: number; end: number; skipAll: boolean; skipReason: string };
  bailout?: string;
}

/**
 * Parse a TAP stream into CheckResults with ids `<prefix>/<n>-<slug>`.
 * Stream-level problems become extra failing results: `<prefix>/bail-out`,
 * `<prefix>/plan` (missing plan or count mismatch).
 */
export function parseTap(name: string, text: string, opts: IngestOptions = {}): IngestResult {
  const prefix = opts.prefix ?? `external/${name}`;
  const suite = opts.suite ?? 'external';
  const root: Level = { results: [] };
  const extra: string[] = [];
  const comments: string[] = [];
  let bailout: string | undefined;
  let final: import('tap-parser').FinalResults | undefined;
  const p = new Parser((r) => {
    final = r;
  });
  hook(p, root, prefix, suite);
  p.on('extra', (s: string) => extra.push(s.replace(/\n$/, '')));
  p.on('comment', (s: string) => comments.push(s.replace(/\n$/, '')));
  p.on('bailout', (reason: string) => {
    if (bailout === undefined) bailout = reason;
  });
  p.end(text.endsWith('\n') || text === '' ? text : text + '\n');

  const results = root.results;
  const f = final;
  const hasPlanLine = /^1\.\.\d+/m.test(text);
  if (bailout !== undefined || f?.bailout) {
    const reason = bailout ?? String(f?.bailout ?? '');
    results.push({
      id: `${prefix}/bail-out`,
      suite,
      title: 'Bail out!',
      status: 'fail',
      message: `Bail out!${reason ? ` ${reason}` : ''}`,
      durationMs: 0,
    });
  } else if (!hasPlanLine) {
    results.push({
      id: `${prefix}/plan`,
      suite,
      title: 'plan',
      status: 'fail',
      message: results.length ? `missing plan: saw ${results.length} test point(s) but no 1..N plan line` : 'no TAP output: no plan and no test points',
      durationMs: 0,
    });
  } else if (f && !f.plan.skipAll && f.plan.end !== null && f.plan.start !== null) {
    const planned = f.plan.end - f.plan.start + 1;
    if (planned !== f.count) {
      results.push({
        id: `${prefix}/plan`,
        suite,
        title: 'plan',
        status: 'fail',
        message: `plan mismatch: planned ${planned} test(s) (${f.plan.start}..${f.plan.end}) but saw ${f.count}`,
        expected: planned,
        observed: f.count,
        durationMs: 0,
      });
    }
  }
  if (f?.plan.skipAll && results.length === 0 && hasPlanLine) {
    results.push({
      id: `${prefix}/all`,
      suite,
      title: 'all tests',
      status: 'skip',
      skipReason: f.plan.skipReason.replace(/^SKIP\s*/i, '') || 'skipped (1..0)',
      durationMs: 0,
    });
  }
  return {
    results,
    ok: results.every((r) => r.status !== 'fail'),
    extra,
    comments,
    plan: f ? { start: f.plan.start ?? 0, end: f.plan.end ?? 0, skipAll: f.plan.skipAll, skipReason: f.plan.skipReason } : undefined,
    bailout,
  };
}

/** Parse TAP text into CheckResults (see parseTap). */
export function ingestTap(name: string, text: string, opts: IngestOptions = {}): CheckResult[] {
  return parseTap(name, text, opts).results;
}

export interface RunTapOptions extends IngestOptions {
  cwd?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
  /** run inside this network namespace */
  ns?: string;
  title?: string;
}

const tail = (s: string, n: number): string => {
  const lines = s.replace(/\s+$/, '').split('\n');
  return lines.slice(-n).join('\n');
};

/**
 * Run an external program (argv array, no shell) that prints TAP on stdout and return
 * one CheckResult `external/<name>` whose subtests are its test points. It fails when the
 * program exits non-zero, times out, or any test point / the stream itself fails.
 */
export async function runTapScript(name: string, argv: string[], opts: RunTapOptions = {}): Promise<CheckResult> {
  const prefix = opts.prefix ?? `external/${name}`;
  const suite = opts.suite ?? 'external';
  const base: CheckResult = { id: prefix, suite, title: opts.title ?? name, status: 'fail', durationMs: 0 };
  let res;
  try {
    res = await run(argv, { cwd: opts.cwd, timeoutMs: opts.timeoutMs, env: opts.env, ns: opts.ns, reject: false });
  } catch (e) {
    return { ...base, message: `could not run ${argv.join(' ')}: ${(e as Error).message}` };
  }
  const parsed = parseTap(name, res.stdout, { prefix, suite });
  const subtests = parsed.results;
  const failed = subtests.filter((s) => s.status === 'fail');
  const problems: string[] = [];
  if (res.timedOut) problems.push(`timed out after ${opts.timeoutMs ?? 60_000} ms`);
  else if (res.signal) problems.push(`killed by ${res.signal}`);
  else if (res.exitCode === -1) problems.push('could not be started (missing or not executable?)');
  else if (res.exitCode !== 0) problems.push(`exit code ${res.exitCode}`);
  if (failed.length) problems.push(`${failed.length} of ${subtests.length} failed: ${failed.map((f) => f.title).join(', ')}`);

  const details: string[] = [];
  if (parsed.extra.length) details.push('non-TAP output:', ...parsed.extra.slice(-40).map((l) => '  ' + l));
  if (res.stderr.trim()) details.push('stderr:', ...tail(res.stderr, 40).split('\n').map((l) => '  ' + l));

  const out: CheckResult = {
    ...base,
    status: problems.length ? 'fail' : subtests.length && subtests.every((s) => s.status === 'skip') ? 'skip' : 'pass',
    durationMs: res.durationMs,
    subtests,
  };
  if (problems.length) out.message = `${argv.join(' ')}: ${problems.join('; ')}`;
  if (out.status === 'skip') out.skipReason = subtests.length === 1 ? subtests[0]!.skipReason : 'all tests skipped';
  if (problems.length) {
    out.expected = { exitCode: 0, failed: 0 };
    out.observed = { exitCode: res.exitCode, failed: failed.length, ...(res.timedOut ? { timedOut: true } : {}) };
  }
  if (details.length) out.details = details.join('\n');
  return out;
}
