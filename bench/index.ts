// vxlab bench: wall times of up/down, a full `vxlab run`, the 100-node connectivity matrix and the userspace VTEP,
// each beside a baseline measured in the same invocation and the issue's targets.
//
//   npm run bench -- [--only up,cli,run,connectivity,vtep,vtep6,docker,ipv6,repro,steps] [--sizes 3,10,50,100] [--reps N] [--full]
//                    [--naive-sizes 3,10,50] [--conn-nodes 100] [--sample 200] [--out FILE]
//
// Needs root. Everything it creates is recorded first and removed in `finally`, also on Ctrl-C.
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
// @ts-expect-error plain JavaScript modules without types
import { build } from '../scripts/build.mjs';
// @ts-expect-error plain JavaScript modules without types
import { distState } from '../bin/dist-state.js';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { up, type Running } from '../harness/runtime/lifecycle.ts';
import { plan as makePlan } from '../harness/plan/plan.ts';
import { run } from '../harness/util/exec.ts';
import { runSession } from '../harness/runner/session.ts';
import { applyAction } from '../harness/steps/apply.ts';
import { TopologySchema } from '../harness/topology/schema.ts';
import { allPods } from '../harness/topology/resolved.ts';
import type { CheckContext } from '../harness/runner/check.ts';
import { measureMatrix } from '../suites/connectivity.ts';
import { printRepro, reproSection } from './repro.ts';
import { benchVtep, formatBenchRows, type VtepBenchRow } from '../harness/vtep/bench.ts';
import { dockerFloor } from './docker-floor.ts';
import { printScale, SCALE_MAX_NODES, scaleSection } from './scale.ts';
import { FULL_RUN_TARGET_MS, printScaleRun, scaleRun } from './scale-run.ts';
import {
  arpTableFulls, fmtMs, fmtRatio, fmtS, gcThresh3, Interrupted, median, min, naiveDown, naiveUp, netnsObjects, Owned, planCounts, section, settle,
  synthTopology, table,
} from './lib.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const SECTIONS = ['up', 'cli', 'run', 'connectivity', 'vtep', 'vtep6', 'docker', 'ipv6', 'repro', 'steps', 'scale'] as const;
type Section = (typeof SECTIONS)[number];
/** `scale` (100..1,000 nodes, against Mininet) takes many minutes: only with --only scale */
const DEFAULT_SECTIONS = SECTIONS.filter((s) => s !== 'scale');

const USAGE = `usage: npm run bench -- [options]
  --only LIST         sections, comma-separated: ${SECTIONS.join(',')} (default: all but scale)
  --sizes LIST        node counts for up/down (default 3,10,50,100; scale: default 100,300,1000)
  --reps N            repetitions of up/down, of 'vxlab run' and of the connectivity measurement (default 3)
  --naive-sizes LIST  node counts for the naive one-process-per-command baseline (default: sizes ≤ 50)
  --full              also run the naive baseline for every size (100 nodes takes minutes)
  --conn-nodes N      nodes for the all-pairs connectivity measurement (default 100)
  --sample N          pairs in the naive one-ping-per-pair sweep (default 200)
  --vtep-seconds N    iperf3 duration per VTEP pair (default 3)
  --library-reps N    repro: passes of the whole bug library through one \`vxlab repro\` (default 10; 0: only the pairs)
  --repro-pairs WHICH repro: all (default) or none (only the library passes)
  --docker-sizes LIST node counts for the docker-vs-netns up/down rows (default 3,10,30; needs dockerd)
  --run-sizes LIST    scale: node counts of the full \`vxlab run\` row (default 1000, none: no such row; bench/scale-run.ts)
  --out FILE          write the raw figures as JSON to FILE (default: a file under the system temp dir)`;

interface Target {
  section: string;
  figure: string;
  value: string;
  target: string;
  met: boolean | undefined;
}

function intList(s: string | undefined, what: string): number[] | undefined {
  if (s === undefined) return undefined;
  const xs = s.split(',').filter(Boolean).map(Number);
  if (!xs.length || xs.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`${what}: expected a comma-separated list of positive integers, got '${s}'`);
  return xs;
}

function posInt(s: string | undefined, what: string, dflt: number, min = 1): number {
  if (s === undefined) return dflt;
  const x = Number(s);
  if (!Number.isInteger(x) || x < min) throw new Error(`${what}: expected ${min ? 'a positive' : 'a non-negative'} integer, got '${s}'`);
  return x;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      sizes: { type: 'string' },
      reps: { type: 'string' },
      'naive-sizes': { type: 'string' },
      full: { type: 'boolean' },
      'conn-nodes': { type: 'string' },
      sample: { type: 'string' },
      'vtep-seconds': { type: 'string' },
      'library-reps': { type: 'string' },
      'repro-pairs': { type: 'string' },
      'docker-sizes': { type: 'string' },
      'run-sizes': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    console.error('vxlab bench needs root: it creates network namespaces, veths and vxlan devices (run it with sudo).');
    return 3;
  }
  const only = values.only ? values.only.split(',').filter(Boolean) : [...DEFAULT_SECTIONS];
  for (const s of only) if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`--only: unknown section '${s}'; expected some of: ${SECTIONS.join(', ')}`);
  const want = (s: Section) => only.includes(s);
  const sizes = intList(values.sizes, '--sizes') ?? (only.length === 1 && only[0] === 'scale' ? [100, 300, 1000] : [3, 10, 50, 100]);
  // the scale section's topologies take their pod subnets from a /10; the others from 10.244.0.0/16
  if (sizes.some((n) => n > 250) && only.some((s) => s !== 'scale')) throw new Error('--sizes: at most 250 nodes (one /24 pod subnet per node in 10.244.0.0/16) except with --only scale');
  if (sizes.some((n) => n > SCALE_MAX_NODES)) throw new Error(`--sizes: at most ${SCALE_MAX_NODES} nodes`);
  const reps = posInt(values.reps, '--reps', 3);
  if (reps > 50) throw new Error('--reps: at most 50');
  const naiveSizes = values.full ? sizes : (intList(values['naive-sizes'], '--naive-sizes') ?? sizes.filter((n) => n <= 50));
  const connNodes = posInt(values['conn-nodes'], '--conn-nodes', 100);
  if (connNodes > 250) throw new Error('--conn-nodes: at most 250');
  const sample = posInt(values.sample, '--sample', 200);
  const vtepSeconds = posInt(values['vtep-seconds'], '--vtep-seconds', 3);
  const libraryReps = posInt(values['library-reps'], '--library-reps', 10, 0);
  const reproPairs = values['repro-pairs'] ?? 'all';
  if (reproPairs !== 'all' && reproPairs !== 'none') throw new Error(`--repro-pairs: expected all or none, got '${reproPairs}'`);
  const dockerSizes = intList(values['docker-sizes'], '--docker-sizes') ?? [3, 10, 30];
  if (dockerSizes.some((n) => n > 200)) throw new Error('--docker-sizes: at most 200 nodes');
  const outFile = values.out ? resolve(values.out) : join(tmpdir(), 'vxlab-bench', 'latest.json');

  for (const tool of ['ip', 'bridge', 'sysctl', 'fping', 'ping', ...(want('vtep') ? ['iperf3'] : [])]) {
    const r = await run(['which', tool], { reject: false });
    if (r.exitCode !== 0) {
      console.error(`vxlab bench: '${tool}' is not installed`);
      return 3;
    }
  }

  // ---- ownership and interruption
  const owned = new Owned();
  const ac = new AbortController();
  let signals = 0;
  const onSignal = () => {
    signals++;
    if (signals === 1) {
      process.stderr.write('\nbench: interrupted; finishing the current step and removing everything it created…\n');
      ac.abort();
    } else process.stderr.write('bench: still removing what it created; please wait\n');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const check = () => {
    if (ac.signal.aborted) throw new Interrupted();
  };
  const log = (s: string) => process.stderr.write(`  · ${s}\n`);

  const targets: Target[] = [];
  const raw: Record<string, unknown> = {
    startedAt: new Date().toISOString(),
    host: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, kernel: (await run(['uname', '-r'])).stdout.trim() },
    options: { only, sizes, reps, naiveSizes, connNodes, sample, vtepSeconds, dockerSizes },
  };
  const t0 = performance.now();
  console.log(`vxlab bench — ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}, kernel ${(raw.host as any).kernel}`);
  console.log(`reps ${reps}: each figure is the median (and min) of the repetitions unless stated otherwise`);

  const scratch = mkdtempSync(join(tmpdir(), 'vxlab-bench-'));
  let exit = 0;
  try {
    // ================================================================ 1+2: up/down, naive baseline
    if (want('up')) {
      const sBefore = netnsObjects();
      const rows: (string | number)[][] = [];
      const naiveRows: (string | number)[][] = [];
      const upRaw: unknown[] = [];
      for (const n of sizes) {
        const topo = synthTopology(n, 1);
        // a resolve only for counting plan lines; 'counts' is never brought up
        const plan0 = makePlan(owned.resolve(topo, 'counts'));
        const counts = planCounts(plan0);
        const ups: number[] = [];
        const downs: number[] = [];
        for (let r = 0; r < reps; r++) {
          check();
          const t = owned.resolve(topo);
          log(`up/down ${n} nodes, rep ${r + 1}/${reps} (run ${t.runId})`);
          let running: Running | undefined;
          try {
            const a = performance.now();
            running = await up(t, { ephemeral: true, signal: ac.signal });
            ups.push(performance.now() - a);
            const b = performance.now();
            await running.down();
            downs.push(performance.now() - b);
            running = undefined;
          } finally {
            if (running) await running.down().catch(() => {});
          }
        }
        let naive: { upMs: number; downMs: number } | undefined;
        if (naiveSizes.includes(n)) {
          check();
          const t = owned.resolve(topo);
          const p = makePlan(t);
          log(`naive baseline ${n} nodes: ${counts.naive.upProcs} processes, sequential`);
          let built = false;
          try {
            const a = performance.now();
            built = true;
            await naiveUp(p, owned, check);
            const upMs = performance.now() - a;
            const b = performance.now();
            await naiveDown(p, owned);
            built = false;
            const downMs = performance.now() - b;
            naive = { upMs, downMs };
          } finally {
            if (built) await owned.reapAll();
          }
        }
        const upMed = median(ups);
        const downMed = median(downs);
        upRaw.push({ nodes: n, pods: n, namespaces: plan0.namespaces.length, commands: counts.lines, batchedProcesses: counts.batchedProcs, naiveProcesses: counts.naive.upProcs, upMs: ups, downMs: downs, naive });
        const upTarget = n === 3 ? 1000 : n === 100 ? 3000 : undefined;
        const downTarget = n === 3 ? 500 : n === 100 ? 2000 : undefined;
        rows.push([
          n,
          counts.lines,
          counts.batchedProcs,
          fmtMs(upMed),
          fmtMs(min(ups)),
          fmtMs(upMed / n),
          upTarget ? `≤ ${fmtMs(upTarget)}` : '—',
          fmtMs(downMed),
          fmtMs(min(downs)),
          fmtMs(downMed / n),
          downTarget ? `≤ ${fmtMs(downTarget)}` : '—',
        ]);
        if (upTarget) targets.push({ section: 'up/down', figure: `up ${n} nodes (median)`, value: fmtS(upMed), target: `≤ ${fmtS(upTarget)}`, met: upMed <= upTarget });
        if (downTarget) targets.push({ section: 'up/down', figure: `down ${n} nodes (median)`, value: fmtS(downMed), target: `≤ ${fmtS(downTarget)}`, met: downMed <= downTarget });
        naiveRows.push(
          naive
            ? [n, counts.naive.upProcs, counts.batchedProcs, fmtMs(naive.upMs), fmtMs(upMed), fmtRatio(naive.upMs / upMed), fmtMs(naive.downMs), fmtMs(downMed), fmtRatio(naive.downMs / downMed)]
            : [n, counts.naive.upProcs, counts.batchedProcs, 'skipped', fmtMs(upMed), '—', 'skipped', fmtMs(downMed), '—'],
        );
      }
      raw.upDown = upRaw;
      await settle(sBefore + 8, ac.signal, 15_000); // let the kernel free this section's namespaces before the next
      console.log(section('1. up/down wall time — library up()/down(), flannel, 1 pod per node, one segment'));
      console.log(
        table(
          ['nodes', 'cmds', 'procs', 'up ms', 'up min', 'ms/node', 'up target', 'down ms', 'down min', 'ms/node', 'down target'],
          rows,
        ),
      );
      console.log('cmds = plan lines (incl. one per namespace); procs = processes up() starts (ip -batch per op). Median and min of the reps.');
      console.log('down ends when every namespace is gone from /var/run/netns. The kernel frees the namespaces asynchronously afterwards;');
      console.log('the next rep pays part of that (it is not waited for between reps: back-to-back runs are the realistic case; "min" is the best case).');
      console.log(section('2. baseline: same plan, one ip/bridge process per command, sequential (naive script), 1 run each'));
      console.log(table(['nodes', 'naive procs', 'batched procs', 'naive up ms', 'batched up ms', 'ratio', 'naive down ms', 'batched down ms', 'ratio'], naiveRows));
      const skipped = sizes.filter((n) => !naiveSizes.includes(n));
      if (skipped.length) console.log(`naive baseline skipped for ${skipped.join(', ')} nodes (bounded; pass --full to run it for every size).`);
      console.log('ratio = naive / batched (median). naive down = one `ip netns del` per namespace.');
    }

    // ================================================================ 1d: IPv6 (#11): up of N dual-stack nodes on an IPv6 underlay vs IPv4
    if (want('ipv6')) {
      const n = Math.max(...sizes);
      const times: Record<'ipv4' | 'ipv6-dual-stack', number[]> = { ipv4: [], 'ipv6-dual-stack': [] };
      const downs: Record<'ipv4' | 'ipv6-dual-stack', number[]> = { ipv4: [], 'ipv6-dual-stack': [] };
      for (let r = 0; r < reps; r++) {
        // interleaved, so load drifts hit both alike
        for (const fam of ['ipv4', 'ipv6-dual-stack'] as const) {
          check();
          const t = owned.resolve(synthTopology(n, 1, fam));
          log(`ipv6: up/down ${n} nodes ${fam}, rep ${r + 1}/${reps} (run ${t.runId})`);
          let running: Running | undefined;
          try {
            const a = performance.now();
            running = await up(t, { ephemeral: true, signal: ac.signal });
            times[fam].push(performance.now() - a);
            const b = performance.now();
            await running.down();
            downs[fam].push(performance.now() - b);
            running = undefined;
          } finally {
            if (running) await running.down().catch(() => {});
          }
        }
      }
      const v4 = median(times.ipv4);
      const v6 = median(times['ipv6-dual-stack']);
      raw.ipv6 = { nodes: n, upMs: times, downMs: downs };
      console.log(section(`1d. IPv6: up of ${n} dual-stack nodes (IPv6 underlay, IPv4 + IPv6 pods) against ${n} IPv4 nodes, same run, interleaved`));
      console.log(
        table(
          ['topology', 'up ms', 'up min', 'down ms', 'ratio to IPv4', 'target'],
          [
            ['IPv4 underlay, IPv4 pods', fmtMs(v4), fmtMs(min(times.ipv4)), fmtMs(median(downs.ipv4)), '1.00×', '—'],
            ['IPv6 underlay, dual-stack pods', fmtMs(v6), fmtMs(min(times['ipv6-dual-stack'])), fmtMs(median(downs['ipv6-dual-stack'])), `${(v6 / v4).toFixed(2)}×`, '≤ 1.50×'],
          ],
        ),
      );
      console.log('dual-stack: one VTEP device per node carrying both pod families, twice the neighbours and routes, nodad addresses, permanent IPv6 underlay neighbours (staticArp auto).');
      targets.push({ section: 'ipv6', figure: `up ${n} dual-stack nodes / IPv4`, value: `${(v6 / v4).toFixed(2)}×`, target: '≤ 1.50×', met: v6 / v4 <= 1.5 });
    }

    // ================================================================ 1b: CLI start-up, dist/ against tsx; one CLI up/down for N=3
    if (want('cli')) {
      check();
      {
        // compiled dist/ (what bin/vxlab.js runs) against the TypeScript sources through tsx (VXLAB_FROM_SOURCE=1, the
        // previous entry point), interleaved in the same run. Wall time of the whole process, spawned directly.
        const b = await build({ ifStale: true });
        const st = distState();
        if (!b.ok || st.state !== 'fresh') throw new Error(`cli: dist/ is not fresh (${st.state}${st.newer ? `: ${st.newer}` : ''}); npm run build`);
        const file3 = join(scratch, 'startup3.yaml');
        writeFileSync(file3, JSON.stringify(synthTopology(3, 2), null, 2));
        const cmds: [string, string[]][] = [['vxlab --help', ['--help']], ['vxlab validate (3 nodes)', ['validate', file3]]];
        const n = Math.max(reps, 7);
        const times = new Map<string, number[]>();
        // children's CPU time (user + sys, /proc/self/stat cutime + cstime, 10 ms ticks): less inflated by load than wall
        const childCpuMs = () => {
          const f = readFileSync('/proc/self/stat', 'utf8').slice(readFileSync('/proc/self/stat', 'utf8').lastIndexOf(')') + 2).split(' ');
          return (Number(f[13]) + Number(f[14])) * 10;
        };
        const cpu = new Map<string, number[]>();
        // NODE_EXTRA_CA_CERTS (set on some machines, this one included) makes Node 20 parse that CA bundle at every start,
        // before any JavaScript runs (nodejs/node#40524): the floor and the dist/ figures are also taken without it
        const extraCa = process.env.NODE_EXTRA_CA_CERTS;
        const noCaEnv = () => {
          const e = { ...process.env };
          delete e.NODE_EXTRA_CA_CERTS;
          return e;
        };
        const once = (args: string[], source: boolean, noCa = false) => {
          const c0 = childCpuMs();
          const a = performance.now();
          const r = spawnSync(process.execPath, [join(REPO, 'bin/vxlab.js'), ...args], { cwd: REPO, env: { ...(noCa ? noCaEnv() : process.env), VXLAB_FROM_SOURCE: source ? '1' : '' }, encoding: 'utf8' });
          const ms = performance.now() - a;
          if (r.status !== 0 || r.stderr) throw new Error(`cli: vxlab ${args.join(' ')} (${source ? 'tsx' : 'dist'}) exited ${r.status}: ${r.stderr}`);
          const k = `${args[0]}|${source ? 'tsx' : 'dist'}${noCa ? '|noca' : ''}`;
          cpu.set(k, [...(cpu.get(k) ?? []), childCpuMs() - c0]);
          return ms;
        };
        for (const [, args] of cmds) once(args, true); // warm tsx's transform cache: its steady state, not its first run
        for (let i = 0; i < n; i++) {
          for (const [name, args] of cmds) {
            for (const source of i % 2 ? [true, false] : [false, true]) {
              const k = `${name}|${source ? 'tsx' : 'dist'}`;
              times.set(k, [...(times.get(k) ?? []), once(args, source)]);
            }
          }
        }
        const bare: number[] = [];
        const bareCpu: number[] = [];
        const bareNoCa: number[] = [];
        const bareNoCaCpu: number[] = [];
        for (let i = 0; i < n; i++) {
          for (const noCa of extraCa ? [false, true] : [false]) {
            const c0 = childCpuMs();
            const a = performance.now();
            spawnSync(process.execPath, ['-e', '0'], { env: noCa ? noCaEnv() : process.env });
            (noCa ? bareNoCa : bare).push(performance.now() - a);
            (noCa ? bareNoCaCpu : bareCpu).push(childCpuMs() - c0);
          }
          if (extraCa) for (const [name, args] of cmds) times.set(`${name}|dist|noca`, [...(times.get(`${name}|dist|noca`) ?? []), once(args, false, true)]);
        }
        const rows: string[][] = [];
        const rawStart: Record<string, unknown> = {};
        for (const [name] of cmds) {
          const d = times.get(`${name}|dist`)!;
          const x = times.get(`${name}|tsx`)!;
          const ratio = median(d) / median(x);
          const arg = cmds.find((c) => c[0] === name)![1][0]!;
          const dc = cpu.get(`${arg}|dist`)!;
          const xc = cpu.get(`${arg}|tsx`)!;
          rows.push([name, fmtMs(median(d)), fmtMs(min(d)), fmtMs(median(x)), fmtMs(min(x)), fmtRatio(ratio), `${fmtMs(median(dc))} / ${fmtMs(median(xc))}`, '≤ 150 and ≤ 0.5×']);
          rawStart[name] = { distMs: d, tsxMs: x, distCpuMs: dc, tsxCpuMs: xc };
          targets.push({ section: 'cli', figure: `${name} start-up, dist/ (median)`, value: `${fmtS(median(d))}, ${ratio.toFixed(2)}× tsx`, target: '≤ 0.15 s and ≤ 0.5×', met: median(d) <= 150 && ratio <= 0.5 });
        }
        rows.push(['node -e 0 (floor)', fmtMs(median(bare)), fmtMs(min(bare)), '', '', '', fmtMs(median(bareCpu)), '']);
        if (extraCa) {
          for (const [name, args] of cmds) {
            const d = times.get(`${name}|dist|noca`)!;
            rows.push([`${name}, NODE_EXTRA_CA_CERTS unset`, fmtMs(median(d)), fmtMs(min(d)), '', '', '', fmtMs(median(cpu.get(`${args[0]}|dist|noca`)!)), '']);
            rawStart[`${name} (NODE_EXTRA_CA_CERTS unset)`] = { distMs: d, distCpuMs: cpu.get(`${args[0]}|dist|noca`) };
          }
          rows.push(['node -e 0, NODE_EXTRA_CA_CERTS unset', fmtMs(median(bareNoCa)), fmtMs(min(bareNoCa)), '', '', '', fmtMs(median(bareNoCaCpu)), '']);
        }
        raw.cliStartup = { reps: n, ...rawStart, bareNodeMs: bare, bareNodeCpuMs: bareCpu, ...(extraCa ? { bareNodeNoExtraCaMs: bareNoCa, bareNodeNoExtraCaCpuMs: bareNoCaCpu } : {}) };
        console.log(section(`1b. CLI start-up: compiled dist/ against the tsx path (VXLAB_FROM_SOURCE=1), ${n} interleaved runs each`));
        console.log(table(['command', 'dist ms (median)', 'dist min', 'tsx ms (median)', 'tsx min', 'dist / tsx', 'cpu ms dist / tsx', 'target'], rows, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r']));
        console.log('whole-process wall time (spawnSync) and CPU time (user+sys, median); the floor is a bare Node start on this machine.');
        if (extraCa) console.log(`NODE_EXTRA_CA_CERTS is set (${extraCa}): Node 20 loads it at every start before any JavaScript runs; the 'unset' rows are the same runs without it.`);
        console.log('Load inflates wall times for both paths alike; the ratio and the CPU column are the steadier figures.');
      }
      const topo = synthTopology(3, 1);
      const file = join(scratch, 'bench3.yaml');
      writeFileSync(file, JSON.stringify(topo, null, 2)); // JSON is YAML
      const id = owned.newRunId();
      log(`CLI vxlab up/down 3 nodes (run ${id})`);
      let upMs = NaN;
      let downMs = NaN;
      let inner = NaN;
      const s0 = netnsObjects();
      try {
        const a = performance.now();
        const u = await run(['node', join(REPO, 'bin/vxlab.js'), 'up', file, '--run-id', id], { cwd: REPO });
        upMs = performance.now() - a;
        inner = Number(/in (\d+) ms/.exec(u.stdout)?.[1] ?? NaN);
        const b = performance.now();
        await run(['node', join(REPO, 'bin/vxlab.js'), 'down', file, '--run-id', id], { cwd: REPO });
        downMs = performance.now() - b;
      } finally {
        await owned.reapAll();
      }
      await settle(s0 + 8, ac.signal, 15_000);
      raw.cli = { nodes: 3, upMs, downMs, upReportedByCliMs: inner };
      console.log(section('1c. CLI up/down, 3 nodes, one run each (includes Node start-up)'));
      console.log(
        table(['command', 'wall ms', 'target', 'note'], [
          ['vxlab up', fmtMs(upMs), '≤ 1000', `up() itself: ${fmtMs(inner)} ms as printed by the CLI; the rest is process startup`],
          ['vxlab down', fmtMs(downMs), '≤ 500', ''],
        ], ['l', 'r', 'r', 'l']),
      );
      console.log('the targets apply to the library figures in section 1; shown here for comparison only.');
    }

    // ================================================================ 1c: runtime docker vs netns
    if (want('docker')) {
      const rows: (string | number)[][] = [];
      const dRaw: unknown[] = [];
      for (const n of dockerSizes) {
        const base = synthTopology(n, 1);
        // the same topology on both runtimes; its own underlay CIDR (Docker refuses overlapping network subnets)
        const topo = { ...base, name: `dbench${n}`, underlay: { mtu: 1500, segments: [{ name: 'rack1', cidr: '172.29.0.0/16' }] } };
        const fig: Record<'netns' | 'docker', { up: number[]; down: number[] }> = { netns: { up: [], down: [] }, docker: { up: [], down: [] } };
        for (let r = 0; r < reps; r++) {
          for (const rt of ['netns', 'docker'] as const) {
            check();
            const t = owned.resolve({ ...topo, runtime: rt });
            log(`${rt} up/down ${n} nodes, rep ${r + 1}/${reps} (run ${t.runId})`);
            let running: Running | undefined;
            try {
              const a = performance.now();
              running = await up(t, { ephemeral: true, signal: ac.signal });
              fig[rt].up.push(performance.now() - a);
              const b = performance.now();
              await running.down();
              fig[rt].down.push(performance.now() - b);
              running = undefined;
            } finally {
              if (running) await running.down().catch(() => {});
            }
          }
        }
        // dockerd's own floor: the same number of containers created and started without testcontainers or vxlab
        check();
        const floor: number[] = [];
        {
          const id = owned.newRunId();
          log(`dockerd floor: create+start ${n} containers (run ${id})`);
          floor.push(await dockerFloor(n, id, '172.29', Number(process.env.VXLAB_CONCURRENCY ?? 16)));
        }
        const nu = median(fig.netns.up), du = median(fig.docker.up), nd = median(fig.netns.down), dd = median(fig.docker.down);
        dRaw.push({ nodes: n, netnsUpMs: fig.netns.up, dockerUpMs: fig.docker.up, netnsDownMs: fig.netns.down, dockerDownMs: fig.docker.down, dockerdFloorMs: floor });
        rows.push([n, fmtMs(nu), fmtMs(du), fmtRatio(du / nu), fmtMs(median(floor)), fmtRatio(du / median(floor)), fmtMs(nd), fmtMs(dd), fmtRatio(dd / nd)]);
        if (n === 30) {
          targets.push({ section: 'docker', figure: 'docker up 30 nodes (median)', value: fmtS(du), target: '≤ 15.00 s', met: du <= 15000 });
          targets.push({ section: 'docker', figure: 'docker up 30 nodes / netns up 30 nodes', value: fmtRatio(du / nu), target: '≤ 6×', met: du / nu <= 6 });
        }
      }
      raw.docker = dRaw;
      console.log(section('1c. runtime docker vs netns — library up()/down() of the same topology (flannel, 1 pod per node, one segment)'));
      console.log(table(['nodes', 'netns up ms', 'docker up ms', 'ratio', 'dockerd floor ms', 'up / floor', 'netns down ms', 'docker down ms', 'ratio'], rows));
      console.log('dockerd floor: plain create+start of as many containers (same image, one internal network, fixed addresses, same');
      console.log('concurrency), no testcontainers and no overlay: what dockerd itself costs on this machine, once per size.');
      console.log('docker: one container per node through testcontainers (the default node image, already built), one Docker network;');
      console.log('the first docker rep also pays loading testcontainers and connecting to dockerd (~1.5–2 s). ratio = docker / netns (median).');
    }

    // ================================================================ 1d: steps — node churn on 50 nodes
    if (want('steps')) {
      const n = 50;
      const base = synthTopology(n, 1);
      // per rep: a node joins (every peer learns it), then leaves (every peer deletes its entries) — in-process (x…),
      // then the same by processes (y…, VXLAB_APPLY=processes: the baseline, every printed command a process), so
      // load drifts hit both alike
      const churn = (name: string) => [{ action: 'add-node', node: { name, pods: 1 } }, { action: 'remove-node', node: name }];
      const topo = TopologySchema.parse({ ...base, steps: Array.from({ length: reps }, (_, r) => [...churn(`x${r + 1}`), ...churn(`y${r + 1}`)]).flat() });
      const t = owned.resolve(topo);
      log(`steps: ${n} nodes up, then ${reps}× (add-node + remove-node in-process, the same by processes) (run ${t.runId})`);
      const loadBefore = loadavg().map((x) => x.toFixed(1)).join(' ');
      type Mode = 'inproc' | 'processes';
      const ms: Record<Mode, { add: number[]; remove: number[]; peersAdd: number[]; peersRemove: number[] }> = {
        inproc: { add: [], remove: [], peersAdd: [], peersRemove: [] },
        processes: { add: [], remove: [], peersAdd: [], peersRemove: [] },
      };
      const prevApply = process.env.VXLAB_APPLY;
      let running: Running | undefined;
      try {
        running = await up(t, { ephemeral: true, signal: ac.signal });
        for (const st of t.steps!) {
          check();
          if (st.action === 'check') continue;
          const mode: Mode = (st.action === 'add-node' ? st.node.name : st.node).startsWith('y') ? 'processes' : 'inproc';
          if (mode === 'processes') process.env.VXLAB_APPLY = 'processes';
          else delete process.env.VXLAB_APPLY;
          const m = ms[mode];
          const a = performance.now();
          await applyAction(t, running.state, st, undefined, (what, x) => what.startsWith('peers') && (st.action === 'add-node' ? m.peersAdd : m.peersRemove).push(x));
          (st.action === 'add-node' ? m.add : m.remove).push(performance.now() - a);
        }
      } finally {
        if (prevApply === undefined) delete process.env.VXLAB_APPLY;
        else process.env.VXLAB_APPLY = prevApply;
        if (running) await running.down().catch(() => {});
        await owned.reapAll();
      }
      const loadAfter = loadavg().map((x) => x.toFixed(1)).join(' ');
      const { inproc: ip, processes: pr } = ms;
      raw.steps = { nodes: n, inproc: ip, processes: pr, loadBefore, loadAfter };
      console.log(section(`1d. steps: node churn on ${n} nodes — one node joins / leaves, vxlab's control plane reprograms all ${n} peers (library applyAction), ${reps} reps`));
      console.log(
        table(
          ['step', 'in-process median ms', 'min ms', 'peers phase ms', 'processes median ms', 'peers phase ms', 'processes / in-process', 'target'],
          [
            ['add-node (node + 50 peers)', fmtMs(median(ip.add)), fmtMs(min(ip.add)), fmtMs(median(ip.peersAdd)), fmtMs(median(pr.add)), fmtMs(median(pr.peersAdd)), fmtRatio(median(pr.add) / median(ip.add)), '≤ 500'],
            ['remove-node (namespaces + 50 peers)', fmtMs(median(ip.remove)), fmtMs(min(ip.remove)), fmtMs(median(ip.peersRemove)), fmtMs(median(pr.remove)), fmtMs(median(pr.peersRemove)), fmtRatio(median(pr.remove) / median(ip.remove)), '≤ 500'],
          ],
        ),
      );
      console.log(`load average (1/5/15 min) ${loadBefore} before, ${loadAfter} after`);
      console.log('in-process: the default (peers over rtnetlink from this process, namespaces as ip netns does); processes: VXLAB_APPLY=processes, every printed command a process');
      targets.push({ section: 'steps', figure: `add-node on ${n} nodes (median)`, value: fmtS(median(ip.add)), target: '≤ 0.50 s', met: median(ip.add) <= 500 });
      targets.push({ section: 'steps', figure: `remove-node on ${n} nodes (median)`, value: fmtS(median(ip.remove)), target: '≤ 0.50 s', met: median(ip.remove) <= 500 });
    }

    // ================================================================ 3: full vxlab run
    if (want('run')) {
      const file = join(REPO, 'topologies/flannel-3node.yaml');
      const walls: number[] = [];
      const perSuite = new Map<string, number[]>();
      const statuses: string[] = [];
      const runRaw: unknown[] = [];
      for (let r = 0; r < reps; r++) {
        check();
        const s0 = netnsObjects();
        const id = owned.newRunId();
        log(`vxlab run flannel-3node, rep ${r + 1}/${reps} (run ${id})`);
        try {
          const a = performance.now();
          const s = await runSession({ file, runId: id, reporter: 'json', quiet: true, outDir: join(scratch, `run-${id}`) });
          const wall = performance.now() - a;
          walls.push(wall);
          const sums = new Map<string, number>();
          for (const x of s.report.results) sums.set(x.suite, (sums.get(x.suite) ?? 0) + x.durationMs);
          for (const [k, v] of sums) perSuite.set(k, [...(perSuite.get(k) ?? []), v]);
          const c = { pass: 0, fail: 0, skip: 0 };
          for (const x of s.report.results) c[x.status]++;
          statuses.push(`${c.pass} pass, ${c.fail} fail, ${c.skip} skip`);
          if (c.fail) exit = 1;
          runRaw.push({ runId: id, wallMs: wall, reportDurationMs: s.report.durationMs, exitCode: s.exitCode, suites: Object.fromEntries(sums), counts: c });
        } finally {
          await owned.reapAll();
        }
        await settle(s0 + 8, ac.signal, 5_000);
      }
      raw.run = runRaw;
      const wallMed = median(walls);
      const suiteSum = [...perSuite.values()].reduce((a, xs) => a + median(xs), 0);
      console.log(section('3. full `vxlab run` of topologies/flannel-3node.yaml (3 nodes × 2 pods: up, 4 suites, down), in-process'));
      console.log(
        table(
          ['phase', 'median ms', 'min ms', 'share', 'target'],
          [
            ...[...perSuite].map(([k, xs]) => [`suite ${k}`, fmtMs(median(xs)), fmtMs(min(xs)), `${((median(xs) / wallMed) * 100).toFixed(0)} %`, '']),
            ['up + down + rest (wall − suites)', fmtMs(wallMed - suiteSum), '', `${(((wallMed - suiteSum) / wallMed) * 100).toFixed(0)} %`, ''],
            ['total wall', fmtMs(wallMed), fmtMs(min(walls)), '100 %', '≤ 5000'],
          ],
        ),
      );
      console.log(`results per rep: ${statuses.join(' | ')}`);
      targets.push({ section: 'vxlab run', figure: 'flannel-3node full run (median)', value: fmtS(wallMed), target: '≤ 5.00 s', met: wallMed <= 5000 });
    }

    // ================================================================ 4: all-pairs connectivity, 100 nodes
    if (want('connectivity')) {
      check();
      const t = owned.resolve(synthTopology(connNodes, 1));
      const pods = allPods(t);
      const pairs = pods.length * (pods.length - 1);
      log(`connectivity: up ${connNodes} nodes (run ${t.runId})`);
      let running: Running | undefined;
      const s0 = netnsObjects();
      try {
        running = await up(t, { ephemeral: true, signal: ac.signal });
        const times: number[] = [];
        const fulls: number[] = [];
        const reached: number[] = [];
        const rounds: number[] = [];
        for (let r = 0; r < reps; r++) {
          check();
          log(`connectivity: measure ${pairs} pairs, rep ${r + 1}/${reps}${r === 0 ? ' (cold: neighbour caches empty)' : ''}`);
          const memo = new Map<string, Promise<unknown>>();
          const ctx: CheckContext = {
            t,
            workDir: running.state.workDir,
            keep: () => {},
            progress: () => {},
            memo: <T>(key: string, make: () => Promise<T>) => {
              if (!memo.has(key)) memo.set(key, make());
              return memo.get(key) as Promise<T>;
            },
          };
          const f0 = arpTableFulls();
          const a = performance.now();
          const m = await measureMatrix(ctx);
          times.push(performance.now() - a);
          fulls.push(arpTableFulls() - f0);
          let ok = 0;
          for (let i = 0; i < m.pods.length; i++) for (let j = 0; j < m.pods.length; j++) if (i !== j && m.actual[i]![j] && m.expected[i]![j]) ok++;
          reached.push(ok);
          rounds.push(m.attempts);
        }
        // baseline: one ping process per pair, sequential, over an evenly spread sample of directed pairs
        const n = pods.length;
        const k = Math.min(sample, pairs);
        log(`connectivity baseline: ${k} sequential ping processes`);
        let ok = 0;
        const f0 = arpTableFulls();
        const a = performance.now();
        for (let s = 0; s < k; s++) {
          check();
          const idx = Math.floor((s * pairs) / k);
          const i = Math.floor(idx / (n - 1));
          const jj = idx % (n - 1);
          const j = jj >= i ? jj + 1 : jj;
          const r = await run(['ping', '-n', '-q', '-c', '1', '-W', '1', pods[j]!.ip], { ns: pods[i]!.ns, reject: false, timeoutMs: 5000 });
          if (r.exitCode === 0) ok++;
        }
        const sampleMs = performance.now() - a;
        const naiveFulls = arpTableFulls() - f0;
        const thresh3 = gcThresh3();
        const est = (sampleMs / k) * pairs;
        const cold = times[0]!;
        raw.connectivity = { nodes: connNodes, pairs, measureMs: times, reachedPairs: reached, rounds, arpTableFulls: fulls, gcThresh3: thresh3, naive: { sample: k, sampleMs, reached: ok, extrapolatedMs: est, arpTableFulls: naiveFulls } };
        console.log(section(`4. all-pairs connectivity, ${connNodes} nodes × 1 pod = ${pairs} directed pairs (measure() alone; up/down excluded)`));
        console.log(
          table(
            ['measurement', 'ms', 'pairs reachable', 'rounds', 'ARP table full', 'target', 'ratio naive/this'],
            [
              ['measure(), cold (1st)', fmtMs(cold), `${reached[0]} / ${pairs}`, rounds[0]!, fulls[0]!, '≤ 15000', fmtRatio(est / cold)],
              ...(reps > 1 ? [[`measure(), warm median of ${reps - 1}`, fmtMs(median(times.slice(1))), `${reached.slice(1).join(', ')}`, rounds.slice(1).join(', '), fulls.slice(1).join(', '), '', fmtRatio(est / median(times.slice(1)))]] : []),
              [`naive: ${k} pings sequential`, fmtMs(sampleMs), `${ok} / ${k}`, '', naiveFulls, '', ''],
              [`naive: extrapolated to ${pairs}`, fmtMs(est), '', '', '', '', '1.0×'],
            ],
          ),
        );
        console.log('naive = one `ip netns exec … ping -c 1 -W 1` process per pair, run after measure() (caches warm, so it is a favourable baseline).');
        console.log(`ARP table full = increase of table_fulls in /proc/net/stat/arp_cache: the kernel's ARP table is shared by every namespace and`);
        console.log(`its gc_thresh3 is ${thresh3}; a full table drops packets that need a new neighbour entry (underlay node↔node ARP: ~N² dynamic entries).`);
        targets.push({ section: 'connectivity', figure: `${pairs} pairs, cold measure()`, value: fmtS(cold), target: '≤ 15.00 s', met: cold <= 15000 });
        targets.push({ section: 'connectivity', figure: `${pairs} pairs all reachable`, value: `${reached[0]} / ${pairs}`, target: `${pairs} / ${pairs}`, met: reached[0] === pairs });
        if (reached[0] !== pairs) exit = 1;
        const b = performance.now();
        await running.down();
        running = undefined;
        log(`connectivity: down ${connNodes} nodes in ${fmtMs(performance.now() - b)} ms`);
      } finally {
        if (running) await running.down().catch(() => {});
        await owned.reapAll();
      }
      await settle(s0 + 8, ac.signal, 15_000);
    }

    // ================================================================ 6: repro vs run (bench/repro.ts)
    // ================================================================ scale: full `vxlab run` at N nodes (bench/scale-run.ts)
    if (want('scale')) {
      // `--run-sizes none`: the up/down rows and profiles only (the full run at 1,000 nodes takes many minutes)
      const runSizes = values['run-sizes'] === 'none' ? [] : (intList(values['run-sizes'], '--run-sizes') ?? [1000]);
      if (runSizes.some((n) => n > 4096)) throw new Error('--run-sizes: at most 4096 nodes (the topology limit)');
      const rows = await scaleRun(runSizes, { owned, scratch, log, check });
      raw.scaleRun = rows;
      printScaleRun(rows);
      // the issue's target is the whole run (up, suites, down); the suites' share is printed beside it
      for (const r of rows) if (r.nodes === 1000 && !r.only) targets.push({ section: 'scale', figure: `full vxlab run, 1,000 nodes (suites ${fmtS(r.wallMs - r.restMs)}, ${r.end}, ${r.counts.fail} failed)`, value: fmtS(r.wallMs), target: `≤ ${fmtS(FULL_RUN_TARGET_MS)}`, met: r.end === 'completed' && r.counts.fail === 0 && r.wallMs <= FULL_RUN_TARGET_MS });
    }

    if (want('repro')) {
      check();
      const f = await reproSection(REPO, libraryReps, ac.signal, log, reproPairs === 'all');
      raw.repro = f;
      printRepro(f);
      if (f.pairs.length) targets.push({ section: 'repro', figure: 'worst repro/run-fixed ratio', value: fmtRatio(f.worst), target: '≤ 2.0×', met: f.worst <= 2 });
      const all = f.library.held.every((h) => h === f.library.files);
      if (f.library.held.length) targets.push({ section: 'repro', figure: `bug library × ${f.library.held.length}: expectations held`, value: f.library.held.map((h) => `${h}/${f.library.files}`).join(', '), target: `${f.library.files}/${f.library.files} every time`, met: all });
    }

    // ================================================================ 5: userspace VTEP
    if (want('vtep')) {
      check();
      log('vtep: benchVtep() (iperf3 + ping for each pair; builds and removes its own vxt-vtep-bench-* namespaces)');
      const rows: VtepBenchRow[] = await benchVtep({ seconds: vtepSeconds, log });
      raw.vtep = rows;
      console.log(section(`5. userspace VTEP — iperf3 TCP ${vtepSeconds} s and 200 pings per pair (harness/vtep/bench.ts), baseline kernel↔kernel`));
      console.log(formatBenchRows(rows));
      console.log('');
      const tr: (string | number)[][] = [];
      const uu = rows.find((r) => r.a === 'user' && r.b === 'user');
      if (uu) {
        const g = uu.tcpBps / 1e9;
        const met1 = g >= 1;
        const met2 = uu.tcpRatio >= 0.15;
        tr.push(['user↔user throughput', `${g.toFixed(2)} Gbit/s`, '≥ 1 Gbit/s', met1 ? 'PASS' : 'MISS']);
        tr.push(['user↔user / kernel↔kernel', `${(uu.tcpRatio * 100).toFixed(1)} %`, '≥ 15 %', met2 ? 'PASS' : 'MISS']);
        targets.push({ section: 'vtep', figure: 'user↔user TCP throughput', value: `${g.toFixed(2)} Gbit/s`, target: '≥ 1 Gbit/s', met: Number.isFinite(g) ? met1 : false });
        targets.push({ section: 'vtep', figure: 'user↔user vs kernel↔kernel', value: `${(uu.tcpRatio * 100).toFixed(1)} %`, target: '≥ 15 %', met: Number.isFinite(uu.tcpRatio) ? met2 : false });
      }
      for (const r of rows.filter((x) => x.a === 'user' || x.b === 'user')) {
        const met = r.addedP50Ms <= 0.3;
        tr.push([`${r.pair} added p50 RTT`, `${r.addedP50Ms.toFixed(3)} ms`, '≤ 0.3 ms', met ? 'PASS' : 'MISS']);
        targets.push({ section: 'vtep', figure: `${r.pair} added p50 RTT`, value: `${r.addedP50Ms.toFixed(3)} ms`, target: '≤ 0.300 ms', met: Number.isFinite(r.addedP50Ms) ? met : false });
      }
      console.log(table(['target', 'this run', 'target', 'PASS/MISS'], tr));
    }

    // ================================================================ 5b: userspace VTEP over an IPv6 underlay
    if (want('vtep6')) {
      check();
      log(`vtep6: benchVtep() user↔user over an IPv4 underlay, then over an IPv6 underlay (IPv4 and IPv6 pods), interleaved, ${reps} reps`);
      const combos = [[4, 4], [6, 4], [6, 6]] as const;
      const runs: VtepBenchRow[][] = combos.map(() => []);
      // interleaved repetitions: the machine's load drifts, so each rep measures all three back to back
      for (let r = 0; r < reps; r++)
        for (const [i, [family, inner]] of combos.entries()) runs[i]!.push(...(await benchVtep({ seconds: vtepSeconds, log, pairs: [['user', 'user']], family, inner })));
      raw.vtep6 = runs.flat();
      const med = (xs: VtepBenchRow[], k: 'tcpBps' | 'rttP50Ms') => median(xs.map((x) => x[k]).filter(Number.isFinite));
      const rows = runs.map((xs) => ({ families: xs[0]!.families ?? '', bps: med(xs, 'tcpBps'), all: xs.map((x) => x.tcpBps), p50: med(xs, 'rttP50Ms'), loss: Math.max(...xs.map((x) => x.pingLoss)) }));
      console.log(section(`5b. userspace VTEP over IPv6 — user↔user iperf3 TCP ${vtepSeconds} s per underlay/inner family, median of ${reps} interleaved reps, baseline the IPv4 underlay in the same run`));
      const base = rows[0]!;
      console.log(
        table(
          ['underlay/inner', 'TCP Gbit/s (median)', 'each rep', 'vs IPv4 underlay', 'p50 ms', 'loss (max)'],
          rows.map((r) => [r.families, (r.bps / 1e9).toFixed(2), r.all.map((x) => (x / 1e9).toFixed(2)).join(' '), `${(r.bps / base.bps).toFixed(2)}×`, r.p50.toFixed(3), `${(r.loss * 100).toFixed(1)}%`]),
        ),
      );
      for (const r of rows.slice(1)) {
        const ratio = r.bps / base.bps;
        targets.push({ section: 'vtep6', figure: `user↔user TCP, ${r.families} vs IPv4/IPv4`, value: `${ratio.toFixed(2)}×`, target: '≥ 0.80×', met: Number.isFinite(ratio) ? ratio >= 0.8 : false });
      }
    }

    // ================================================================ scale (#16): N = 100..1,000 against Mininet
    if (want('scale')) {
      await build({ ifStale: true }); // the rows time the CLI, which runs from dist/
      const r = await scaleSection({ sizes, profileSizes: sizes.filter((n) => n === 300 || n === 1000), owned, scratch, signal: ac.signal, check, log });
      raw.scale = r;
      printScale(r, targets);
    }
  } catch (e) {
    if (e instanceof Interrupted || (e as any)?.code === 'VXLAB_ABORTED') {
      console.error('bench: interrupted; partial results below');
      exit = 130;
    } else {
      console.error(`bench: ${(e as any)?.stack ?? e}`);
      exit = 1;
    }
  } finally {
    const problems = await owned.reapAll();
    rmSync(scratch, { recursive: true, force: true });
    if (problems.length) {
      console.error(`bench: cleanup problems: ${problems.join('; ')}`);
      exit ||= 1;
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  // ================================================================ summary
  const totalMs = performance.now() - t0;
  console.log(section('summary: every target'));
  console.log(
    table(
      ['section', 'figure', 'this run', 'target', 'met?'],
      targets.map((t) => [t.section, t.figure, t.value, t.target, t.met === undefined ? '—' : t.met ? 'met' : 'MISSED']),
      ['l', 'l', 'r', 'r', 'l'],
    ),
  );
  const missed = targets.filter((t) => t.met === false).length;
  console.log(`${targets.length - missed} of ${targets.length} targets met; bench took ${fmtS(totalMs)}`);
  raw.targets = targets;
  raw.totalMs = totalMs;
  raw.exitCode = exit;
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, JSON.stringify(raw, null, 2) + '\n');
  console.log(`raw figures: ${outFile}`);
  return exit;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    console.error(`bench: ${e?.message ?? e}`);
    process.exitCode = 2;
  },
);
