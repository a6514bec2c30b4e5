// The HTML report of a failing run, opened in a real browser (headless Chromium): the failing check is visible and
// highlighted, the heat map has exactly the wrong cells the bug causes, the picture holds every node, the page makes
// no request beyond itself, and the filters work. The screenshot lands in the run's artifacts.
import { describe, expect } from 'vitest';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { needsRoot } from '../helpers/root.ts';
import { test } from '../helpers/session.ts';
import { hasChromium, launch, screenshotPage } from '../helpers/browser.ts';
import { resolveFile } from '../helpers/topo.ts';

// page functions run in the browser (no DOM types in this project's tsconfig)
const styleOf = (el: any, prop: string) => (globalThis as any).getComputedStyle(el)[prop] as string;
const attrs = (els: any[], name: string) => els.map((e) => e.getAttribute(name) as string);

const BUG = resolve(import.meta.dirname, '../../topologies/bugs/missing-fdb-entry.yaml');

describe.skipIf(needsRoot || !hasChromium)('HTML report of a failing run, in headless Chromium (root)', () => {
  test('missing-fdb-entry: failing check highlighted, 8 wrong heat-map cells, every node drawn, no fetches', async ({ vxrun }) => {
    const outDir = mkdtempSync(join(tmpdir(), 'vxlab-html-'));
    const r = await vxrun(BUG, { useExpect: true, reporter: 'html', outDir });
    expect(r.exitCode).toBe(0); // every expectation of the bug file holds
    const page = join(outDir, 'report.html');
    expect(r.output).toMatch(/^<!doctype html>/);

    // independent of the reporter: node1 lost its FDB entry for node2, so every pod pair between them fails both ways
    const t = resolveFile(BUG);
    const pods = (n: string) => t.nodes.find((x) => x.name === n)!.pods.length;
    const wrongCells = pods('node1') * pods('node2') * 2;
    expect(wrongCells).toBe(8);

    await using browser = await launch({ width: 1400, height: 1300 });
    const p = await browser.newPage();
    const requests: string[] = [];
    p.on('request', (q) => requests.push(q.url()));
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(e.message));
    await p.goto(pathToFileURL(page).href);

    // header: counts as in the run
    const s = { pass: 0, fail: 0, skip: 0 };
    for (const x of r.report.results) s[x.status]++;
    await expect(p.locator('#summary .count.fail').textContent()).resolves.toBe(`${s.fail} failed`);
    await expect(p.locator('#summary .count.pass').textContent()).resolves.toBe(`${s.pass} passed`);

    // the failing check is visible, open, and highlighted (red text, tinted row, red bar)
    const fdb = p.locator('tbody.check[data-id="routes/fdb"]');
    await expect(fdb.getAttribute('data-status')).resolves.toBe('fail');
    expect(await fdb.locator('tr.row').isVisible()).toBe(true);
    expect(await fdb.locator('.id').evaluate(styleOf, 'color')).toBe('rgb(220, 38, 38)');
    expect(await fdb.locator('tr.row').evaluate(styleOf, 'backgroundColor')).toBe('rgb(254, 242, 242)');
    expect(await fdb.locator('ul.diffs').isVisible()).toBe(true);
    await expect(fdb.locator('ul.diffs').textContent()).resolves.toMatch(/node1: missing FDB entry .* dst 192\.168\.1\.3/);
    expect(await fdb.locator('.sbs .exp').isVisible()).toBe(true);
    expect(await fdb.locator('.sbs .obs').isVisible()).toBe(true);
    // a passing check is not highlighted
    expect(await p.locator('tbody.check[data-id="routes/vxlan-device"] tr.row').evaluate(styleOf, 'backgroundColor')).toBe('rgba(0, 0, 0, 0)');

    // heat map: exactly the wrong cells, all in node1 <-> node2 rows
    const heat = p.locator('.heatmap[data-check="connectivity/full-mesh"]');
    expect(await heat.locator('table.actual td.wrong').count()).toBe(wrongCells);
    expect(await heat.locator('table.expected td.wrong').count()).toBe(0);
    const titles = await heat.locator('table.actual td.wrong').evaluateAll(attrs, 'title');
    for (const ti of titles as string[]) expect(ti).toMatch(/^(node1\/pod\d → node2\/pod\d|node2\/pod\d → node1\/pod\d): expected reachable, observed unreachable$/);
    expect(await heat.locator('table.actual th.rowh').allTextContents()).toEqual(t.nodes.flatMap((n) => n.pods.map((q) => `${n.name}/${q.name} ${q.ip}`)));

    // the topology picture: every node, failing nodes and the broken tunnel highlighted, the healthy ones not
    for (const n of t.nodes) expect(await p.locator(`#topology svg g#node-${n.name}`).count(), n.name).toBe(1);
    expect((await p.locator('#topology svg g.vx-node.vx-fail').evaluateAll(attrs, 'id')).sort()).toEqual(['node-node1', 'node-node2']);
    expect(await p.locator('#topology svg g.vx-tunnel.vx-fail').evaluateAll(attrs, 'id')).toEqual(['tunnel-node1-node2']);
    const box = await p.locator('#topology svg').boundingBox();
    expect(box!.width).toBeGreaterThan(300);

    // filters: hide passing checks, then show only one suite
    await p.locator('#filters input[value=pass]').uncheck();
    expect(await p.locator('tbody.check[data-id="routes/vxlan-device"]').isVisible()).toBe(false);
    expect(await fdb.isVisible()).toBe(true);
    await p.locator('#suite-filter').selectOption('connectivity');
    expect(await fdb.isVisible()).toBe(false);
    expect(await p.locator('tbody.check[data-id="connectivity/full-mesh"]').isVisible()).toBe(true);
    await p.locator('#filters input[value=pass]').check();
    await p.locator('#suite-filter').selectOption('');

    // artifacts linked by relative path, and they exist
    const hrefs = (await p.locator('#artifacts a').evaluateAll(attrs, 'href')) as string[];
    expect(hrefs.some((h) => h.endsWith('.pcap'))).toBe(true);
    expect(hrefs.some((h) => h.endsWith('resolved.json'))).toBe(true);
    for (const h of hrefs) {
      expect(h.startsWith('/') || /^[a-z]+:/.test(h), h).toBe(false);
      expect(existsSync(join(outDir, decodeURIComponent(h))), h).toBe(true);
    }

    // expectations table (repro)
    expect(await p.locator('#expectations tr.broken').count()).toBe(0);
    await expect(p.locator('#expectations .verdict').textContent()).resolves.toBe('every expectation holds');

    // self-contained: the page loaded nothing but itself, and its script ran without errors
    expect(requests).toEqual([pathToFileURL(page).href]);
    expect(errors).toEqual([]);

    const shot = join(r.artifactsDir!, 'report.png');
    await screenshotPage(p, shot);
    expect(statSync(shot).size).toBeGreaterThan(50_000);
  }, 300_000);
});
