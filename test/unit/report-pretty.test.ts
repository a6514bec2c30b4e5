import { describe, expect, it } from 'vitest';
import { Progress, colorEnabled, renderPretty, sideBySide, stripAnsi, summaryLine, truncate } from '../../harness/report/pretty.ts';
import { GRID, sampleReport } from './report-sample.ts';

function sink(isTTY: boolean, columns = 60) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, columns, write: (s: string) => chunks.push(s) } };
}

describe('pretty reporter', () => {
  it('ends with exactly "N passed, N failed, N skipped" on its own line', () => {
    const out = renderPretty(sampleReport(), { color: false, width: 100 });
    const lines = out.trimEnd().split('\n');
    expect(lines.at(-1)).toBe('1 passed, 3 failed, 1 skipped');
    expect(lines.at(-1)).toMatch(/^\d+ passed, \d+ failed, \d+ skipped$/);
    expect(summaryLine([])).toBe('0 passed, 0 failed, 0 skipped');
  });

  it('shows a summary table within the terminal width', () => {
    const width = 70;
    const out = renderPretty(sampleReport(), { color: false, width });
    const lines = out.split('\n');
    const row = lines.find((l) => l.startsWith('routes/remote-subnets'))!;
    expect(row).toMatch(/routes\/remote-subnets\s+FAIL\s+87 ms\s+node-b is missing 1 route/);
    const tableRows = lines.slice(2, 10);
    for (const l of tableRows) expect([...l].length).toBeLessThanOrEqual(width);
    const long = sampleReport();
    long.results[1]!.message = 'x'.repeat(500);
    const cut = renderPretty(long, { color: false, width }).split('\n').find((l) => l.startsWith('routes/remote-subnets'))!;
    expect([...cut].length).toBe(width);
    expect(cut.endsWith('…')).toBe(true);
  });

  it('shows expected and observed side by side, diffs and details verbatim', () => {
    const out = renderPretty(sampleReport(), { color: false, width: 100 });
    const lines = out.split('\n');
    const header = lines.find((l) => l.startsWith('expected') && l.includes('│ observed'));
    expect(header).toBeDefined();
    expect(lines.some((l) => /^ {2}"routes": \[\s+│ {3}"routes": \[$/.test(l))).toBe(true);
    expect(lines.some((l) => /^ {2}"onlink": true\s+│ \}$/.test(l))).toBe(true);
    expect(lines.some((l) => /^all pairs reachable\s+│ pod-a -> pod-c: timeout$/.test(l))).toBe(true);
    expect(out).toContain('  - 10.244.2.0/24 via 10.0.0.3 dev vxlan0');
    expect(out).toContain('\n' + GRID + '\n');
    expect(out).toContain('FAIL external/fdb-script/2-fdb-dst-correct');
    expect(out).not.toContain('\x1b[');
  });

  it('colors only when asked', () => {
    const out = renderPretty(sampleReport(), { color: true, width: 100 });
    expect(out).toContain('\x1b[31m');
    expect(out.trimEnd().split('\n').at(-1)).toBe('1 passed, 3 failed, 1 skipped');
    expect(stripAnsi(out)).toBe(renderPretty(sampleReport(), { color: false, width: 100 }));
  });

  it('enables colors only for a TTY without NO_COLOR', () => {
    expect(colorEnabled({ write: () => true, isTTY: true }, {})).toBe(true);
    expect(colorEnabled({ write: () => true, isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled({ write: () => true, isTTY: false }, {})).toBe(false);
  });

  it('side-by-side wraps long lines inside their column', () => {
    const rows = sideBySide('a'.repeat(30), 'b', 43);
    expect(rows[2]).toBe('a'.repeat(20) + ' │ b');
    expect(rows[3]).toBe('a'.repeat(10) + ' '.repeat(10) + ' │');
    expect(truncate('abcdef', 4)).toBe('abc…');
  });
});

describe('Progress', () => {
  const r = (id: string, status: 'pass' | 'fail' | 'skip') => ({ id, suite: 's', title: id, status, durationMs: 5, message: status === 'fail' ? 'broken\nbadly' : undefined });

  it('updates a single line in place on a TTY', () => {
    const { chunks, stream } = sink(true, 40);
    const p = new Progress({ stream, color: false });
    p.start(2);
    p.result(r('routes/remote-subnets', 'pass'));
    p.result(r('connectivity/full-mesh-with-a-very-long-name', 'fail'));
    p.done();
    expect(chunks.every((c) => c.startsWith('\r\x1b[2K'))).toBe(true);
    expect(chunks.join('')).not.toContain('\n');
    expect(chunks[0]).toBe('\r\x1b[2K[0/2] running checks');
    expect(chunks[1]).toBe('\r\x1b[2K[1/2] 1/0/0 PASS routes/remote-subnets');
    expect(chunks[2]!.startsWith('\r\x1b[2K[2/2] 1/1/0 FAIL connectivity/')).toBe(true);
    expect([...chunks[2]!.slice(5)].length).toBe(39); // cut to the 40-column terminal
    expect(chunks[2]!.endsWith('…')).toBe(true);
    expect(chunks.at(-1)).toBe('\r\x1b[2K');
  });

  it('writes plain lines when not a TTY', () => {
    const { chunks, stream } = sink(false);
    const p = new Progress({ stream });
    p.start(2, 'setting up');
    p.result(r('a/b', 'pass'));
    p.result(r('a/c', 'fail'));
    p.done();
    expect(chunks).toEqual(['[0/2] setting up\n', '[1/2] PASS a/b (5 ms)\n', '[2/2] FAIL a/c (5 ms) — broken badly\n']);
  });
});
