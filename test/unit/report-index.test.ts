import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getReporter, reporterNames, UnknownReporterError, writeReports } from '../../harness/report/index.ts';
import { toJson } from '../../harness/report/json.ts';
import { parseTapTree, parseXml } from './report-helpers.ts';
import { sampleReport } from './report-sample.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('reporter registry', () => {
  it('knows pretty, tap, junit, json and html', async () => {
    expect(reporterNames).toEqual(['pretty', 'tap', 'junit', 'json', 'html']);
    for (const n of reporterNames) expect(typeof (await getReporter(n)(sampleReport()))).toBe('string');
  });

  it('rejects unknown names, listing the known ones', () => {
    expect(() => getReporter('xml')).toThrow(UnknownReporterError);
    expect(() => getReporter('xml')).toThrow('unknown reporter "xml"; known reporters: pretty, tap, junit, json, html');
    expect(() => getReporter('toString')).toThrow(/unknown reporter/);
  });

  it('writeReports returns the stdout text and writes tap/xml/json/html to outDir', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vxlab-report-'));
    dirs.push(dir);
    const outDir = join(dir, 'nested', 'out');
    const text = await writeReports(sampleReport(), { reporter: 'tap', outDir });
    expect(text.startsWith('TAP version 14\n')).toBe(true);
    expect(readFileSync(join(outDir, 'report.tap'), 'utf8')).toBe(text);
    expect(parseTapTree(readFileSync(join(outDir, 'report.tap'), 'utf8')).final.count).toBe(5);
    expect(parseXml(readFileSync(join(outDir, 'report.xml'), 'utf8')).attrs.tests).toBe('5');
    expect(JSON.parse(readFileSync(join(outDir, 'report.json'), 'utf8')).summary).toEqual({ pass: 1, fail: 3, skip: 1, total: 5 });
    const html = readFileSync(join(outDir, 'report.html'), 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('1 passed, 3 failed, 1 skipped');
  });

  it('writeReports without outDir only renders; unknown reporter throws before writing', async () => {
    expect(await writeReports(sampleReport(), { reporter: 'json' })).toBe(toJson(sampleReport()));
    await expect(writeReports(sampleReport(), { reporter: 'nope', outDir: '/nonexistent/should-not-be-created' })).rejects.toThrow(/known reporters/);
  });
});

describe('JSON reporter', () => {
  it('is the RunReport plus a summary', () => {
    const report = sampleReport();
    const parsed = JSON.parse(toJson(report));
    expect(parsed.summary).toEqual({ pass: 1, fail: 3, skip: 1, total: 5 });
    const { summary: _s, ...rest } = parsed;
    expect(rest).toEqual(JSON.parse(JSON.stringify(report)));
  });

  it('survives bigint, Map, Set and cycles in expected/observed', () => {
    const report = sampleReport();
    const cyc: Record<string, unknown> = { a: 1 };
    cyc.self = cyc;
    report.results[0]!.observed = { n: 10n, m: new Map([['k', new Set([1, 2])]]), cyc };
    const parsed = JSON.parse(toJson(report));
    expect(parsed.results[0].observed).toEqual({ n: '10', m: { k: [1, 2] }, cyc: { a: 1, self: '[Circular]' } });
  });
});
