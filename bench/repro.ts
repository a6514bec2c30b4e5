// bench section `repro` (#14): how long a broken network takes to diagnose against a healthy one being verified.
//  a) every bug file in topologies/bugs/ with a `-fixed` sibling: `vxlab repro BUG` against `vxlab run FIXED`,
//     interleaved in the same invocation, each as a user runs it (the CLI, a fresh process); each ratio and the worst.
//  b) the whole bug library through one `vxlab repro --jobs 3 topologies/bugs/*.yaml`, N times in a row: how many
//     expectations held each time (speed must not buy flakiness). Three files at once: each file is its own run (run
//     id, namespaces, captures), and a file's time is mostly waiting on the kernel (probe replies, timeouts).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmtRatio, fmtS, section, table } from './lib.ts';
import { fmtSettled, waitNamespacesFreed } from './scale.ts';

export interface ReproPair {
  bug: string;
  fixed: string;
  reproMs: number;
  runMs: number;
  reproExit: number;
  runExit: number;
}

export interface ReproFigures {
  pairs: ReproPair[];
  worst: number;
  library: { files: number; jobs: number; held: number[]; wallMs: number[]; load: string[]; notHeld: string[][] };
  load: { before: string; after: string };
}

function cli(repo: string, argv: string[], signal: AbortSignal): Promise<{ ms: number; exit: number; stdout: string }> {
  return new Promise((res) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [join(repo, 'bin/vxlab.js'), ...argv], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], signal });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', () => {});
    p.on('error', () => {});
    p.on('close', (code) => res({ ms: performance.now() - t0, exit: code ?? 1, stdout: out }));
  });
}

/** files at once in a library pass (`vxlab repro --jobs`) */
const LIBRARY_JOBS = 3;

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

export async function reproSection(repo: string, libraryReps: number, signal: AbortSignal, log: (m: string) => void, withPairs = true): Promise<ReproFigures> {
  const dir = join(repo, 'topologies/bugs');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
  const bugs = files.filter((f) => !f.endsWith('-fixed.yaml') && existsSync(join(dir, f.replace(/\.yaml$/, '-fixed.yaml'))));
  // namespaces deleted just before (a scale section, another bench) are still being torn down by the kernel for up to
  // half a minute, and the first pair timed meanwhile measures that too (session 9: 18.8 s instead of 3.3 s)
  log(`repro: before the first pair: ${fmtSettled(await waitNamespacesFreed({ signal }))}`);
  const before = loadavg();
  const pairs: ReproPair[] = [];
  for (const b of withPairs ? bugs : []) {
    if (signal.aborted) break;
    const fixed = b.replace(/\.yaml$/, '-fixed.yaml');
    log(`repro: ${b} against run ${fixed}`);
    const r = await cli(repo, ['repro', join('topologies/bugs', b), '--reporter', 'json'], signal);
    const f = await cli(repo, ['run', join('topologies/bugs', fixed), '--reporter', 'json'], signal);
    pairs.push({ bug: b, fixed, reproMs: r.ms, runMs: f.ms, reproExit: r.exit, runExit: f.exit });
  }
  const held: number[] = [];
  const wallMs: number[] = [];
  const load: string[] = [];
  const notHeld: string[][] = [];
  for (let i = 0; i < libraryReps && !signal.aborted; i++) {
    log(`repro: whole library (${files.length} files, --jobs ${LIBRARY_JOBS}), pass ${i + 1}/${libraryReps}`);
    const r = await cli(repo, ['repro', '--jobs', String(LIBRARY_JOBS), ...files.map((f) => join('topologies/bugs', f))], signal);
    if (signal.aborted) break; // a pass cut short by the interrupt counts neither way
    wallMs.push(r.ms);
    load.push(loadavg());
    held.push((r.stdout.match(/: REPRODUCED \(every expectation holds\)/g) ?? []).length);
    notHeld.push([...r.stdout.matchAll(/^repro (\S+): EXPECTATIONS DO NOT HOLD$/gm)].map((m) => m[1]!.replace(/^.*\//, '')));
    // a pass where an expectation did not hold keeps its whole output (every check's message): a flake is a bug to read
    let kept = '';
    if (notHeld.at(-1)!.length) {
      kept = join(tmpdir(), `vxlab-bench-library-pass${i + 1}-${process.pid}.log`);
      writeFileSync(kept, r.stdout);
    }
    log(`repro: pass ${i + 1}: ${held.at(-1)} / ${files.length} held, ${fmtS(r.ms)}, load avg ${load.at(-1)}${notHeld.at(-1)!.length ? `; did not hold: ${notHeld.at(-1)!.join(', ')} (output kept: ${kept})` : ''}`);
  }
  const worst = pairs.length ? Math.max(...pairs.map((p) => p.reproMs / p.runMs)) : NaN;
  return { pairs, worst, library: { files: files.length, jobs: LIBRARY_JOBS, held, wallMs, load, notHeld }, load: { before, after: loadavg() } };
}

export function printRepro(f: ReproFigures): void {
  if (f.pairs.length) {
    console.log(section(`6. repro vs run: \`vxlab repro BUG\` against \`vxlab run BUG-fixed\` (CLI, fresh process each), load avg ${f.load.before} → ${f.load.after}`));
    console.log(
      table(
        ['bug file', 'repro', 'exit', 'run -fixed', 'exit', 'ratio', 'target'],
        f.pairs.map((p) => [p.bug, fmtS(p.reproMs), p.reproExit, fmtS(p.runMs), p.runExit, fmtRatio(p.reproMs / p.runMs), '≤ 2.0×']),
      ),
    );
    console.log(`worst ratio: ${fmtRatio(f.worst)} (target ≤ 2.0×); exit 0 = every expectation held (repro) / every check passed (run)`);
  }
  console.log(
    table(
      ['library pass', 'files', 'expectations held', `wall (--jobs ${f.library.jobs})`, 'load avg after', 'did not hold'],
      f.library.held.map((h, i) => [String(i + 1), f.library.files, `${h} / ${f.library.files}`, fmtS(f.library.wallMs[i]!), f.library.load[i]!, f.library.notHeld[i]!.join(', ') || '—']),
    ),
  );
}
