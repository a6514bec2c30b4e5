import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import type { Command } from './main.ts';
import { resolve } from 'node:path';
import { EXIT, pickRunId, requireRoot, resolveTopology, UsageError } from './common.ts';
import { liveRun } from '../api/lab.ts';
import { GRAPH_FORMATS, renderGraph, topologyGraph, type GraphFormat } from '../graph/index.ts';

const cmd: Command = {
  summary: 'draw a topology (SVG, DOT or Mermaid); with --run-id, its live state and what differs',
  usage: 'vxlab graph FILE [--format svg|dot|mermaid] [--out FILE] [--run-id ID]',
  help: `Draws the resolved topology: underlay segments (CIDR, MTU), the router and narrow links, nodes (underlay IP,
VTEP kind, device, MAC, VNI, port, MTU), pods (every address) and the overlay tunnels between nodes, coloured by
VNI (dashed: kernel <-> userspace). Faults from the file are drawn where they act.
  --format F    svg (default; laid out by Graphviz compiled to WebAssembly, no browser needed) | dot | mermaid
  --out FILE    write there instead of stdout
  --run-id ID   draw the live state of this running topology (read with ip -j / bridge -j) and mark in red
                everything that differs from the topology (needs root)`,
  async main(argv) {
    const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { format: { type: 'string' }, out: { type: 'string' }, 'run-id': { type: 'string' } } });
    const file = positionals[0];
    if (!file) throw new UsageError('graph: expected FILE');
    const format = (values.format ?? 'svg') as GraphFormat;
    if (!GRAPH_FORMATS.includes(format)) throw new UsageError(`--format '${values.format}': expected one of: ${GRAPH_FORMATS.join(', ')}`);
    let g;
    if (values['run-id'] !== undefined) {
      requireRoot();
      const { t, state } = await liveRun(file, { runId: pickRunId(resolve(file), values['run-id']) });
      g = await topologyGraph(t, { live: { workDir: state.workDir } });
    } else {
      g = await topologyGraph(resolveTopology(file, 'graph'));
      g.runId = undefined; // a drawing of the file, not of a run
    }
    const text = await renderGraph(g, format);
    if (values.out) writeFileSync(values.out, text);
    else process.stdout.write(text);
    return EXIT.OK;
  },
};
export default cmd;
