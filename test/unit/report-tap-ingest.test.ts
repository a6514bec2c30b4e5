import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ingestTap, parseTap, runTapScript, slug } from '../../harness/report/tap-ingest.ts';
import { toTap } from '../../harness/report/tap.ts';
import { summarize } from '../../harness/report/types.ts';
import { sampleReport } from './report-sample.ts';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('TAP ingestion', () => {
  it('maps ok / not ok / skip / todo', () => {
    const rs = ingestTap(
      'mycheck',
      ['TAP version 14', '1..5', 'ok 1 - first thing', 'not ok 2 - Second Thing!', 'ok 3 - third # SKIP no ipv6', 'not ok 4 - fourth # TODO write it', 'ok 5 - fifth # todo'].join('\n'),
    );
    expect(rs.map((r) => [r.id, r.status])).toEqual([
      ['external/mycheck/1-first-thing', 'pass'],
      ['external/mycheck/2-second-thing', 'fail'],
      ['external/mycheck/3-third', 'skip'],
      ['external/mycheck/4-fourth', 'skip'],
      ['external/mycheck/5-fifth', 'pass'],
    ]);
    expect(rs.every((r) => r.suite === 'external')).toBe(true);
    expect(rs[0]!.title).toBe('first thing');
    expect(rs[2]!.skipReason).toBe('no ipv6');
    expect(rs[3]!.skipReason).toBe('TODO: write it');
    expect(rs[4]!.message).toMatch(/TODO.*passed unexpectedly/);
  });

  it('maps YAML diagnostics to message / expected / observed / diffs', () => {
    const [a, b] = ingestTap(
      'diag',
      [
        '1..2',
        'not ok 1 - route present',
        '  ---',
        '  message: missing route',
        '  wanted: 10.244.2.0/24',
        '  found: null',
        '  diff: |',
        '    - 10.244.2.0/24',
        '    + nothing',
        '  duration_ms: 42',
        '  ...',
        'not ok 2 - other',
        '  ---',
        '  rc: 2',
        '  output: boom',
        '  ...',
      ].join('\n'),
    );
    expect(a!.status).toBe('fail');
    expect(a!.message).toBe('missing route');
    expect(a!.expected).toBe('10.244.2.0/24');
    expect(a!.observed).toBeNull();
    expect(a!.diffs).toEqual(['- 10.244.2.0/24', '+ nothing']);
    expect(a!.durationMs).toBe(42);
    expect(b!.message).toBe('not ok');
    expect(b!.observed).toEqual({ rc: 2, output: 'boom' });
  });

  it('turns a bail out into a failure', () => {
    const r = parseTap('b', ['TAP version 14', '1..3', 'ok 1 - a', 'Bail out! underlay is down', 'ok 2 - never'].join('\n'));
    expect(r.ok).toBe(false);
    const bail = r.results.find((x) => x.id === 'external/b/bail-out')!;
    expect(bail.status).toBe('fail');
    expect(bail.message).toBe('Bail out! underlay is down');
    expect(r.results[0]!.status).toBe('pass');
  });

  it('fails on a missing plan and on no output at all', () => {
    const r = parseTap('np', 'ok 1 - a\nok 2 - b\n');
    const plan = r.results.find((x) => x.id === 'external/np/plan')!;
    expect(plan.status).toBe('fail');
    expect(plan.message).toMatch(/missing plan/);
    const empty = parseTap('empty', '');
    expect(empty.ok).toBe(false);
    expect(empty.results).toHaveLength(1);
    expect(empty.results[0]!.message).toMatch(/no TAP output/);
  });

  it('fails on a plan mismatch, in both directions', () => {
    const few = parseTap('few', '1..3\nok 1 - a\n');
    const plan = few.results.find((x) => x.id === 'external/few/plan')!;
    expect(plan.status).toBe('fail');
    expect(plan.message).toBe('plan mismatch: planned 3 test(s) (1..3) but saw 1');
    const many = parseTap('many', '1..1\nok 1 - a\nok 2 - b\n');
    expect(many.ok).toBe(false);
    expect(many.results.find((x) => x.id === 'external/many/plan')!.message).toMatch(/planned 1 test\(s\).*saw 2/);
  });

  it('treats 1..0 as skip-all', () => {
    const r = parseTap('s', '1..0 # SKIP no namespaces\n');
    expect(r.ok).toBe(true);
    expect(r.results).toEqual([expect.objectContaining({ status: 'skip', skipReason: 'no namespaces' })]);
  });

  it('nests subtests, ids under their closing test point', () => {
    const tap = [
      'TAP version 14',
      '1..2',
      '# Subtest: outer',
      '    1..2',
      '    # Subtest: inner',
      '        1..1',
      '        not ok 1 - deepest',
      '    not ok 1 - inner',
      '    ok 2 - sibling',
      'not ok 1 - outer',
      'ok 2 - after',
    ].join('\n');
    const rs = ingestTap('nest', tap);
    expect(rs).toHaveLength(2);
    const outer = rs[0]!;
    expect(outer.id).toBe('external/nest/1-outer');
    expect(outer.status).toBe('fail');
    expect(outer.subtests!.map((s) => s.id)).toEqual(['external/nest/1-outer/1-inner', 'external/nest/1-outer/2-sibling']);
    expect(outer.subtests![0]!.subtests![0]!.id).toBe('external/nest/1-outer/1-inner/1-deepest');
    expect(outer.subtests![0]!.subtests![0]!.status).toBe('fail');
    expect(rs[1]!.subtests).toBeUndefined();
  });

  it('fails a closing point that is ok although a subtest failed', () => {
    const rs = ingestTap('liar', ['1..1', '# Subtest: s', '    1..1', '    not ok 1 - x', 'ok 1 - s'].join('\n'));
    expect(rs[0]!.status).toBe('fail');
  });

  it('ingests what the TAP writer wrote', () => {
    const report = sampleReport();
    const rs = ingestTap('self', toTap(report));
    expect(summarize(rs)).toEqual(summarize(report.results));
    const routes = rs[1]!;
    expect(routes.expected).toEqual(report.results[1]!.expected);
    expect(routes.observed).toEqual(report.results[1]!.observed);
    expect(routes.diffs).toEqual(report.results[1]!.diffs);
    expect(routes.durationMs).toBe(87);
    expect(rs[4]!.subtests).toHaveLength(3);
  });

  it('slugs descriptions', () => {
    expect(slug('  Hello, World! #2 ')).toBe('hello-world-2');
    expect(slug('***')).toBe('test');
  });
});

describe('runTapScript', () => {
  it('passes when the script passes and exits 0', async () => {
    const r = await runTapScript('fdb', [fixture('report-tap-pass.sh')]);
    expect(r.id).toBe('external/fdb');
    expect(r.status).toBe('pass');
    expect(r.message).toBeUndefined();
    expect(r.subtests!.map((s) => [s.id, s.status])).toEqual([
      ['external/fdb/1-fdb-has-entries', 'pass'],
      ['external/fdb/2-neighbour-entries-present', 'pass'],
      ['external/fdb/3-ipv6', 'skip'],
    ]);
    expect(r.subtests![1]!.title).toBe('neighbour # entries present');
    expect(r.details).toContain('some diagnostic on stderr');
  });

  it('fails when a test point fails, carrying its diagnostics', async () => {
    const r = await runTapScript('fdb', [fixture('report-tap-fail.sh')]);
    expect(r.status).toBe('fail');
    expect(r.message).toMatch(/1 of 2 failed: fdb dst correct/);
    const bad = r.subtests![1]!;
    expect(bad.status).toBe('fail');
    expect(bad.message).toBe('wrong remote VTEP');
    expect(bad.expected).toBe('10.0.0.2');
    expect(bad.observed).toBe('10.0.0.9');
  });

  it('fails on a non-zero exit even if every point passed; env and cwd are passed', async () => {
    const r = await runTapScript('cleanup', [fixture('report-tap-exit.sh')], { env: { TAP_EXIT_CODE: '7' }, cwd: '/', timeoutMs: 10_000 });
    expect(r.status).toBe('fail');
    expect(r.subtests!.every((s) => s.status === 'pass')).toBe(true);
    expect(r.message).toMatch(/exit code 7/);
    expect(r.observed).toEqual({ exitCode: 7, failed: 0 });
    expect(r.details).toContain('cleanup failed');
  });

  it('fails when the program cannot be started', async () => {
    const r = await runTapScript('missing', [fixture('does-not-exist.sh')]);
    expect(r.status).toBe('fail');
    expect(r.message).toMatch(/could not be started/);
  });

  it('fails on a timeout', async () => {
    const r = await runTapScript('slow', ['sleep', '5'], { timeoutMs: 200 });
    expect(r.status).toBe('fail');
    expect(r.message).toMatch(/timed out after 200 ms/);
  });
});
