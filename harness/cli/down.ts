import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import type { Command } from './main.ts';
import { EXIT, pickRunId, requireRoot, UsageError } from './common.ts';
import { Lab } from '../api/lab.ts';

const cmd: Command = {
  summary: "remove exactly what 'up' created",
  usage: 'vxlab down FILE [--run-id ID]',
  help: 'Removes the namespaces and processes recorded in the run\'s state file, in reverse order, and the state file.',
  async main(argv) {
    const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { 'run-id': { type: 'string' } } });
    const file = positionals[0];
    if (!file && !values['run-id']) throw new UsageError('down: expected FILE or --run-id ID');
    requireRoot();
    const id = pickRunId(file ? resolve(file) : '', values['run-id']);
    if (!(await Lab.down(id))) {
      console.error(`down: run ${id} is not up (nothing recorded)`);
      return EXIT.STATE;
    }
    console.log(`down: run ${id} removed`);
    return EXIT.OK;
  },
};
export default cmd;
