import { parseArgs } from 'node:util';
import type { Command } from './main.ts';
import { existsSync } from 'node:fs';
import { EXIT, pickRunId, UsageError } from './common.ts';
import { renderPlan } from '../plan/plan.ts';
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
    process.stdout.write(values.json ? JSON.stringify(p, null, 2) + '\n' : renderPlan(p) + (p.steps ?? ''));
    return EXIT.OK;
  },
};
export default cmd;
