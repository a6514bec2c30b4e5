import { parseArgs } from 'node:util';
import type { Command } from './main.ts';
import { EXIT, resolveTopology, UsageError } from './common.ts';

const cmd: Command = {
  summary: 'check a topology file (schema + semantics); no kernel access',
  usage: 'vxlab validate FILE…',
  help: 'Loads each FILE (following extends), validates it against the schema and the semantic rules, and prints\nthe resolved node count. Errors are printed as file:line:col: key: what was expected. Needs no root.',
  async main(argv) {
    const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
    if (!positionals.length) throw new UsageError('validate: expected FILE');
    for (const f of positionals) {
      const t = resolveTopology(f, 'check');
      console.log(`${f}: ok (${t.name}: ${t.nodes.length} nodes, ${t.nodes.reduce((a, n) => a + n.pods.length, 0)} pods, ${t.segments.length} segment${t.segments.length > 1 ? 's, routed' : ''}, layout ${t.layout})`);
    }
    return EXIT.OK;
  },
};
export default cmd;
