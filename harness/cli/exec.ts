import { spawn } from 'node:child_process';
import type { Command } from './main.ts';
import { EXIT, requireRoot, UsageError } from './common.ts';
import { liveRun, targetNs } from './target.ts';

const cmd: Command = {
  summary: 'run a command inside a node or pod namespace (exit code passed through)',
  usage: 'vxlab exec FILE NODE[/POD] [--run-id ID] -- COMMAND [ARG…]',
  help: 'Runs COMMAND (an argv, no shell) in the namespace of NODE or NODE/POD, with the terminal attached.',
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
    const [file, target] = head;
    if (!file || !target || head.length !== 2) throw new UsageError('exec: expected FILE TARGET -- COMMAND…');
    requireRoot();
    const { t } = liveRun(file, runId);
    const ns = targetNs(t, target);
    return await new Promise<number>((res) => {
      const c = spawn('ip', ['netns', 'exec', ns, ...command], { stdio: 'inherit' });
      c.on('error', (e) => {
        console.error(`vxlab exec: ${e.message}`);
        res(127);
      });
      c.on('exit', (code, sig) => res(code ?? (sig ? 128 + 15 : EXIT.FAIL)));
    });
  },
};
export default cmd;
