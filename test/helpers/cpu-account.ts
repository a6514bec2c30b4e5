// Per-file CPU accounting for `npm test`, on only when VXLAB_TEST_CPU names a file (a setupFile; see vitest.config.ts).
// /proc/self/stat of the worker at the file's start and end: the worker's own CPU (module evaluation, the tests) plus
// that of every child it reaped (CLI processes, ip, nsenter, tcpdump, ping, userspace VTEPs it stopped). `boot` is the
// worker's own CPU when the file's setup file ran: its start-up for the first file of a worker (for a worker shared
// by several files, isolate: false, the later files' `boot` includes the earlier files: count it once per pid).
// With VXLAB_TEST_CPU_CGROUP (a cgroup v1 cpuacct directory, e.g. /sys/fs/cgroup/cpuacct/vxlab-test) the worker also
// moves itself into a cgroup of its own there, so that processes it does not reap (daemons, reparented children)
// count too: `cg` is that cgroup's CPU (s) since the worker joined it. Never counted: Docker containers
// (containerd's), the vitest main process's transforms.
// One JSON line per file is appended: { file, pid, wallMs, procMs, boot, user, sys, cuser, csys, cg } (CPU in seconds;
// user … csys are deltas over the file).
import { afterAll, beforeAll } from 'vitest';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const out = process.env.VXLAB_TEST_CPU;
const TICK = 100; // USER_HZ on Linux

function stat(): number[] {
  const s = readFileSync('/proc/self/stat', 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // fields 14..17 of proc(5) are indexes 11..14 after "pid (comm) "
  return [11, 12, 13, 14].map((i) => Number(f[i]) / TICK);
}

if (out) {
  let file = '';
  const t0 = performance.now();
  const s0 = stat();
  let cg: string | undefined;
  const root = process.env.VXLAB_TEST_CPU_CGROUP;
  if (root) {
    try {
      cg = join(root, String(process.pid));
      mkdirSync(cg, { recursive: true });
      writeFileSync(join(cg, 'cgroup.procs'), String(process.pid));
    } catch {
      cg = undefined;
    }
  }
  // eslint-disable-next-line no-empty-pattern
  beforeAll(({}, suite) => {
    file = (suite as { filepath?: string; file?: { filepath?: string } }).filepath ?? (suite as { file?: { filepath?: string } }).file?.filepath ?? '';
  });
  afterAll(() => {
    const [user, sys, cuser, csys] = stat().map((v, i) => Math.round((v - s0[i]!) * 100) / 100);
    const cgs = cg ? Number(readFileSync(join(cg, 'cpuacct.usage'), 'utf8')) / 1e9 : undefined;
    const boot = Math.round((s0[0]! + s0[1]!) * 100) / 100;
    appendFileSync(out, JSON.stringify({ file, pid: process.pid, wallMs: Math.round(performance.now() - t0), procMs: Math.round(process.uptime() * 1000), boot, user, sys, cuser, csys, cg: cgs }) + '\n');
  });
}
