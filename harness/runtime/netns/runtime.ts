// The netns runtime: nodes are network namespaces; a batch of operations is one `ip -batch` process per namespace.
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { run, pool, CommandError } from '../../util/exec.ts';
import type { Op } from '../../plan/plan.ts';
// inns.ts (koffi, a native module) is imported where it is used: validate and plan resolve topologies through the
// runtime registry and must not load it (start-up, npm run bench row cli)

/**
 * How sysctl ops, `bridge fdb add … self permanent` lines and `ip` batches are applied: 'inproc' (default) from this
 * process, entering the namespace with setns (harness/runtime/netns/inns.ts, nl-apply.ts: no process per namespace;
 * an `ip` batch with a line of a form not modelled in nl-link.ts/nl.ts goes to ip(8) whole); 'processes' as the plan
 * prints them (ip -batch, nsenter sysctl, bridge -batch). Same kernel state either way (test/integration/inproc.test.ts).
 */
export function applyMode(): 'inproc' | 'processes' {
  return process.env.VXLAB_APPLY === 'processes' ? 'processes' : 'inproc';
}

export const NETNS_DIR = '/var/run/netns';

export function nsExists(ns: string): boolean {
  return existsSync(`${NETNS_DIR}/${ns}`);
}

// loaded once: a dynamic import per op went through the module loader (resolve, and with tsx its hooks thread) each
// time: several per cent of up's CPU at 1,000 nodes (3,000 ops)
let nlApply: typeof import('./nl-apply.ts') | undefined;
let inns: typeof import('./inns.ts') | undefined;

/**
 * Create namespaces, in order. In-process (the default; up, steps and conformance alike): inns.ts addNetns, what
 * `ip netns add` does (the file, unshare, bind mount, back home), with /var/run/netns made a shared mount once rather
 * than once per name: ip re-marks it recursively for every `netns add`, a walk over every mount under it, so 2,000
 * names cost O(N²) (1,000 namespaces: 11.5–13.4 s by `ip -batch` against 5.2–6.6 s in-process, load ~30).
 * VXLAB_APPLY=processes: one `ip -batch` process for all of them, as `vxlab plan` prints.
 */
export async function createNamespaces(names: string[]): Promise<void> {
  if (!names.length) return;
  if (applyMode() === 'inproc') {
    inns ??= await import('./inns.ts');
    // synchronous: a turn of the event loop every 64 names, so a SIGINT is handled while 2,000 are created
    for (let i = 0; i < names.length; i += 64) {
      if (i) await new Promise((r) => setImmediate(r));
      inns.addNetns(names.slice(i, i + 64));
    }
    return;
  }
  await run(['ip', '-batch', '-'], { input: names.map((n) => `netns add ${n}`).join('\n') + '\n' });
}

/** Delete namespaces that exist, in one process; then wait until each is really gone (bounded). */
export async function deleteNamespaces(names: string[]): Promise<string[]> {
  const present = names.filter(nsExists);
  if (present.length) {
    await run(['ip', '-force', '-batch', '-'], { input: present.map((n) => `netns del ${n}`).join('\n') + '\n', reject: false });
  }
  const deadline = Date.now() + 10_000;
  let left = present.filter(nsExists);
  while (left.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    left = left.filter(nsExists);
  }
  if (left.length) {
    // a busy mount: retry one at a time so the error names the namespace
    for (const n of left) await run(['ip', 'netns', 'del', n], { reject: false });
    left = left.filter(nsExists);
  }
  return left;
}

/**
 * The hot path of `up`: a bare child_process.spawn (argv, no shell) with stdin, stderr collected for the error.
 * execa's conveniences cost ~2 ms per process, which is a third of the cost of a 100-node up.
 */
function spawnBatch(argv: string[], ns: string, input?: string): Promise<void> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const c = spawn(argv[0]!, argv.slice(1), { stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
    let err = '';
    c.stderr!.on('data', (d) => (err += d));
    c.stdin?.on('error', () => {});
    c.stdin?.end(input);
    c.on('error', (e) => reject(new CommandError(argv, ns, undefined, '', String(e), Math.round(performance.now() - t0), e)));
    c.on('close', (code) => (code === 0 ? resolve() : reject(new CommandError(argv, ns, code ?? undefined, input ? `stdin:\n${input}` : '', err, Math.round(performance.now() - t0)))));
  });
}

/** argv that runs a program inside a namespace: nsenter enters only the network namespace (no /sys remount). */
export function inNetns(ns: string, argv: string[]): string[] {
  return ['nsenter', `--net=${NETNS_DIR}/${ns}`, ...argv];
}

export async function runOp(ns: string, op: Exclude<Op, { kind: 'vtep' }>): Promise<void> {
  switch (op.kind) {
    case 'ip':
    case 'bridge': {
      if (!op.lines.length) return;
      // in-process up to the first line of a form not modelled (none in vxlab's own plans); the rest, in order, by the program
      let done = 0;
      if (applyMode() === 'inproc') {
        done = (nlApply ??= await import('./nl-apply.ts')).applyLines(ns, op.kind, op.lines);
        // the in-process path never waits on I/O: one turn of the event loop per op, so a SIGINT is seen (and up
        // rolls back) within one op, not at the end of a stage of thousands of namespaces
        await new Promise((r) => setImmediate(r));
      }
      if (done < op.lines.length) await spawnBatch([op.kind, '-n', ns, '-batch', '-'], ns, op.lines.slice(done).join('\n') + '\n');
      return;
    }
    case 'ethtool':
      await spawnBatch(inNetns(ns, ['ethtool', '-K', op.dev, ...Object.entries(op.features).flat()]), ns);
      return;
    case 'sysctl':
      if (applyMode() === 'inproc') return (inns ??= await import('./inns.ts')).writeSysctls(ns, op.settings);
      await spawnBatch(inNetns(ns, ['sysctl', '-qw', ...Object.entries(op.settings).map(([k, v]) => `${k}=${v}`)]), ns);
      return;
  }
}

export { pool };

/**
 * Expose a running process's network namespace (a container's) under vxlab's own name, so `ip -n NAME` and nsenter
 * work as for any other node. `ip netns del NAME` later only removes the name; the namespace lives as long as the
 * container.
 */
export async function attachNetns(name: string, pid: number): Promise<void> {
  await run(['ip', 'netns', 'attach', name, String(pid)]);
}
