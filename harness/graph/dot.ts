// TopologyGraph → Graphviz DOT. Segments are clusters around their bridge, nodes are tables (underlay, VTEP, pods,
// faults, live differences), tunnels are edges coloured by VNI. Element ids and classes are stable so that the SVG
// can be queried: node-<name>, tunnel-<a>-<b>, segment-<name>, router; classes vx-node, vx-tunnel, vx-fail, vx-diff.
import type { GraphNode, GraphTunnel, TopologyGraph } from './model.ts';

export interface DotOptions {
  /** VNI groups with more nodes than this are drawn as a hub ("full mesh of N tunnels") plus the tunnels that matter */
  meshLimit?: number;
}

export const VNI_COLORS = ['#2563eb', '#7c3aed', '#0891b2', '#b45309', '#db2777', '#059669'];
const RED = '#dc2626';
const AMBER = '#d97706';
// exactly "Helvetica": Graphviz has its metrics (a list of families would be measured as Times); browsers map it to
// Helvetica, Arial or Liberation Sans, which share them
const FONT = 'Helvetica';

export function vniColor(g: TopologyGraph, vni: number): string {
  return VNI_COLORS[Math.max(0, g.vnis.indexOf(vni)) % VNI_COLORS.length]!;
}

/** Escape text for a Graphviz HTML-like label. */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
const attrs = (a: Record<string, string | number | undefined>) =>
  `[${Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => (k === 'label' && typeof v === 'string' && v.startsWith('<') ? `${k}=<${v.slice(1, -1)}>` : `${k}=${typeof v === 'number' ? v : q(v!)}`))
    .join(', ')}]`;

export const nodeId = (n: string) => `node-${n}`;
export const tunnelId = (t: Pick<GraphTunnel, 'a' | 'b'>) => `tunnel-${t.a}-${t.b}`;

function row(text: string, o: { bg?: string; color?: string; bold?: boolean } = {}): string {
  // trailing no-break spaces: slack for renderers whose font is a little wider than Graphviz's estimate
  const t = (o.bold ? `<B>${esc(text)}</B>` : esc(text)) + '&#160;&#160;&#160;';
  return `<TR><TD ALIGN="LEFT" BALIGN="LEFT"${o.bg ? ` BGCOLOR="${o.bg}"` : ''}>${o.color ? `<FONT COLOR="${o.color}">${t}</FONT>` : t}</TD></TR>`;
}

function nodeLabel(g: TopologyGraph, n: GraphNode): string {
  const failed = Boolean(n.failed?.length);
  const head = failed ? '#fecaca' : n.diffs.length ? '#fed7aa' : '#e0e7ff';
  const v = n.vtep;
  const rows = [
    row(`${n.name}${failed ? '  ✗ FAIL' : ''}`, { bg: head, bold: true }),
    ...(n.container ? [row(`container ${n.container}`)] : []),
    row(`eth0 ${n.ip}/${n.prefixLen} · MTU ${n.underlayMtu}`),
    row(`${v.dev} ${v.kind === 'userspace' ? 'userspace VTEP' : 'kernel vxlan'} · VNI ${v.vni} · UDP ${v.port} · MTU ${v.mtu}`, { bg: v.kind === 'userspace' ? '#ede9fe' : undefined, color: vniColor(g, v.vni) }),
    row(`MAC ${v.mac} · ${n.vtepIps.join(' ')} · pods ${n.podSubnets.join(' ')}`),
    ...n.pods.map((p) => row(`${p.name} ${p.ips.join(' ')} · MTU ${p.mtu}${p.failed?.length ? '  ✗' : ''}`, { bg: p.failed?.length ? '#fee2e2' : p.diffs.length ? '#ffedd5' : '#f8fafc' })),
    ...n.pods.flatMap((p) => p.diffs.map((d) => row(`≠ ${p.name}: ${d}`, { color: RED }))),
    ...n.faults.map((f) => row(`fault: ${f.replace(`${n.name}: `, '')}`, { bg: '#fef3c7', color: '#92400e' })),
    ...n.diffs.map((d) => row(`≠ ${d}`, { color: RED })),
  ];
  const border = failed || n.diffs.length ? `BORDER="3" COLOR="${RED}"` : n.faults.length ? `BORDER="2" COLOR="${AMBER}"` : 'BORDER="1" COLOR="#94a3b8"';
  return `<<TABLE ${border} STYLE="rounded" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3">${rows.join('')}</TABLE>>`;
}

/** What a tunnel has to say beyond its VNI: port mismatch, faults, live differences (drawn as a numbered note). */
export function tunnelNotes(t: GraphTunnel): string[] {
  return [
    ...(t.portMismatch ? [`port mismatch: ${t.portMismatch}`] : []),
    ...t.faults.map((f) => `fault: ${f}`),
    ...t.diffs.map((d) => `≠ ${d}`),
    // three check ids a line: a long list would widen the picture
    ...(t.failed ?? []).reduce<string[][]>((rows, id, i) => (i % 3 ? rows[rows.length - 1]!.push(id) : rows.push([id]), rows), []).map((ids, i) => `${i ? '  ' : 'failing: '}${ids.join(', ')}`),
  ];
}

function tunnelAttrs(g: TopologyGraph, t: GraphTunnel, ref?: number): Record<string, string | number | undefined> {
  const head = `VNI ${t.vni}${t.mixed ? ` · ${t.kinds[0]}↔${t.kinds[1]}` : ''}${ref ? ` · [${ref}]` : ''}`;
  const notes = tunnelNotes(t);
  const failed = Boolean(t.failed?.length);
  const bad = failed || t.diffs.length > 0;
  const warn = Boolean(t.portMismatch || t.faults.length);
  const cls = ['vx-tunnel', `vx-vni-${t.vni}`, failed ? 'vx-fail' : '', t.diffs.length ? 'vx-diff' : '', warn ? 'vx-warn' : '', t.mixed ? 'vx-mixed' : ''].filter(Boolean).join(' ');
  return {
    id: tunnelId(t),
    class: cls,
    label: head,
    tooltip: [`tunnel ${t.a} ↔ ${t.b}`, head, ...notes].join('\n'),
    color: bad ? RED : warn ? AMBER : vniColor(g, t.vni),
    fontcolor: bad ? RED : warn ? AMBER : vniColor(g, t.vni),
    penwidth: bad ? 3 : 1.6,
    style: t.mixed ? 'dashed' : 'solid',
    dir: 'both',
    arrowhead: 'vee',
    arrowtail: 'vee',
    arrowsize: 0.6,
    constraint: 'false',
    // tunnels hang below the nodes, clear of the underlay links above them
    tailport: 's',
    headport: 's',
  };
}

/** The numbered notes of tunnels, one table below the picture (long edge labels would pile up on each other). */
function notesTable(items: { ref: number; t: GraphTunnel }[], general: string[]): string {
  const rows: string[] = [];
  for (const x of general) rows.push(`<TR><TD ALIGN="LEFT" BALIGN="LEFT">${esc(x)}</TD></TR>`);
  for (const { ref, t } of items) {
    const bad = t.diffs.length > 0 || Boolean(t.failed?.length);
    const color = bad ? RED : AMBER;
    const lines = [`<B>[${ref}] tunnel ${esc(t.a)} ↔ ${esc(t.b)}</B>`, ...tunnelNotes(t).map(esc)];
    rows.push(`<TR><TD ALIGN="LEFT" BALIGN="LEFT" ID="note-${tunnelId(t)}" TOOLTIP="${esc(`tunnel ${t.a} ↔ ${t.b}`)}" HREF="#${tunnelId(t)}"><FONT COLOR="${color}">${lines.join('<BR/>')}</FONT></TD></TR>`);
  }
  return `<<TABLE BORDER="1" COLOR="#cbd5e1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="4">${rows.join('')}</TABLE>>`;
}

export function toDot(g: TopologyGraph, o: DotOptions = {}): string {
  const meshLimit = o.meshLimit ?? 12;
  const L: string[] = [];
  const title = `${g.name} · ${g.layout} layout${g.runtime !== 'netns' ? ` · ${g.runtime} runtime` : ''}${g.runId ? ` · run ${g.runId}` : ''}${g.live ? ' · live state' : ''}`;
  L.push(`graph ${q(g.name)} {`);
  L.push(`  graph ${attrs({ label: title, labelloc: 't', fontname: FONT, fontsize: 16, rankdir: 'TB', nodesep: 0.5, ranksep: 0.7, bgcolor: 'white', id: 'vx-graph' })};`);
  L.push(`  node ${attrs({ fontname: FONT, fontsize: 11, shape: 'box', style: 'rounded', color: '#64748b' })};`);
  L.push(`  edge ${attrs({ fontname: FONT, fontsize: 10, color: '#94a3b8' })};`);
  for (const s of g.segments) {
    L.push(`  subgraph ${q(`cluster_seg_${s.name}`)} {`);
    const diff = s.diffs.length > 0;
    L.push(`    graph ${attrs({ label: `segment ${s.name} · ${s.cidr} · MTU ${s.mtu}${diff ? ` · ≠ ${s.diffs.join('; ')}` : ''}`, style: 'rounded,filled', fillcolor: '#f8fafc', color: diff ? RED : '#cbd5e1', fontcolor: diff ? RED : '#334155', id: `segment-${s.name}`, class: `vx-segment${diff ? ' vx-diff' : ''}` })};`);
    L.push(`    ${q(`seg-${s.name}`)} ${attrs({ label: `bridge ${s.name}`, shape: 'box', style: 'filled', fillcolor: '#e2e8f0', color: '#94a3b8', fontsize: 10, id: `bridge-${s.name}`, class: 'vx-bridge' })};`);
    for (const n of g.nodes.filter((x) => x.segment === s.name)) {
      const cls = ['vx-node', n.failed?.length ? 'vx-fail' : '', n.diffs.length || n.pods.some((p) => p.diffs.length) ? 'vx-diff' : '', n.faults.length ? 'vx-warn' : ''].filter(Boolean).join(' ');
      const bad = Boolean(n.failed?.length || n.diffs.length || n.pods.some((p) => p.diffs.length));
      L.push(
        `    ${q(n.name)} ${attrs({ id: nodeId(n.name), class: cls, shape: 'plain', label: nodeLabel(g, n), tooltip: `${n.name}${n.failed?.length ? `\nfailing: ${n.failed.join(', ')}` : ''}` })};`,
      );
      L.push(`    ${q(`seg-${s.name}`)} -- ${q(n.name)} ${attrs({ id: `link-${n.name}`, class: 'vx-underlay', color: bad ? RED : '#94a3b8', penwidth: 1.2, tooltip: `${n.name} eth0 ${n.ip} MTU ${n.underlayMtu}` })};`);
    }
    L.push('  }');
  }
  if (g.routed) {
    const diff = Boolean(g.router?.diffs.length);
    L.push(`  router ${attrs({ id: 'router', class: `vx-router${diff ? ' vx-diff' : ''}`, label: `router${diff ? `\n≠ ${g.router!.diffs.join('\n≠ ')}` : ''}`, shape: 'box3d', style: 'filled', fillcolor: '#fef9c3', color: diff ? RED : '#a16207' })};`);
    for (const s of g.segments) {
      const narrow = s.narrow;
      L.push(
        `  router -- ${q(`seg-${s.name}`)} ${attrs({ id: `routerlink-${s.name}`, class: `vx-routerlink${narrow ? ' vx-narrow' : ''}`, label: `${s.routerIp ?? ''} · MTU ${s.routerMtu ?? s.mtu}${narrow ? ` (narrow < ${s.mtu})` : ''}`, color: narrow ? AMBER : '#a16207', fontcolor: narrow ? AMBER : '#713f12', penwidth: narrow ? 1 : 2.5, style: narrow ? 'bold' : 'solid' })};`,
      );
    }
  }
  // tunnels, per VNI group; large groups become a hub plus the tunnels that have something to show
  const noted: { ref: number; t: GraphTunnel }[] = [];
  const refOf = (t: GraphTunnel) => {
    if (!tunnelNotes(t).length) return undefined;
    noted.push({ ref: noted.length + 1, t });
    return noted.length;
  };
  for (const vni of g.vnis) {
    const members = g.nodes.filter((n) => n.vtep.vni === vni);
    const ts = g.tunnels.filter((t) => t.vni === vni);
    if (members.length > meshLimit) {
      const hub = `vni-${vni}`;
      L.push(`  ${q(hub)} ${attrs({ id: `hub-vni-${vni}`, class: 'vx-hub', label: `VNI ${vni} overlay\nfull mesh: ${ts.length} tunnels`, shape: 'ellipse', color: vniColor(g, vni), fontcolor: vniColor(g, vni) })};`);
      for (const n of members) L.push(`  ${q(hub)} -- ${q(n.name)} ${attrs({ color: vniColor(g, vni), style: n.vtep.kind === 'userspace' ? 'dashed' : 'solid', constraint: 'false' })};`);
      for (const t of ts) if (t.faults.length || t.diffs.length || t.failed?.length || t.portMismatch) L.push(`  ${q(t.a)} -- ${q(t.b)} ${attrs(tunnelAttrs(g, t, refOf(t)))};`);
    } else for (const t of ts) L.push(`  ${q(t.a)} -- ${q(t.b)} ${attrs(tunnelAttrs(g, t, refOf(t)))};`);
  }
  if (g.notes.length || noted.length) {
    L.push(`  notes ${attrs({ id: 'notes', class: 'vx-notes', shape: 'plain', label: notesTable(noted, g.notes), fontsize: 10 })};`);
    // one rank below the nodes (an invisible edge), where the tunnels' numbered notes are read after the picture
    if (g.nodes.length) L.push(`  ${q(g.nodes[Math.floor((g.nodes.length - 1) / 2)]!.name)} -- notes [style=invis, weight=0];`);
  }
  L.push('}');
  return L.join('\n') + '\n';
}
