import { parseArgs } from 'node:util';
import type { Command } from './main.ts';
import { existsSync } from 'node:fs';
import { EXIT, renderError, UsageError } from './common.ts';
import { Lab } from '../api/lab.ts';
import { okLine } from './validate-line.ts';

const cmd: Command = {
  summary: 'check a topology file (schema + semantics); no kernel access',
  usage: 'vxlab validate FILE…',
  help: 'Loads each FILE (following extends), validates it against the schema and the semantic rules (fault targets,\nexpect: ids and patterns, overlay.cni conflist and plugins), and prints the resolved node count.\nErrors are printed as file:line:col: key: what was expected. Needs no root.',
  async main(argv) {
    const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
    if (!positionals.length) throw new UsageError('validate: expected FILE');
    let rc: number = EXIT.OK;
    for (const f of positionals) {
      let t;
      try {
        if (!existsSync(f)) throw new UsageError(`topology file not found: ${f}`);
        t = await Lab.validate(f);
      } catch (e) {
        const r = renderError(e);
        console.error(r.text);
        rc = Math.max(rc, r.exit);
        continue;
      }
      console.log(okLine(f, t));
    }
    return rc;
  },
};
export default cmd;
