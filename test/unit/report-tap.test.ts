import { describe, expect, it } from 'vitest';
import { escapeTap, toTap } from '../../harness/report/tap.ts';
import type { CheckResult, RunReport } from '../../harness/report/types.ts';
import { parseTapTree } from './report-helpers.ts';
import { GRID, sampleReport } from './report-sample.ts';

describe('TAP writer', () => {
  it('writes a TAP 14 stream with version, plan and one point per check', () => {
    const tap = toTap(sampleReport());
    const lines = tap.split('\n');
    expect(lines[0]).toBe('TAP version 14');
    expect(lines).toContain('1..5');
    expect(lines).toContain('ok 1 - encapsulation/udp-dst-port');
    expect(lines).toContain('not ok 2 - routes/remote-subnets');
    expect(tap.endsWith('\n')).toBe(true);
  });

  it('parses with tap-parser: counts and plan', () => {
    const { final, points } = parseTapTree(toTap(sampleReport()));
    expect(final.plan.start).toBe(1);
    expect(final.plan.end).toBe(5);
    expect(final.count).toBe(5);
    expect(final.pass).toBe(2); // the skip is an ok point
    expect(final.fail).toBe(3);
    expect(final.skip).toBe(1);
    expect(final.failures.filter((f) => 'tapError' in f && f.tapError)).toEqual([]);
    expect(points.map((p) => p.result.name)).toEqual([
      'encapsulation/udp-dst-port',
      'routes/remote-subnets',
      'connectivity/full-mesh',
      'mtu/pmtu #2 \\ probe',
      'external/fdb-script',
    ]);
  });

  it('escapes # and \\ in descriptions and skip reasons', () => {
    const tap = toTap(sampleReport());
    expect(tap).toContain('ok 4 - mtu/pmtu \\#2 \\\\ probe # SKIP needs \\#jumbo frames');
    const { points } = parseTapTree(tap);
    expect(points[3]!.result.name).toBe('mtu/pmtu #2 \\ probe');
    expect(points[3]!.result.skip).toBe('needs #jumbo frames');
    expect(escapeTap('a#b\\c\nd')).toBe('a\\#b\\\\c d');
  });

  it('round-trips YAML diagnostics (expected/observed/diffs/artifacts/duration)', () => {
    const report = sampleReport();
    const { points } = parseTapTree(toTap(report));
    const routes = report.results[1]!;
    const diag = points[1]!.result.diag;
    expect(diag.message).toBe(routes.message);
    expect(diag.expected).toEqual(routes.expected);
    expect(diag.observed).toEqual(routes.observed);
    expect(diag.diffs).toEqual(routes.diffs);
    expect(diag.artifacts).toBe(routes.artifacts);
    // tap-parser lifts the conventional `duration_ms` key into result.time
    expect(points[1]!.result.time).toBe(87);
    const mesh = points[2]!.result.diag;
    expect(mesh.details).toBe(GRID);
    expect(mesh.observed).toBe(report.results[2]!.observed);
    expect(points[0]!.result.diag).toBeNull(); // passes carry no diagnostics by default
  });

  it('round-trips awkward values through YAML', () => {
    const awkward = {
      yes: 'yes',
      date: '2024-01-01',
      octal: '0o12',
      colon: 'a: b',
      dashes: '---',
      dots: '...',
      hash: '# not a comment',
      quote: `it's "quoted"`,
      ctrl: 'bell\u0007 esc\u001b del\u007f nel\u0085 tab\t',
      leading: '  indented\n    more\n',
      trailing: 'x\n\n',
      unicode: 'π → ✓ 🙂',
      blank: '',
      num: 1.25,
      neg: -3,
      big: 12345678901234567890n,
      nested: [{ a: [1, [2, 3]], 'weird key: #': null }, [], {}],
      tapLike: 'not ok 1 - fake\n  ...\nok 2',
    };
    const report: RunReport = {
      topology: 't',
      runId: 'r',
      startedAt: 'now',
      durationMs: 1,
      results: [{ id: 's/c', suite: 's', title: 'c', status: 'fail', message: 'm', expected: awkward, observed: [awkward.leading, awkward.ctrl], durationMs: 5 }],
    };
    const tap = toTap(report);
    const { final, points } = parseTapTree(tap);
    expect(final.count).toBe(1);
    const diag = points[0]!.result.diag;
    expect(diag.expected).toEqual({ ...awkward, big: '12345678901234567890' });
    expect(diag.observed).toEqual([awkward.leading, awkward.ctrl]);
  });

  it('writes subtests as indented child streams that tap-parser nests', () => {
    const tap = toTap(sampleReport());
    const lines = tap.split('\n');
    const at = lines.indexOf('# Subtest: external/fdb-script');
    expect(at).toBeGreaterThan(0);
    expect(lines[at + 1]).toBe('    1..3');
    expect(lines).toContain('not ok 5 - external/fdb-script');
    const { points } = parseTapTree(tap);
    const ext = points[4]!;
    expect(ext.result.ok).toBe(false);
    expect(ext.children.map((c) => [c.result.ok, c.result.name])).toEqual([
      [true, 'external/fdb-script/1-fdb-has-entries'],
      [false, 'external/fdb-script/2-fdb-dst-correct'],
      [true, 'external/fdb-script/3-ipv6'],
    ]);
    expect(ext.children[1]!.result.diag.expected).toBe('10.0.0.2');
    expect(ext.children[1]!.result.diag.observed).toBe('10.0.0.9');
    expect(ext.children[2]!.result.skip).toBe('no v6');
  });

  it('nests subtests more than one level deep', () => {
    const leaf: CheckResult = { id: 'x/a/b/leaf', suite: 'x', title: 'leaf', status: 'fail', message: 'deep', durationMs: 1 };
    const mid: CheckResult = { id: 'x/a/b', suite: 'x', title: 'b', status: 'fail', durationMs: 1, subtests: [leaf] };
    const top: CheckResult = { id: 'x/a', suite: 'x', title: 'a', status: 'fail', durationMs: 1, subtests: [mid] };
    const { final, points } = parseTapTree(toTap({ topology: 't', runId: 'r', startedAt: 's', durationMs: 0, results: [top] }));
    expect(final.count).toBe(1);
    expect(points[0]!.children[0]!.children[0]!.result.diag.message).toBe('deep');
  });

  it('optionally adds duration-only diagnostics to passes', () => {
    const { points } = parseTapTree(toTap(sampleReport(), { passDiagnostics: true }));
    expect(points[0]!.result.time).toBe(12);
    expect(toTap(sampleReport(), { passDiagnostics: true })).toContain('ok 1 - encapsulation/udp-dst-port\n  ---\n  duration_ms: 12\n  ...\n');
  });

  it('handles an empty run as a 1..0 plan', () => {
    const { final } = parseTapTree(toTap({ topology: 't', runId: 'r', startedAt: 's', durationMs: 0, results: [] }));
    expect(final.plan.skipAll).toBe(true);
    expect(final.ok).toBe(true);
  });
});
