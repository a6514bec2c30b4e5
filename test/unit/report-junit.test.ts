import { describe, expect, it } from 'vitest';
import { toJUnit, xmlAttr, xmlText } from '../../harness/report/junit.ts';
import type { RunReport } from '../../harness/report/types.ts';
import { findAll, parseXml } from './report-helpers.ts';
import { GRID, sampleReport } from './report-sample.ts';

describe('JUnit reporter', () => {
  it('is well-formed with per-suite counts', () => {
    const root = parseXml(toJUnit(sampleReport()));
    expect(root.name).toBe('testsuites');
    expect(root.attrs).toMatchObject({ tests: '5', failures: '3', skipped: '1', time: '4.321' });
    const suites = findAll(root, 'testsuite');
    expect(suites.map((s) => [s.attrs.name, s.attrs.tests, s.attrs.failures, s.attrs.skipped])).toEqual([
      ['encapsulation', '1', '0', '0'],
      ['routes', '1', '1', '0'],
      ['connectivity', '1', '1', '0'],
      ['mtu', '1', '0', '1'],
      ['external', '1', '1', '0'],
    ]);
    expect(suites[2]!.attrs.time).toBe('2.100');
    const cases = findAll(root, 'testcase');
    expect(cases).toHaveLength(5);
    expect(cases[0]!.attrs).toEqual({ classname: 'vxlab.encapsulation', name: 'encapsulation/udp-dst-port', time: '0.012' });
    expect(findAll(root, 'failure')).toHaveLength(3);
    const skipped = findAll(root, 'skipped');
    expect(skipped).toHaveLength(1);
    expect(skipped[0]!.attrs.message).toBe('needs #jumbo frames');
  });

  it('puts expected / observed / diffs / details in the failure body', () => {
    const root = parseXml(toJUnit(sampleReport()));
    const [routes, mesh, ext] = findAll(root, 'failure');
    expect(routes!.attrs.message).toBe('node-b is missing 1 route');
    expect(routes!.text).toContain('expected:');
    expect(routes!.text).toContain('"10.244.2.0/24 via 10.0.0.3 dev vxlan0"');
    expect(routes!.text).toContain('observed:');
    expect(routes!.text).toContain('+ 10.244.9.0/24 # stale: "old" \\ route');
    expect(mesh!.text).toContain(GRID);
    expect(ext!.text).toContain('external/fdb-script/2-fdb-dst-correct: wrong dst');
  });

  it('escapes <&"\' and replaces control characters invalid in XML 1.0', () => {
    const nasty = `a<b & c>"d" 'e' \u0001\u001b[31m\ufffe end`;
    const report: RunReport = {
      topology: `t<&>"'`,
      runId: 'r',
      startedAt: 's',
      durationMs: 0,
      results: [
        { id: `s/<&"'>`, suite: `s"&`, title: 't', status: 'fail', message: `${nasty}\nsecond line`, observed: nasty, details: nasty, durationMs: 1 },
        { id: 's/skip', suite: `s"&`, title: 't', status: 'skip', skipReason: nasty, durationMs: 0 },
      ],
    };
    const xml = toJUnit(report);
    expect(xml).not.toContain('\u0001');
    expect(xml).not.toContain('\u001b');
    const root = parseXml(xml); // throws on raw < & or invalid characters
    const tc = findAll(root, 'testcase')[0]!;
    expect(tc.attrs.name).toBe(`s/<&"'>`);
    expect(tc.attrs.classname).toBe(`vxlab.s"&`);
    const expectedText = `a<b & c>"d" 'e' \\u0001\\u001b[31m\\ufffe end`;
    const failure = findAll(root, 'failure')[0]!;
    expect(failure.attrs.message).toBe(`${expectedText}\nsecond line`); // newline kept via &#10;
    expect(failure.text).toContain(expectedText);
    expect(findAll(root, 'skipped')[0]!.attrs.message).toBe(expectedText);
    expect(xmlAttr(`<&"'>`)).toBe('&lt;&amp;&quot;&apos;&gt;');
    expect(xmlText('<&>')).toBe('&lt;&amp;&gt;');
  });

  it('handles an empty run', () => {
    const root = parseXml(toJUnit({ topology: 't', runId: 'r', startedAt: 's', durationMs: 0, results: [] }));
    expect(root.attrs.tests).toBe('0');
    expect(findAll(root, 'testsuite')).toHaveLength(0);
  });
});
