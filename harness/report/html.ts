// HTML reporter: one self-contained page (inline CSS, JS and SVG; a Content-Security-Policy that forbids every
// fetch) with the run's header, the topology picture with failing nodes and tunnels highlighted, the expectations
// (repro), a table of checks filterable by status and suite (failures open: expected | observed side by side, diffs,
// details), the connectivity matrices as heat maps (wrong cells marked), and links to the artifacts.
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { summarize, type CheckResult, type MatrixData, type RunReport, type Status } from './types.ts';
import { renderValue } from './plain.ts';
import { formatDuration } from './pretty.ts';

export interface HtmlOptions {
  /** artifact links are relative to this directory (where the page is written); default: the current directory */
  baseDir?: string;
}

const esc = (s: unknown): string =>
  String(s ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
const anchor = (id: string) => `check-${id.replace(/[^A-Za-z0-9_-]+/g, '-')}`;
const LABEL: Record<Status, string> = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP' };
const badge = (s: Status) => `<span class="badge ${s}">${LABEL[s]}</span>`;

const CSS = `
:root{--fail:#dc2626;--fail-bg:#fef2f2;--pass:#16a34a;--skip:#ca8a04;--muted:#64748b;--line:#e2e8f0;font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#0f172a}
body{margin:0;background:#f8fafc}
main{max-width:1500px;margin:0 auto;padding:16px 24px 48px}
header.run{padding:16px 24px;border-bottom:4px solid var(--pass);background:white}
header.run.failed{border-bottom-color:var(--fail)}
h1{margin:0 0 4px;font-size:22px}h2{font-size:17px;margin:28px 0 10px}
.meta{color:var(--muted);font-size:13px}.meta code{color:#334155}
.counts{margin-top:10px;display:flex;gap:8px;align-items:center;flex-wrap:wrap}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:white}
.badge.pass{background:var(--pass)}.badge.fail{background:var(--fail)}.badge.skip{background:var(--skip)}
.count{font-size:14px;font-weight:600;padding:3px 10px;border-radius:6px;background:#f1f5f9}
.count.fail{color:var(--fail)}.count.pass{color:var(--pass)}.count.skip{color:var(--skip)}
.verdict{font-weight:700;font-size:14px;margin-left:8px}.verdict.failed{color:var(--fail)}.verdict.ok{color:var(--pass)}
.failures{margin:10px 0 0;padding:0;list-style:none;font-size:13px}.failures li{margin:2px 0}
.failures a{color:var(--fail);font-weight:600;text-decoration:none}
section{background:white;border:1px solid var(--line);border-radius:8px;padding:4px 16px 16px;margin-top:16px}
.picture{overflow:auto;max-height:80vh;border:1px solid var(--line);border-radius:6px}
.picture svg{display:block;width:100%;height:auto;max-height:78vh}
.legend{font-size:12px;color:var(--muted)}.legend span{margin-right:14px}
.sw{display:inline-block;width:18px;height:3px;vertical-align:middle;margin-right:4px}
table{border-collapse:collapse}
#checks-table{width:100%;font-size:13px}
#checks-table th{text-align:left;color:var(--muted);font-weight:600;border-bottom:1px solid var(--line);padding:6px}
#checks-table td{padding:6px;vertical-align:top;border-bottom:1px solid var(--line)}
tbody.check.fail tr.row{background:var(--fail-bg)}
tbody.check.fail tr.row td:first-child{box-shadow:inset 4px 0 0 var(--fail)}
tbody.check.fail .id{color:var(--fail);font-weight:700}
.id{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;white-space:nowrap}
.dur{color:var(--muted);white-space:nowrap;text-align:right}
tr.detail td{background:#fff;padding:4px 6px 12px 16px}
details>summary{cursor:pointer;color:var(--muted);font-size:12px}
.sbs{display:grid;grid-template-columns:1fr 1fr;gap:0;margin:8px 0;border:1px solid var(--line);border-radius:6px;overflow:hidden}
.sbs h4{margin:0;padding:4px 8px;font-size:12px;background:#f1f5f9;border-bottom:1px solid var(--line)}
.sbs pre{margin:0;padding:0}.sbs .col+.col{border-left:1px solid var(--line)}
pre,.ln{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
.ln{display:block;padding:0 8px;white-space:pre-wrap;word-break:break-all;min-height:1.3em}
.exp .ln.differs{background:#dcfce7}.obs .ln.differs{background:#fee2e2}
ul.diffs{margin:6px 0;padding-left:18px;font-family:ui-monospace,Menlo,monospace;font-size:12px}
ul.diffs li{color:#7f1d1d}
pre.details{background:#f8fafc;border:1px solid var(--line);padding:8px;overflow:auto}
.filters{display:flex;gap:16px;align-items:center;font-size:13px;margin-bottom:8px;flex-wrap:wrap}
.filters label{cursor:pointer}
#shown{color:var(--muted)}
.heatmaps{display:flex;flex-direction:column;gap:18px}
.heatmap h3{font-size:14px;margin:8px 0}
.heatmap .pair{display:flex;gap:28px;flex-wrap:wrap;align-items:flex-start}
.heatmap table{font-size:11px}
.heatmap caption{font-weight:600;text-align:left;padding-bottom:4px}
.heatmap th{font-weight:500;color:#334155;padding:2px 4px;white-space:nowrap}
.heatmap thead th{writing-mode:vertical-rl;transform:rotate(180deg);text-align:left;vertical-align:bottom}
.heatmap th.rowh{text-align:right}
.heatmap td{width:18px;height:18px;text-align:center;border:1px solid white;padding:0}
.heatmap table.big td{width:5px;height:5px;border:0;font-size:0}.heatmap table.big thead th{font-size:7px}
td.yes{background:#86efac}td.no{background:#e2e8f0}td.diag{background:white;color:#cbd5e1}
td.unjudged{opacity:.45}
td.wrong{background:var(--fail);color:white;font-weight:700;outline:2px solid #7f1d1d;outline-offset:-2px}
.artifacts{font-family:ui-monospace,Menlo,monospace;font-size:12px;columns:2}
.artifacts a{color:#1d4ed8}
table.expect{font-size:13px;width:100%}
table.expect td,table.expect th{padding:4px 6px;border-bottom:1px solid var(--line);text-align:left}
table.expect tr.broken{background:var(--fail-bg)}table.expect tr.broken td.v{color:var(--fail);font-weight:700}
table.expect td.v{color:var(--pass)}
/* the picture: failing and differing elements stand out */
#topology svg g.vx-fail path,#topology svg g.vx-fail polygon{filter:drop-shadow(0 0 3px rgba(220,38,38,.6))}
`;

const SCRIPT = `
(function(){
  var boxes=[].slice.call(document.querySelectorAll('#filters input[name=status]'));
  var suite=document.getElementById('suite-filter');
  var shown=document.getElementById('shown');
  function apply(){
    var on={};boxes.forEach(function(b){on[b.value]=b.checked;});
    var n=0,all=document.querySelectorAll('tbody.check');
    [].forEach.call(all,function(tb){var v=on[tb.dataset.status]&&(!suite.value||tb.dataset.suite===suite.value);tb.hidden=!v;if(v)n++;});
    shown.textContent=n+' of '+all.length+' checks shown';
  }
  boxes.forEach(function(b){b.addEventListener('change',apply);});
  suite.addEventListener('change',apply);
  apply();
})();
`;

/**
 * Align two texts line by line on their longest common subsequence: common lines side by side, a line only one
 * side has stands opposite a blank. (Large texts fall back to pairing lines by position.)
 */
export function alignLines(L: string[], R: string[]): { l?: string; r?: string; same: boolean }[] {
  // JSON's trailing commas do not make two lines different
  const key = (x: string | undefined) => x?.replace(/,$/, '');
  const same = (a: string | undefined, b: string | undefined) => key(a) === key(b);
  const n = L.length;
  const m = R.length;
  if (n * m > 250_000) return Array.from({ length: Math.max(n, m) }, (_, i) => ({ l: L[i], r: R[i], same: same(L[i], R[i]) }));
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i]![j] = same(L[i], R[j]) ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const rows: { l?: string; r?: string; same: boolean }[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && same(L[i], R[j])) rows.push({ l: L[i++], r: R[j++], same: true });
    else if (i < n && (j >= m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) rows.push({ l: L[i++], same: false });
    else rows.push({ r: R[j++], same: false });
  }
  // a removed line followed by an added one reads best as one changed row
  const out: typeof rows = [];
  for (const row of rows) {
    const prev = out[out.length - 1];
    if (prev && !prev.same && prev.r === undefined && row.l === undefined && !row.same) prev.r = row.r;
    else out.push({ ...row });
  }
  return out;
}

/** Expected and observed side by side, aligned, lines that differ marked. */
function sideBySide(expected: unknown, observed: unknown): string {
  const L = (expected === undefined ? '(none)' : renderValue(expected)).split('\n');
  const R = (observed === undefined ? '(none)' : renderValue(observed)).split('\n');
  const rows = alignLines(L, R);
  const col = (side: 'l' | 'r', cls: string, title: string) =>
    `<div class="col ${cls}"><h4>${title}</h4><pre>${rows.map((x) => `<span class="ln${x.same ? '' : ' differs'}">${esc(x[side] ?? '')}</span>`).join('')}</pre></div>`;
  return `<div class="sbs">${col('l', 'exp', 'expected')}${col('r', 'obs', 'observed')}</div>`;
}

function detail(r: CheckResult): string {
  const parts: string[] = [];
  if (r.status === 'skip') parts.push(`<p>skipped: ${esc(r.skipReason ?? r.message ?? '')}</p>`);
  if (r.expected !== undefined || r.observed !== undefined) parts.push(sideBySide(r.expected, r.observed));
  if (r.diffs?.length) parts.push(`<ul class="diffs">${r.diffs.map((d) => `<li>${esc(d)}</li>`).join('')}</ul>`);
  if (r.details && !r.matrix) parts.push(`<pre class="details">${esc(r.details)}</pre>`);
  if (r.matrix) parts.push(`<p><a href="#heatmap-${anchor(r.id)}">heat map of this matrix</a></p>`);
  for (const s of r.subtests ?? []) parts.push(`<div class="subtest">${badge(s.status)} <span class="id">${esc(s.title || s.id)}</span> ${esc(s.message ?? s.skipReason ?? '')}${s.status === 'fail' ? detail(s) : ''}</div>`);
  return parts.join('\n');
}

function checkRows(results: CheckResult[]): string {
  return results
    .map((r) => {
      const msg = r.status === 'skip' ? r.skipReason ?? r.message ?? '' : r.message ?? '';
      const body = detail(r);
      const open = r.status === 'fail' ? ' open' : '';
      return `<tbody class="check ${r.status}" id="${anchor(r.id)}" data-id="${esc(r.id)}" data-status="${r.status}" data-suite="${esc(r.suite)}">
<tr class="row"><td>${badge(r.status)}</td><td class="id" title="${esc(r.title)}">${esc(r.id)}</td><td class="msg">${esc(msg)}</td><td class="dur">${esc(formatDuration(r.durationMs))}</td></tr>
${body ? `<tr class="detail"><td></td><td colspan="3"><details${open}><summary>${r.status === 'fail' ? 'expected | observed, diffs' : 'details'}</summary>${body}</details></td></tr>` : ''}
</tbody>`;
    })
    .join('\n');
}

/** Expected and actual matrices as heat maps; in the actual one the judged cells that differ are marked ✗. */
export function heatmap(id: string, m: MatrixData): { html: string; wrong: number } {
  const n = m.pods.length;
  // beyond 40 pods only wrong cells carry a tooltip, to keep the page small (200 pods = 80,000 cells)
  const big = n > 40;
  let wrong = 0;
  const head = `<thead><tr><th></th>${m.pods.map((p, j) => `<th title="${esc(`${p} ${m.ips[j] ?? ''}`)}">${esc(p)}</th>`).join('')}</tr></thead>`;
  const grid = (which: 'expected' | 'actual') => {
    const rows: string[] = [];
    for (let i = 0; i < n; i++) {
      const cells: string[] = [];
      for (let j = 0; j < n; j++) {
        const e = m.expected[i]![j] === '1';
        const a = m.actual[i]![j] === '1';
        const judged = m.judged[i]![j] === '1';
        const v = which === 'expected' ? e : a;
        const title = `${m.pods[i]} → ${m.pods[j]}: expected ${e ? 'reachable' : 'unreachable'}, observed ${a ? 'reachable' : 'unreachable'}`;
        if (i === j) cells.push('<td class="diag">·</td>');
        else if (which === 'actual' && judged && a !== e) {
          wrong++;
          cells.push(`<td class="wrong" title="${esc(title)}">✗</td>`);
        } else cells.push(big ? `<td class="${v ? 'yes' : 'no'}${judged ? '' : ' unjudged'}"></td>` : `<td class="${v ? 'yes' : 'no'}${judged ? '' : ' unjudged'}" title="${esc(title)}">${v ? '✓' : ''}</td>`);
      }
      rows.push(`<tr><th class="rowh" title="${esc(m.ips[i] ?? '')}">${esc(m.pods[i])} <span class="ip">${esc(m.ips[i] ?? '')}</span></th>${cells.join('')}</tr>`);
    }
    return `<table class="${which}${big ? ' big' : ''}" data-grid="${which}"><caption>${which}</caption>${head}<tbody>${rows.join('')}</tbody></table>`;
  };
  const exp = grid('expected');
  const act = grid('actual');
  return {
    wrong,
    html: `<figure class="heatmap" id="heatmap-${anchor(id)}" data-check="${esc(id)}" data-wrong="${wrong}"><h3>${esc(id)} — ${wrong ? `<span style="color:var(--fail)">${wrong} wrong cell${wrong === 1 ? '' : 's'}</span>` : 'every judged cell as expected'}</h3><div class="pair">${exp}${act}</div><p class="legend"><span>✓ reachable</span><span>grey: not reachable</span><span>✗ differs from expected</span><span>faded: not judged by this check</span></p></figure>`,
  };
}

function listArtifacts(dir: string, baseDir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const p = join(d, name);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (depth < 2) walk(p, depth + 1);
      } else out.push(p);
    }
  };
  walk(dir, 0);
  return out.slice(0, 500).map((p) => relative(baseDir, p).split(sep).map(encodeURIComponent).join('/'));
}

function expectationsTable(report: RunReport): string {
  const x = report.expectations;
  if (!x) return '';
  const ok = x.verdicts.every((v) => v.holds) && !x.missing.length;
  const rows = x.verdicts.map(
    (v) =>
      `<tr class="${v.holds ? 'holds' : 'broken'}"><td class="id"><a href="#${anchor(v.id)}">${esc(v.id)}</a></td><td>${esc(v.expected)}${v.pattern ? ` <code>/${esc(v.pattern)}/</code>` : ''}</td><td>${badge(v.observed)}</td><td class="v">${v.holds ? 'holds' : `DOES NOT HOLD: ${esc(v.why ?? '')}`}</td><td>${v.source === 'default' ? 'default (must not fail)' : v.source === 'id' ? 'expect' : 'expect by suite'}</td></tr>`,
  );
  for (const m of x.missing) rows.push(`<tr class="broken"><td class="id">${esc(m)}</td><td>?</td><td>none</td><td class="v">DOES NOT HOLD: no check with this id or suite ran</td><td>expect</td></tr>`);
  for (const m of x.notJudged ?? []) rows.push(`<tr class="unjudged"><td class="id">${esc(m)}</td><td>?</td><td>none</td><td>not judged: its suite was not run (--suite)</td><td>expect</td></tr>`);
  return `<section id="expectations"><h2>Expectations (${esc(report.file ?? report.topology)}) — <span class="verdict ${ok ? 'ok' : 'failed'}">${ok ? 'every expectation holds' : 'SOME EXPECTATIONS DO NOT HOLD'}</span></h2>
<table class="expect"><thead><tr><th>check</th><th>expected</th><th>observed</th><th>verdict</th><th>from</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

async function picture(report: RunReport): Promise<string> {
  if (!report.resolved) return '';
  const { topologyGraph, renderGraph, vniColor } = await import('../graph/index.ts');
  const g = await topologyGraph(report.resolved, { results: report.results });
  let svg: string;
  try {
    svg = await renderGraph(g, 'svg');
  } catch (e: any) {
    // the report matters more than its picture
    svg = `<p class="meta">the topology picture could not be drawn: ${esc(e?.message ?? e)}</p>`;
  }
  const failedNodes = g.nodes.filter((n) => n.failed?.length).map((n) => n.name);
  const failedTunnels = g.tunnels.filter((t) => t.failed?.length).map((t) => `${t.a}↔${t.b}`);
  const legend = [
    ...g.vnis.map((v) => `<span><i class="sw" style="background:${vniColor(g, v)}"></i>tunnel VNI ${v}</span>`),
    '<span><i class="sw" style="background:#dc2626"></i>named by a failing check</span>',
    '<span><i class="sw" style="background:#d97706"></i>fault from the file / port mismatch</span>',
    '<span>dashed: kernel ↔ userspace VTEP</span>',
  ];
  const where = failedNodes.length || failedTunnels.length ? `<p class="meta">failing checks name ${failedNodes.length ? `nodes ${esc(failedNodes.join(', '))}` : ''}${failedNodes.length && failedTunnels.length ? ' and ' : ''}${failedTunnels.length ? `tunnels ${esc(failedTunnels.join(', '))}` : ''}</p>` : '';
  return `<section id="topology"><h2>Topology</h2>${where}<div class="picture">${svg}</div><p class="legend">${legend.join('')}</p></section>`;
}

/** A path under the current directory is shown relative to it. */
function shortPath(p: string): string {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith('..') && !r.startsWith(sep) ? r : p;
}

export async function toHtml(report: RunReport, o: HtmlOptions = {}): Promise<string> {
  const s = summarize(report.results);
  const failed = s.fail > 0 || Boolean(report.expectations && (report.expectations.verdicts.some((v) => !v.holds) || report.expectations.missing.length));
  const failures = report.results.filter((r) => r.status === 'fail');
  const suites = [...new Set(report.results.map((r) => r.suite))];
  const heat = report.results.filter((r) => r.matrix && r.status !== 'skip').map((r) => heatmap(r.id, r.matrix!).html);
  const artifacts = report.artifactsDir ? listArtifacts(report.artifactsDir, o.baseDir ?? process.cwd()) : [];
  const title = `vxlab ${report.topology} run ${report.runId}: ${s.pass} passed, ${s.fail} failed, ${s.skip} skipped`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style></head>
<body>
<header class="run${failed ? ' failed' : ''}" id="summary" data-pass="${s.pass}" data-fail="${s.fail}" data-skip="${s.skip}">
<h1>vxlab · ${esc(report.topology)}</h1>
<div class="meta">${report.file ? `<code title="${esc(report.file)}">${esc(shortPath(report.file))}</code> · ` : ''}run <code>${esc(report.runId)}</code> · started ${esc(report.startedAt)} · took ${esc(formatDuration(report.durationMs))}</div>
<div class="counts"><span class="count pass">${s.pass} passed</span><span class="count fail">${s.fail} failed</span><span class="count skip">${s.skip} skipped</span><span class="verdict ${failed ? 'failed' : 'ok'}">${failed ? 'FAILED' : 'PASSED'}</span></div>
${failures.length ? `<ul class="failures">${failures.map((r) => `<li>${badge('fail')} <a href="#${anchor(r.id)}">${esc(r.id)}</a> — ${esc(r.message ?? '')}</li>`).join('')}</ul>` : ''}
</header>
<main>
${await picture(report)}
${expectationsTable(report)}
<section id="checks"><h2>Checks</h2>
<div class="filters" id="filters">
${(['fail', 'pass', 'skip'] as Status[]).map((st) => `<label><input type="checkbox" name="status" value="${st}" checked> ${badge(st)} ${s[st]}</label>`).join('\n')}
<label>suite <select id="suite-filter"><option value="">all</option>${suites.map((x) => `<option value="${esc(x)}">${esc(x)}</option>`).join('')}</select></label>
<span id="shown"></span>
</div>
<table id="checks-table"><thead><tr><th>status</th><th>check</th><th>message</th><th>duration</th></tr></thead>
${checkRows(report.results)}
</table></section>
${heat.length ? `<section id="matrices"><h2>Connectivity matrices</h2><div class="heatmaps">${heat.join('\n')}</div></section>` : ''}
${artifacts.length ? `<section id="artifacts"><h2>Artifacts</h2><p class="meta">${esc(report.artifactsDir)} — pcaps, <code>ip -j</code> dumps of the namespaces (index.json lists them), the resolved topology</p><div class="artifacts">${artifacts.map((a) => `<div><a href="${esc(a)}">${esc(decodeURIComponent(a))}</a></div>`).join('')}</div></section>` : ''}
</main>
<script>${SCRIPT}</script>
</body></html>
`;
}
