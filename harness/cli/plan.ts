import { parseArgs } from 'node:util';
import type { Command } from './main.ts';
import { existsSync } from 'node:fs';
import { EXIT, pickRunId, UsageError } from './common.ts';
import { renderPlanChunks } from '../plan/plan.ts';
import { Lab } from '../api/lab.ts';

const cmd: Command = {
  summary: "print every command 'up' would run, per namespace (dry run)",
  usage: 'vxlab plan FILE [--run-id ID] [--json]',
  help: 'Prints the plan as paste-able ip/bridge/sysctl commands grouped by stage and namespace.\n  --run-id ID   the run id used in namespace names (default: derived from the file path)\n  --json        the plan as JSON',
  async main(argv) {
    const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { 'run-id': { type: 'string' }, json: { type: 'boolean' } } });
    const file = positionals[0];
    if (!file) throw new UsageError('plan: expected FILE');
    const runId = pickRunId(file, values['run-id']);
    if (!existsSync(file)) throw new UsageError(`topology file not found: ${file}`);
    const p = Lab.plan(file, { runId });
    if (values.json) process.stdout.write(JSON.stringify(p, null, 2) + '\n');
    else {
      // one namespace at a time, with backpressure: a 1,000-node plan is 3 million lines
      for (const chunk of renderPlanChunks(p)) if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once('drain', r));
      if (p.steps) process.stdout.write(p.steps);
    }
    return EXIT.OK;
  },
};
export default cmd;
