import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import type { Command } from './main.ts';
import { existsSync } from 'node:fs';
import { EXIT, interruptSignal, pickRunId, UsageError } from './common.ts';
import { Lab } from '../api/lab.ts';

const cmd: Command = {
  summary: 'build the topology in network namespaces',
  usage: 'vxlab up FILE [--run-id ID] [--no-faults]',
  help: 'Creates every namespace, link, address, route, neighbour and FDB entry of the topology, recording\neach in a state file under /run/vxlab first. SIGINT/SIGTERM during up rolls back what was created.\nFaults listed in the file are applied afterwards unless --no-faults.\n  --run-id ID   run id (default: derived from the file path; lets one topology be up twice)',
  async main(argv) {
    const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { 'run-id': { type: 'string' }, 'no-faults': { type: 'boolean' } } });
    const file = positionals[0];
    if (!file) throw new UsageError('up: expected FILE');
    if (!existsSync(file)) throw new UsageError(`topology file not found: ${file}`);
    const intr = interruptSignal();
    try {
      const t0 = performance.now();
      const lab = await Lab.up(file, { runId: pickRunId(resolve(file), values['run-id']), persistent: true, faults: !values['no-faults'], signal: intr.signal });
      const pods = lab.pods.length;
      console.log(`up: ${lab.name} run ${lab.runId}: ${lab.nodes.length} nodes, ${pods} pods in ${Math.round(performance.now() - t0)} ms`);
      for (const s of lab.skippedFaults) console.log(`  fault not applied (${s.id}): ${s.skipReason}`);
      console.log(`  namespaces: ${lab.prefix}-${lab.name}-*   (ip netns list | grep ${lab.prefix}-)`);
      console.log(`  remove with: vxlab down ${file}${values['run-id'] ? ` --run-id ${lab.runId}` : ''}`);
      return EXIT.OK;
    } finally {
      intr.dispose();
    }
  },
};
export default cmd;
