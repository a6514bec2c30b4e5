import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import type { Command } from './main.ts';
import { pickRunId, UsageError } from './common.ts';
import { preflight } from './preflight.ts';
import { Lab } from '../api/lab.ts';

const cmd: Command = {
  summary: 'run the suites against a topology that is already up',
  usage: 'vxlab test FILE [--suite a,b] [--reporter pretty|tap|junit|json|html] [--out DIR] [--run-id ID]',
  help: "Like 'vxlab run', but attaches to the run that 'vxlab up FILE' created and leaves it up.",
  async main(argv) {
    const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { suite: { type: 'string' }, reporter: { type: 'string' }, out: { type: 'string' }, 'run-id': { type: 'string' } } });
    const file = positionals[0];
    if (!file) throw new UsageError('test: expected FILE');
    preflight();
    const lab = await Lab.attach(file, { runId: pickRunId(resolve(file), values['run-id']) });
    const r = await lab.session({ suites: values.suite?.split(',').filter(Boolean), reporter: values.reporter, outDir: values.out });
    process.stdout.write(r.output);
    return r.exitCode;
  },
};
export default cmd;
