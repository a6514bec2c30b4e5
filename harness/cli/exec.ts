import { spawn } from 'node:child_process';
import type { Command } from './main.ts';
import { EXIT, requireRoot, UsageError } from './common.ts';
import { liveRun, targetNs } from './target.ts';
import { getRuntime } from '../runtime/registry.ts';

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
    const inContainer = ci >= 0;
    if (inContainer) head.splice(ci, 1);
    const [file, target] = head;
    if (!file || !target || head.length !== 2) throw new UsageError('exec: expected FILE TARGET -- COMMAND…');
    requireRoot();
    const { t, state } = liveRun(file, runId);
    const ns = targetNs(t, target);
    let full = ['ip', 'netns', 'exec', ns, ...command];
    if (inContainer) {
      const n = t.nodes.find((x) => x.name === target);
      if (!n?.container) throw new UsageError(`exec --container: ${target} is not a container node (runtime ${t.runtime}; pods are namespaces)`);
      full = getRuntime(t.runtime).execArgv(state, n.name, command);
    }
    return await new Promise<number>((res) => {
      const c = spawn(full[0]!, full.slice(1), { stdio: 'inherit' });
      c.on('error', (e) => {
        console.error(`vxlab exec: ${e.message}`);
        res(127);
      });
      c.on('exit', (code, sig) => res(code ?? (sig ? 128 + 15 : EXIT.FAIL)));
    });
  },
};
export default cmd;
