// Expectations (`expect:` in a topology): check id or suite → pass | fail | skip, with an optional message pattern.
import type { CheckResult, Status } from '../report/types.ts';
import type { ExpectResult } from '../topology/schema.ts';
import type { Loaded } from '../topology/load.ts';
import { TopologyError } from '../topology/errors.ts';

export interface Verdict {
  id: string;
  expected: Status;
  pattern?: string;
  observed: Status;
  message?: string;
  holds: boolean;
  /** where the expectation came from: an explicit id, its suite, or the default (pass) */
  source: 'id' | 'suite' | 'default';
  why?: string;
}

function norm(e: ExpectResult): { result: Status; message?: string } {
  return typeof e === 'string' ? { result: e } : e;
}

/** The message pattern as a RegExp, or why it is not one. */
export function compilePattern(pattern: string): RegExp | string {
  try {
    return new RegExp(pattern);
  } catch (e) {
    return (e as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '');
  }
}

/** Unknown ids and invalid message patterns are errors, not silent passes (or crashes after the run). */
export function validateExpect(loaded: Loaded, expect: Record<string, ExpectResult>, known: string[], suites: string[]): void {
  const issues = [];
  for (const [key, value] of Object.entries(expect)) {
    if (!(known.includes(key) || suites.includes(key) || key.startsWith('external/'))) {
      issues.push({ loc: loaded.locate(['expect', key], true), key: `expect.${key}`, message: `unknown check id or suite '${key}'; expected a suite (${suites.join(', ')}) or a check id such as ${known.slice(0, 4).join(', ')} (vxlab run --list shows all)` });
    }
    if (typeof value === 'object' && value.message !== undefined) {
      const re = compilePattern(value.message);
      if (typeof re === 'string') issues.push({ loc: loaded.locate(['expect', key, 'message']), key: `expect.${key}.message`, message: `invalid regular expression /${value.message}/: ${re}` });
    }
  }
  if (issues.length) throw new TopologyError(issues);
}

export function judge(results: CheckResult[], expect: Record<string, ExpectResult>): Verdict[] {
  return results.map((r) => {
    const byId = expect[r.id];
    const bySuite = expect[r.suite] ?? (r.id.startsWith('external/') ? expect[r.id.split('/').slice(0, 2).join('/')] : undefined);
    // unmentioned checks must not fail; a SKIP (feature missing, nothing to test here) is not a failure
    const e = byId ? norm(byId) : bySuite ? norm(bySuite) : { result: (r.status === 'skip' ? 'skip' : 'pass') as Status };
    const source = byId ? 'id' : bySuite ? 'suite' : 'default';
    // a suite-level "fail" holds if the suite failed as a whole: individual checks of that suite may pass
    // a suite-level "pass" holds if no check of the suite fails and at least one passes: a check that skips as not
    // applicable (connectivity/isolation on one VNI) does not break it, a suite that skipped entirely does
    let holds: boolean;
    let why: string | undefined;
    const ofSuite = results.filter((x) => x.suite === r.suite);
    if (source === 'suite' && e.result === 'fail') {
      const suiteFailed = ofSuite.some((x) => x.status === 'fail');
      holds = suiteFailed && (r.status !== 'fail' || matches(r, e.message));
      if (!suiteFailed) why = `expected suite ${r.suite} to fail, but every check passed or skipped`;
    } else if (source === 'suite' && e.result === 'pass') {
      const anyPass = ofSuite.some((x) => x.status === 'pass');
      holds = r.status !== 'fail' && anyPass;
      if (r.status !== 'fail' && !anyPass) why = `expected suite ${r.suite} to pass, but no check of it passed (all skipped)`;
    } else {
      holds = r.status === e.result && (e.result !== 'fail' || matches(r, e.message));
    }
    if (!holds && !why) {
      why = r.status !== e.result ? `expected ${e.result}, observed ${r.status}` : `message does not match /${e.message}/: ${r.message ?? ''}`;
    }
    return { id: r.id, expected: e.result, pattern: e.message, observed: r.status, message: r.message, holds, source, why };
  });
}

function matches(r: CheckResult, pattern?: string): boolean {
  if (!pattern) return true;
  const re = compilePattern(pattern);
  if (typeof re === 'string') return false; // validate rejects these; an expectation that cannot match does not hold
  return [r.message ?? '', ...(r.diffs ?? [])].some((s) => re.test(s));
}

/** The suite an expectation key belongs to: `routes/fdb` → routes, `routes` → routes, `external/x/…` → external. */
export function suiteOf(key: string): string {
  return key.split('/')[0]!;
}

/**
 * Expectations that name a check or suite that produced no result at all do not hold either — unless their suite was
 * not run (`--suite`): those are not judged (see notJudged), not failed.
 */
export function unmatched(results: CheckResult[], expect: Record<string, ExpectResult>, ranSuites?: string[]): string[] {
  return Object.keys(expect).filter((k) => !results.some((r) => r.id === k || r.suite === k || r.id.startsWith(`${k}/`)) && !notRun(k, ranSuites));
}

/** Expectations for suites that did not run in this session (`--suite` chose others): reported, not judged. */
export function notJudged(expect: Record<string, ExpectResult>, ranSuites?: string[]): string[] {
  return Object.keys(expect).filter((k) => notRun(k, ranSuites));
}

function notRun(key: string, ranSuites?: string[]): boolean {
  return !!ranSuites && suiteOf(key) !== 'external' && !ranSuites.includes(suiteOf(key));
}

export function renderVerdicts(vs: Verdict[], missing: string[], skipped: string[] = []): string {
  const w = Math.max(10, ...vs.map((v) => v.id.length));
  const lines = [`${'check'.padEnd(w)}  ${'expected'.padEnd(8)}  ${'observed'.padEnd(8)}  verdict`];
  for (const v of vs) {
    lines.push(`${v.id.padEnd(w)}  ${v.expected.padEnd(8)}  ${v.observed.padEnd(8)}  ${v.holds ? 'holds' : `DOES NOT HOLD: ${v.why}`}${v.source === 'default' ? '' : `  (${v.source === 'id' ? 'expect' : 'expect by suite'}${v.pattern ? ` /${v.pattern}/` : ''})`}`);
  }
  for (const m of missing) lines.push(`${m.padEnd(w)}  ${'?'.padEnd(8)}  ${'none'.padEnd(8)}  DOES NOT HOLD: no check with this id or suite ran`);
  for (const m of skipped) lines.push(`${m.padEnd(w)}  ${'?'.padEnd(8)}  ${'none'.padEnd(8)}  not judged: suite ${suiteOf(m)} was not run (--suite)`);
  return lines.join('\n');
}
