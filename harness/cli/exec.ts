import type { Command } from './main.ts';
import { resolve } from 'node:path';
import { pickRunId, requireRoot, UsageError } from './common.ts';
import { Lab } from '../api/lab.ts';

const cmd: Command = {
  summary: 'run a command inside a node or pod namespace (exit code passed through)',
  usage: 'vxlab exec FILE NODE[/POD] [--run-id ID] [--container] -- COMMAND [ARG…]',
  help: 'Runs COMMAND (an argv, no shell) in the network namespace of NODE or NODE/POD, with the host\'s tools and the\nterminal attached. --container (runtime docker/kind): inside the node\'s container instead (its own filesystem and tools).',
  async main(argv) {
    const dd = argv.indexOf('--');
    if (dd < 0 || dd === argv.length - 1) throw new UsageError('exec: expected FILE TARGET -- COMMAND…');
    const head = argv.slice(0, dd);
    const command = argv.slice(dd + 1);
    let runId: string | undefined;
    const ri = head.indexOf('--run-id');
    if (ri >= 0) {
      runId = head[ri + 1];
      head.splice(ri, 2);
    }
    const ci = head.indexOf('--container');
    const container = ci >= 0;
    if (container) head.splice(ci, 1);
    const [file, target] = head;
    if (!file || !target || head.length !== 2) throw new UsageError('exec: expected FILE TARGET -- COMMAND…');
    requireRoot();
    const lab = await Lab.attach(file, { runId: pickRunId(resolve(file), runId) });
    const r = await lab.exec(target, command, { stdio: 'inherit', timeoutMs: 0, container });
    return r.exitCode;
  },
};
export default cmd;
