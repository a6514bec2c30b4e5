// TopologyGraph → Mermaid flowchart (GitHub renders it inside a ```mermaid block). Same content as the DOT output:
// segments as subgraphs, nodes with underlay/VTEP/pods/faults/differences, tunnels coloured by VNI.
import type { GraphNode, TopologyGraph } from './model.ts';
import { vniColor } from './dot.ts';

/** Mermaid label text: quotes and angle brackets as entity codes, lines joined with <br/>. */
export function mlabel(lines: string[], boldFirst = false): string {
  const esc = lines.map((l) => l.replace(/&/g, '#amp;').replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;'));
  if (boldFirst && esc.length) esc[0] = `<b>${esc[0]}</b>`;
  return `"${esc.join('<br/>')}"`;
}
const mid = (s: string) => s.replace(/[^A-Za-z0-9_]/g, '_');

function nodeLines(n: GraphNode): string[] {
  const v = n.vtep;
  return [
    n.name,
    ...(n.container ? [`container ${n.container}`] : []),
    `eth0 ${n.ip}/${n.prefixLen} · MTU ${n.underlayMtu}`,
    `${v.dev} ${v.kind === 'userspace' ? 'userspace VTEP' : 'kernel vxlan'} · VNI ${v.vni} · UDP ${v.port} · MTU ${v.mtu}`,
    `MAC ${v.mac} · ${n.vtepIps.join(' ')} · pods ${n.podSubnets.join(' ')}`,
    ...n.pods.map((p) => `${p.name} ${p.ips.join(' ')}`),
    ...n.pods.flatMap((p) => p.diffs.map((d) => `≠ ${p.name}: ${d}`)),
    ...n.faults.map((f) => `fault: ${f.replace(`${n.name}: `, '')}`),
    ...n.diffs.map((d) => `≠ ${d}`),
  ];
}

export function toMermaid(g: TopologyGraph): string {
  const L = ['flowchart TB'];
  const links: { style: string }[] = [];
  for (const s of g.segments) {
    L.push(`  subgraph seg_${mid(s.name)}[${mlabel([`segment ${s.name} · ${s.cidr} · MTU ${s.mtu}${s.diffs.length ? ` · ≠ ${s.diffs.join('; ')}` : ''}`])}]`);
    for (const n of g.nodes.filter((x) => x.segment === s.name)) L.push(`    n_${mid(n.name)}[${mlabel(nodeLines(n), true)}]`);
    L.push('  end');
  }
  if (g.routed) {
    L.push(`  router{{${mlabel(['router', ...(g.router?.diffs ?? []).map((d) => `≠ ${d}`)])}}}`);
    for (const s of g.segments) {
      L.push(`  router ---|${mlabel([`${s.routerIp ?? ''} · MTU ${s.routerMtu ?? s.mtu}${s.narrow ? ` (narrow < ${s.mtu})` : ''}`])}| seg_${mid(s.name)}`);
      links.push({ style: s.narrow ? 'stroke:#d97706,stroke-width:1px' : 'stroke:#a16207,stroke-width:3px' });
    }
  }
  for (const t of g.tunnels) {
    const lines = [`VNI ${t.vni}${t.mixed ? ` · ${t.kinds[0]}↔${t.kinds[1]}` : ''}`];
    if (t.portMismatch) lines.push(`port mismatch: ${t.portMismatch}`);
    for (const f of t.faults) lines.push(`fault: ${f}`);
    for (const d of t.diffs) lines.push(`≠ ${d}`);
    L.push(`  n_${mid(t.a)} <-.->|${mlabel(lines)}| n_${mid(t.b)}`);
    const bad = t.diffs.length > 0 || Boolean(t.failed?.length);
    const warn = Boolean(t.portMismatch || t.faults.length);
    links.push({ style: `stroke:${bad ? '#dc2626' : warn ? '#d97706' : vniColor(g, t.vni)},stroke-width:${bad ? 3 : 2}px${t.mixed ? ',stroke-dasharray:6 4' : ''}` });
  }
  links.forEach((l, i) => L.push(`  linkStyle ${i} ${l.style}`));
  L.push('  classDef fault fill:#fef3c7,stroke:#d97706,stroke-width:2px');
  L.push('  classDef diff fill:#fee2e2,stroke:#dc2626,stroke-width:3px');
  L.push('  classDef userspace stroke:#7c3aed,stroke-dasharray:4 3');
  for (const n of g.nodes) {
    if (n.diffs.length || n.failed?.length || n.pods.some((p) => p.diffs.length)) L.push(`  class n_${mid(n.name)} diff`);
    else if (n.faults.length) L.push(`  class n_${mid(n.name)} fault`);
    else if (n.vtep.kind === 'userspace') L.push(`  class n_${mid(n.name)} userspace`);
  }
  if (g.notes.length) L.push(`  notes[${mlabel(g.notes)}]`);
  return L.join('\n') + '\n';
}
