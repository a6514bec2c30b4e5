import { parseArgs } from 'node:util';
import type { Command } from './main.ts';
import { resolve } from 'node:path';
import { EXIT, pickRunId, requireRoot, UsageError } from './common.ts';
import { Lab } from '../api/lab.ts';
import { formatVtepStats } from '../vtep/stats.ts';

const cmd: Command = {
  summary: "inspect a userspace VTEP: counters, drop reasons, FDB (vtep stats FILE NODE)",
  usage: 'vxlab vtep stats FILE NODE [--run-id ID] [--json]',
  help: 'Prints rx/tx packets and bytes, every drop reason, and the FDB (static and learned entries with their age)\nof the userspace VTEP of NODE in a running topology.\n  --json   the raw stats object',
  async main(argv) {
    const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { 'run-id': { type: 'string' }, json: { type: 'boolean' } } });
    const [sub, file, node] = positionals;
    if (sub !== 'stats' || !file || !node) throw new UsageError('vtep: expected stats FILE NODE');
    requireRoot();
    const lab = await Lab.attach(file, { runId: pickRunId(resolve(file), values['run-id']) });
    const n = lab.node(node);
    if (n.vtep.kind !== 'userspace') throw new UsageError(`${node} uses a kernel VTEP (${n.vtep.device}); inspect it with: vxlab exec ${file} ${node} -- ip -s -d link show ${n.vtep.device}`);
    const s = await lab.vtepStats(node);
    console.log(values.json ? JSON.stringify(s, null, 2) : formatVtepStats(s));
    return EXIT.OK;
  },
};
export default cmd;
