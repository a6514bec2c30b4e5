import { parseArgs } from 'node:util';
import type { Command } from './main.ts';
import { EXIT, requireRoot } from './common.ts';
import { Lab } from '../api/lab.ts';

const cmd: Command = {
  summary: 'reap runs whose up/run process died mid-way (--all: every vxlab run)',
  usage: 'vxlab cleanup [--all]',
  help: 'Without --all: removes runs whose owner process is gone before it finished (a crashed up, any dead run/repro),\nwith their containers, Docker networks and kind clusters.\n  --all   remove every recorded vxlab run, any unrecorded vx-<id>-* namespace, and every container or Docker\n          network labelled vxlab.run (or kind cluster named vx-…) that no state file records',
  async main(argv) {
    const { values } = parseArgs({ args: argv, options: { all: { type: 'boolean' } } });
    requireRoot();
    const r = await Lab.cleanup({ all: !!values.all });
    console.log(`cleanup: removed ${r.removed.length} run(s)${r.removed.length ? ` (${r.removed.join(', ')})` : ''}; kept ${r.kept.length}${r.orphanNamespaces.length ? `; removed ${r.orphanNamespaces.length} unrecorded namespace(s)` : ''}`);
    return EXIT.OK;
  },
};
export default cmd;
