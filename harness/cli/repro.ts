import { parseArgs } from 'node:util';
import { basename, extname, join, resolve } from 'node:path';
import type { Command } from './main.ts';
import { interruptSignal, pickRunId, UsageError } from './common.ts';
import { preflight } from './preflight.ts';
import { Lab } from '../api/lab.ts';

const cmd: Command = {
  summary: "run a bug-reproduction file and check its expect: block",
  usage: 'vxlab repro FILE… [--reporter pretty|tap|junit|json|html] [--out DIR] [--keep]',
  help: `Runs each FILE with its faults and compares every check with the file's expectations (checks the file does
not mention must pass). Prints expected against observed for every check. Exits 0 if and only if every
expectation of every FILE holds. With --out DIR and one FILE the reports go to DIR; with several FILEs each goes to
DIR/<file name without .yaml>/ (a name seen twice gets -2, -3, …), so no file's report overwrites another's.`,
  async main(argv) {
    const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { reporter: { type: 'string' }, out: { type: 'string' }, keep: { type: 'boolean' }, suite: { type: 'string' } } });
    if (!positionals.length) throw new UsageError('repro: expected FILE');
    preflight();
    let rc = 0;
    const outs = reproOutDirs(positionals, values.out);
    for (const [i, file] of positionals.entries()) {
      const intr = interruptSignal();
      let r;
      try {
        r = await Lab.run(file, { runId: pickRunId(resolve(file), undefined, true), expect: true, reporter: values.reporter, outDir: outs[i], keep: values.keep, suites: values.suite?.split(',').filter(Boolean), progress: true, signal: intr.signal });
      } finally {
        intr.dispose();
      }
      process.stdout.write(r.output);
      if (r.interrupted) return r.exitCode; // the remaining files are not run
      const verdict = `repro ${file}: ${r.exitCode === 0 ? 'REPRODUCED (every expectation holds)' : 'EXPECTATIONS DO NOT HOLD'}\n`;
      // machine formats (tap, junit, json, html) keep stdout to the report itself
      (!values.reporter || values.reporter === 'pretty' ? process.stdout : process.stderr).write(verdict);
      if (r.exitCode) rc = 1;
    }
    return rc;
  },
};
export default cmd;

/** Where each FILE's reports go: DIR itself for one FILE; DIR/<name> for several (names made unique in order). Pure. */
export function reproOutDirs(files: string[], out: string | undefined): (string | undefined)[] {
  if (out === undefined) return files.map(() => undefined);
  if (files.length === 1) return [out];
  const seen = new Map<string, number>();
  return files.map((f) => {
    const base = basename(f, extname(f)) || 'topology';
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return join(out, n === 1 ? base : `${base}-${n}`);
  });
}
