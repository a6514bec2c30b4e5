import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import type { Command } from './main.ts';
import { DEFAULT_TOPOLOGY, interruptSignal, pickRunId } from './common.ts';
import { preflight } from './preflight.ts';
import { Lab } from '../api/lab.ts';
import { suiteNames, SUITES } from '../../suites/index.ts';

export const RUN_OPTIONS = {
  suite: { type: 'string' },
  reporter: { type: 'string' },
  out: { type: 'string' },
  keep: { type: 'boolean' },
  'run-id': { type: 'string' },
  list: { type: 'boolean' },
} as const;

export function listChecks(): string {
  return Object.values(SUITES)
    .flatMap((s) => s.checks.map((c) => `${c.id.padEnd(40)} ${c.title}`))
    .join('\n');
}

const cmd: Command = {
  summary: 'up, run the suites, report, down (default: the shipped flannel-3node topology)',
  usage: 'vxlab run [FILE] [--suite a,b] [--reporter pretty|tap|junit|json|html] [--out DIR] [--keep] [--run-id ID]',
  help: `Brings the topology up under a fresh run id, applies its faults, runs the suites (and the file's external
TAP checks), prints the report and tears everything down. With expect: in the file, exits 0 only if every
expectation holds; otherwise exits 1 if any check failed.
  --suite a,b        only these suites (${suiteNames().join(', ')})
  --reporter NAME    pretty (default) | tap | junit | json | html, on stdout
  --out DIR          also write report.tap, report.xml, report.json, report.html to DIR; artifacts go to DIR/<topology>-<run>
  --keep             on failure, leave the topology up and print how to get in and how to remove it
  --list             list every check id and exit`,
  async main(argv) {
    const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: RUN_OPTIONS });
    if (values.list) {
      console.log(listChecks());
      return 0;
    }
    const file = positionals[0] ?? DEFAULT_TOPOLOGY;
    const runId = pickRunId(resolve(file), values['run-id'], true);
    preflight();
    // installed for the whole run, teardown included: a second Ctrl-C cannot cut the teardown short
    const intr = interruptSignal();
    try {
      const r = await Lab.run(file, { runId, suites: values.suite?.split(',').filter(Boolean), reporter: values.reporter, outDir: values.out, keep: values.keep, progress: true, signal: intr.signal });
      process.stdout.write(r.output);
      return r.exitCode;
    } finally {
      intr.dispose();
    }
  },
};
export default cmd;
