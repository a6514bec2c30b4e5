import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import type { Command } from './main.ts';
import { existsSync } from 'node:fs';
import { EXIT, interruptSignal, pickRunId, UsageError } from './common.ts';
import { resolveChecked } from '../runner/validate.ts';
import { preflight } from './preflight.ts';
import { up } from '../runtime/lifecycle.ts';
import { applyFaults } from '../faults/apply.ts';

const cmd: Command = {
  summary: 'build the topology in network namespaces',
  usage: 'vxlab up FILE [--run-id ID] [--no-faults]',
  help: 'Creates every namespace, link, address, route, neighbour and FDB entry of the topology, recording\neach in a state file under /run/vxlab first. SIGINT/SIGTERM during up rolls back what was created.\nFaults listed in the file are applied afterwards unless --no-faults.\n  --run-id ID   run id (default: derived from the file path; lets one topology be up twice)',
  async main(argv) {
    const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { 'run-id': { type: 'string' }, 'no-faults': { type: 'boolean' } } });
    const file = positionals[0];
    if (!file) throw new UsageError('up: expected FILE');
    if (!existsSync(file)) throw new UsageError(`topology file not found: ${file}`);
    const t = await resolveChecked(file, pickRunId(resolve(file), values['run-id']));
    preflight(['ip', 'bridge', 'sysctl']);
    const intr = interruptSignal();
    try {
      const t0 = performance.now();
      const r = await up(t, { signal: intr.signal });
      if (!values['no-faults'] && t.faults.length) await applyFaults(r, intr.signal);
      console.log(`up: ${t.name} run ${t.runId}: ${t.nodes.length} nodes, ${t.nodes.reduce((a, n) => a + n.pods.length, 0)} pods in ${Math.round(performance.now() - t0)} ms`);
      console.log(`  namespaces: ${t.prefix}-${t.name}-*   (ip netns list | grep ${t.prefix}-)`);
      console.log(`  remove with: vxlab down ${file}${values['run-id'] ? ` --run-id ${t.runId}` : ''}`);
      return EXIT.OK;
    } finally {
      intr.dispose();
    }
  },
};
export default cmd;
