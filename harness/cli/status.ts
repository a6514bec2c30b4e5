import { parseArgs } from 'node:util';
import type { Command } from './main.ts';
import { resolve } from 'node:path';
import { EXIT, pickRunId, requireRoot, UsageError } from './common.ts';
import { Lab } from '../api/lab.ts';

const cmd: Command = {
  summary: 'show the nodes, pods, addresses and VTEPs of a running topology',
  usage: 'vxlab status FILE [--run-id ID] [--json]',
  help: 'Lists every node and pod: namespace, addresses, VTEP MAC and address, and the interfaces vxlab created.\n  --json   machine-readable',
  async main(argv) {
    const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { 'run-id': { type: 'string' }, json: { type: 'boolean' } } });
    const file = positionals[0];
    if (!file) throw new UsageError('status: expected FILE');
    requireRoot();
    const out = (await Lab.attach(file, { runId: pickRunId(resolve(file), values['run-id']) })).state;
    if (values.json) {
      console.log(JSON.stringify(out, null, 2));
      return EXIT.OK;
    }
    console.log(`${out.topology} run ${out.runId}: ${out.status} since ${out.createdAt} (runtime ${out.runtime}, layout ${out.layout}${out.builder === 'external' ? ', builder external' : ''})`);
    for (const n of out.nodes) {
      const proc = n.vtep.process ? (n.vtep.process.running ? ` pid ${n.vtep.process.pid}` : ` NOT RUNNING (pid ${n.vtep.process.pid} exited)`) : '';
      console.log(`  ${n.name.padEnd(10)} ${n.present ? 'up  ' : 'GONE'} ${n.namespace}  ${n.addresses[0]}  vtep ${n.vtep.device} ${n.vtep.kind}${proc} ${n.vtep.mac} ${n.vtep.address} vni ${n.vtep.vni} port ${n.vtep.port} mtu ${n.vtep.mtu}${n.vtep.observed ? ` (announced: ${n.vtep.observed.present ? `${n.vtep.observed.mac} ${n.vtep.observed.addresses.join(',') || 'no address'} vni ${n.vtep.observed.vni} port ${n.vtep.observed.port} mtu ${n.vtep.observed.mtu}` : 'no VTEP device'})` : ''}`);
      if (n.container) console.log(`    container ${n.container.name} ${n.container.id?.slice(0, 12) ?? '?'} image ${n.container.image}`);
      for (const p of n.pods) console.log(`    ${p.name.padEnd(8)} ${p.present ? 'up  ' : 'GONE'} ${p.namespace}  ${p.addresses[0]} mtu ${p.mtu}`);
    }
    if (out.problems.length) console.log(`problems:\n${out.problems.map((p) => `  ${p}`).join('\n')}`);
    return EXIT.OK;
  },
};
export default cmd;
