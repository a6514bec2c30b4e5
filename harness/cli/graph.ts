import { parseArgs } from 'node:util';
import type { Command } from './main.ts';
import { resolve } from 'node:path';
import { existsSync, writeFileSync } from 'node:fs';
import { EXIT, pickRunId, requireRoot, UsageError } from './common.ts';
import { Lab, type LabGraphFormat } from '../api/lab.ts';

const GRAPH_FORMATS = ['svg', 'dot', 'mermaid'];

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
    const format = (values.format ?? 'svg') as LabGraphFormat;
    if (!GRAPH_FORMATS.includes(format)) throw new UsageError(`--format '${values.format}': expected one of: ${GRAPH_FORMATS.join(', ')}`);
    if (!existsSync(file)) throw new UsageError(`topology file not found: ${file}`);
    let text: string;
    if (values['run-id'] !== undefined) {
      requireRoot();
      const lab = await Lab.attach(file, { runId: pickRunId(resolve(file), values['run-id']) });
      text = await lab.graph({ format });
    } else {
      text = await Lab.graph(file, { format });
    }
    if (values.out) writeFileSync(values.out, text);
    else process.stdout.write(text);
    return EXIT.OK;
  },
};
export default cmd;
