// The cleanup race: a run SIGKILLed just as it spawned `ip netns exec NS …` leaves a process that has opened NS but
// has not called setns yet. It sits in the root namespace, so a scan of /proc by namespace inode misses it; once it
// enters, it lives on in a namespace whose name teardown already deleted (and keeps that namespace's links alive).
// Made deterministic with strace: the setns syscall of a real `ip netns exec` is held at its entry (past open()),
// the exact state the race leaves. Teardown must end it; processes of another run and of the host must survive.
import { afterEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { needsRoot } from '../helpers/root.ts';
import { vxNamespaces } from '../helpers/host.ts';
import { TOPO, testRunId } from '../helpers/topo.ts';
import { NamespaceHold, processesIn, killProcessesIn } from '../../harness/runtime/netns/procs.ts';

const BIN = resolve(import.meta.dirname, '../../bin/vxlab.js');
const vx = (...a: string[]) => execa(process.execPath, [BIN, ...a], { reject: false });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Alive: there, not a zombie, and not SIGKILLed on its way out. (strace holds a killed tracee in its exit until the
 * injected delay ends; it runs no user code again, so it can no longer enter anything.)
 */
function alive(pid: number): boolean {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if ('ZX'.includes(st.charAt(st.lastIndexOf(')') + 2))) return false;
    return !/^(?:ShdPnd|SigPnd):\s*[0-9a-f]*[13579bdf][0-9a-f]{2}$/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}
const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
const nsIno = (name: string) => String(statSync(`/var/run/netns/${name}`).ino);

/** the `ip` strace started (its child), once it holds `ns` open and is stopped at setns, still in our namespace */
async function heldAtSetns(tracer: ChildProcess, ns: string): Promise<number> {
  const ino = nsIno(ns);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
      try {
        const st = readFileSync(`/proc/${d}/stat`, 'utf8');
        if (Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) !== tracer.pid) continue;
        if (!cmdline(Number(d)).startsWith(`ip netns exec ${ns} `)) continue;
        // opened by path, the fd reads as the path; its inode is the namespace's
        const held = readdirSync(`/proc/${d}/fd`).some((f) => {
          try {
            return String(statSync(`/proc/${d}/fd/${f}`).ino) === ino;
          } catch {
            return false;
          }
        });
        if (held) return Number(d);
      } catch {
        /* gone or not ours */
      }
    }
    await sleep(20);
  }
  throw new Error(`strace's ip netns exec ${ns} never held the namespace open`);
}

/** `ip netns exec NS sleep 300` whose setns is held at entry for 10 minutes (longer than the test) */
const traced = (ns: string) =>
  spawn('strace', ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=setns', '-e', 'inject=setns:delay_enter=600s', 'ip', 'netns', 'exec', ns, 'sleep', '300'], { stdio: 'ignore' });

const started: ChildProcess[] = [];
const runs: string[] = [];
afterEach(async () => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const id of runs.splice(0)) await vx('down', TOPO('flannel-3node.yaml'), '--run-id', id);
});

describe.skipIf(needsRoot)('cleanup race (root)', () => {
  it('down ends an `ip netns exec NS` held between open() and setns; another run\'s and the host\'s processes survive', async () => {
    const f = TOPO('flannel-3node.yaml');
    const a = testRunId();
    const b = testRunId();
    runs.push(a, b);
    expect((await vx('up', f, '--run-id', a)).exitCode).toBe(0);
    expect((await vx('up', f, '--run-id', b)).exitCode).toBe(0);
    const nsA = `vx-${a}-flannel-3node-node2`;
    const nsB = `vx-${b}-flannel-3node-node2`;
    const trA = traced(nsA);
    const trB = traced(nsB); // the same race in another run: not this run's to end
    const inB = spawn('ip', ['netns', 'exec', nsB, 'sleep', '300'], { stdio: 'ignore' }); // inside another run
    // a host process that merely names run A's namespace (not entering it)
    const host = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 300_000)', nsA], { stdio: 'ignore' });
    started.push(trA, trB, inB, host);
    const ipA = await heldAtSetns(trA, nsA);
    const ipB = await heldAtSetns(trB, nsB);
    // the race's state: on its way in, still in our (root) namespace
    expect(readlinkSync(`/proc/${ipA}/ns/net`)).toBe(readlinkSync('/proc/self/ns/net'));
    await sleep(200);
    expect(alive(inB.pid!) && alive(host.pid!)).toBe(true);

    expect((await vx('down', f, '--run-id', a)).exitCode).toBe(0);
    expect(alive(ipA), `${ipA} ${alive(ipA) ? cmdline(ipA) : ''} survived down of run ${a}`).toBe(false);
    expect(vxNamespaces(`vx-${a}-`)).toEqual([]);
    // not run A's: untouched
    expect(alive(ipB), 'run B\'s ip netns exec (held at setns)').toBe(true);
    expect(alive(inB.pid!), 'a process inside run B').toBe(true);
    expect(alive(host.pid!), 'a host process naming run A\'s namespace').toBe(true);
    expect(vxNamespaces(`vx-${b}-`).length).toBeGreaterThan(0);

    // run B's down ends its own race the same way
    expect((await vx('down', f, '--run-id', b)).exitCode).toBe(0);
    runs.length = 0;
    expect(alive(ipB) || alive(inB.pid!)).toBe(false);
    expect(alive(host.pid!)).toBe(true);
  }, 120_000);

  it('after a namespace\'s name is deleted, a held namespace still finds (and ends) the process that entered it', async () => {
    const ns = `vx-${testRunId()}-held`;
    await execa('ip', ['netns', 'add', ns]);
    let hold: NamespaceHold | undefined;
    try {
      hold = new NamespaceHold([ns]);
      const inside = spawn('ip', ['netns', 'exec', ns, 'sleep', '300'], { stdio: 'ignore' });
      started.push(inside);
      const ino = nsIno(ns);
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && !(readlinkSync(`/proc/${inside.pid}/ns/net`) === `net:[${ino}]` && cmdline(inside.pid!) === 'sleep 300')) await sleep(20);
      expect(cmdline(inside.pid!)).toBe('sleep 300');
      await execa('ip', ['netns', 'del', ns]);
      // the name is gone: a lookup by name finds nothing, the held inode still does
      expect(processesIn([ns]).map((p) => p.pid)).toEqual([]);
      expect(processesIn([ns], hold).map((p) => p.pid)).toEqual([inside.pid]);
      const killed = await killProcessesIn([ns], 3000, hold);
      expect(killed.map((p) => p.pid)).toEqual([inside.pid]);
      expect(alive(inside.pid!)).toBe(false);
    } finally {
      hold?.close();
      await execa('ip', ['netns', 'del', ns], { reject: false });
    }
  });
});
