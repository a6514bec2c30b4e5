import { parseArgs } from 'node:util';
import { basename, extname, join, resolve } from 'node:path';
import type { Command } from './main.ts';
import { interruptSignal, pickRunId, UsageError } from './common.ts';
import { preflight } from './preflight.ts';
import { Lab } from '../api/lab.ts';

const cmd: Command = {
  summary: "run a bug-reproduction file and check its expect: block",
  usage: 'vxlab repro FILE… [--reporter pretty|tap|junit|json|html] [--out DIR] [--keep] [--jobs N]',
  help: `Runs each FILE with its faults and compares every check with the file's expectations (checks the file does
not mention must pass). Prints expected against observed for every check. Exits 0 if and only if every
expectation of every FILE holds. With --out DIR and one FILE the reports go to DIR; with several FILEs each goes to
DIR/<file name without .yaml>/ (a name seen twice gets -2, -3, …), so no file's report overwrites another's.
  --jobs N   run up to N files at once (1–8, default 1): each file is its own run (own run id, namespaces, captures),
             so they do not see each other's traffic; reports still print in file order; per-check progress is
             shown only with --jobs 1`,
  async main(argv) {
    const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { reporter: { type: 'string' }, out: { type: 'string' }, keep: { type: 'boolean' }, suite: { type: 'string' }, jobs: { type: 'string' } } });
    if (!positionals.length) throw new UsageError('repro: expected FILE');
    const jobs = values.jobs === undefined ? 1 : Number(values.jobs);
    if (!Number.isInteger(jobs) || jobs < 1 || jobs > 8) throw new UsageError(`repro: --jobs: expected an integer 1–8, got ${JSON.stringify(values.jobs)}`);
    preflight();
    const outs = reproOutDirs(positionals, values.out);
    const machine = !(!values.reporter || values.reporter === 'pretty');
    // one file: as a user runs it, with progress; several at once: the reports are buffered and printed in file order
    const results: ({ output: string; verdict: string; exitCode: number } | undefined)[] = new Array(positionals.length);
    let printed = 0;
    let stop: number | undefined;
    const flush = () => {
      while (printed < positionals.length && results[printed]) {
        const r = results[printed++]!;
        process.stdout.write(r.output);
        // machine formats (tap, junit, json, html) keep stdout to the report itself
        if (r.verdict) (machine ? process.stderr : process.stdout).write(r.verdict);
      }
    };
    let next = 0;
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= positionals.length || stop !== undefined) return;
        const file = positionals[i]!;
        const intr = interruptSignal();
        let r;
        try {
          if (jobs > 1) process.stderr.write(`repro ${file}: started\n`);
          r = await Lab.run(file, { runId: pickRunId(resolve(file), undefined, true), expect: true, reporter: values.reporter, outDir: outs[i], keep: values.keep, suites: values.suite?.split(',').filter(Boolean), progress: jobs === 1, signal: intr.signal });
        } finally {
          intr.dispose();
        }
        if (r.interrupted) {
          // the remaining files are not run; what was interrupted prints its (partial) report
          stop ??= r.exitCode;
          results[i] = { output: r.output, verdict: '', exitCode: r.exitCode };
          return;
        }
        results[i] = { output: r.output, verdict: `repro ${file}: ${r.exitCode === 0 ? 'REPRODUCED (every expectation holds)' : 'EXPECTATIONS DO NOT HOLD'}\n`, exitCode: r.exitCode };
        flush();
      }
    };
    await Promise.all(Array.from({ length: Math.min(jobs, positionals.length) }, worker));
    if (stop !== undefined) {
      // print what finished, in order, up to the first file that did not (interrupted runs included)
      for (let i = printed; i < positionals.length; i++) if (results[i]) process.stdout.write(results[i]!.output + results[i]!.verdict);
      return stop;
    }
    flush();
    return results.some((r) => r?.exitCode) ? 1 : 0;
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
