// Processes of a run's network namespaces, found two ways:
//  - inside: /proc/PID/ns/net against the inode of /var/run/netns/NAME (the way `ip netns pids` finds them);
//  - on the way in: a process whose command line enters one of the names (`ip netns exec NAME`, `ip|bridge|tc -n NAME`,
//    `nsenter --net=/var/run/netns/NAME`) but has not called setns yet. A run SIGKILLed just as it spawned such a
//    command leaves one: it has opened the namespace file and still sits in the root namespace, so a scan by inode
//    misses it, and once it calls setns it lives on in a namespace whose name teardown already removed.
// Teardown ends both kinds before the namespaces go, and scans again after (by the inodes it holds open, so the kernel
// cannot hand them to someone else's namespace meanwhile), so no probe, capture, sink or VTEP of a run outlives
// `down`/`cleanup` — recorded or not, whoever started it. Only exact names of the run count: another run's processes
// and the host's are never matched.
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { procStartTime } from '../state.ts';
import { NETNS_DIR } from './runtime.ts';

export interface NsProcess {
  pid: number;
  startTime: string;
  ns: string;
  /** 'in': inside the namespace; 'entering': its command line enters it (not there yet) */
  how?: 'in' | 'entering';
}

function pidNs(pid: number | 'self'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

// `ip -n`, `-ne`, `-net`, `-netn`, `-netns` (ip and bridge match options by prefix, and take `--x` as `-x`)
const NETNS_OPT = /^--?n(?:e(?:t(?:n(?:s)?)?)?)?$/;
const ENTERING_TOOLS = new Set(['ip', 'bridge', 'tc', 'nsenter']);

/**
 * The namespace (one of `names`) this command line is on its way into, or undefined: `ip netns exec NAME …`,
 * `ip|bridge|tc -n NAME …` (and the `-netns` spellings), `nsenter --net=…/netns/NAME …` (or `-n…/netns/NAME`). Exact
 * names only: a command that merely mentions a name (`ip netns del NAME`, a grep) is not entering it.
 */
export function entersNamespace(argv: string[], names: ReadonlySet<string>): string | undefined {
  const tool = argv.length ? basename(argv[0]) : '';
  if (!ENTERING_TOOLS.has(tool)) return undefined;
  if (tool === 'nsenter') {
    for (const a of argv.slice(1)) {
      const path = a.startsWith('--net=') ? a.slice(6) : /^-n[^-]/.test(a) ? a.slice(2) : undefined;
      if (path && /(^|\/)netns\/[^/]+$/.test(path) && names.has(basename(path))) return basename(path);
    }
    return undefined;
  }
  for (let i = 1; i < argv.length - 1; i++) {
    const a = argv[i];
    if (NETNS_OPT.test(a) && names.has(argv[i + 1])) return argv[i + 1];
    if (tool === 'ip' && a === 'netns' && /^e(?:x(?:e(?:c)?)?)?$/.test(argv[i + 1]) && i + 2 < argv.length && names.has(argv[i + 2])) return argv[i + 2];
    if (!a.startsWith('-')) break; // options end at the first object (`link`, `netns`, …) — but netns exec is that object
  }
  return undefined;
}

/** inode -> name of each namespace that still exists */
function inodesOf(names: string[]): Map<string, string> {
  const byInode = new Map<string, string>();
  for (const n of names) {
    try {
      byInode.set(String(statSync(`${NETNS_DIR}/${n}`).ino), n);
    } catch {
      /* not there (any more) */
    }
  }
  return byInode;
}

/**
 * Open file descriptors on a run's namespaces: while held, each namespace (and its inode number) stays the run's,
 * even after its name is deleted, so a scan after deletion cannot mistake a newcomer's namespace for it.
 */
export class NamespaceHold {
  readonly byInode = new Map<string, string>();
  private fds: number[] = [];
  constructor(names: string[]) {
    for (const n of names) {
      let fd: number;
      try {
        fd = openSync(`${NETNS_DIR}/${n}`, 'r');
      } catch {
        continue; // not there (any more)
      }
      this.fds.push(fd);
      try {
        this.byInode.set(String(statSync(`/proc/self/fd/${fd}`).ino), n);
      } catch {
        /* cannot happen while the fd is open */
      }
    }
  }
  close(): void {
    for (const fd of this.fds.splice(0)) try { closeSync(fd); } catch {}
  }
}

/**
 * Every live process (except this one) that shares our PID namespace and is inside one of the named network
 * namespaces, or whose command line is entering one (see entersNamespace): what vxlab (or someone on this host)
 * started in there. A docker/kind node's own processes live in the container's PID namespace; the runtime removes
 * them with the container. `held` names the namespaces by the inodes a NamespaceHold pins (needed once the names
 * are deleted); without it, the names are looked up now.
 */
export function processesIn(names: string[], held?: NamespaceHold): NsProcess[] {
  const byInode = held ? held.byInode : inodesOf(names);
  const nameSet = new Set(names);
  if (!nameSet.size) return [];
  const ourPidNs = pidNs('self');
  const out: NsProcess[] = [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  for (const d of pids) {
    const pid = Number(d);
    if (pid === process.pid) continue;
    let link: string;
    try {
      link = readlinkSync(`/proc/${d}/ns/net`);
    } catch {
      continue; // gone, or a zombie
    }
    const ino = /^net:\[(\d+)\]$/.exec(link)?.[1];
    let ns = ino ? byInode.get(ino) : undefined;
    let how: NsProcess['how'] = 'in';
    if (!ns) {
      let cmd: string;
      try {
        cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      if (!cmd) continue; // a kernel thread or a zombie
      ns = entersNamespace(cmd.replace(/\0$/, '').split('\0'), nameSet);
      how = 'entering';
    }
    if (!ns) continue;
    if (pidNs(pid) !== ourPidNs) continue; // a container's own process
    const startTime = procStartTime(pid);
    if (startTime !== undefined) out.push({ pid, startTime, ns, how });
  }
  return out;
}

/**
 * SIGKILL every process in (or entering) these namespaces and wait (bounded) until none is left; returns what was
 * killed. Pass the NamespaceHold taken before the names were deleted to scan again after deletion.
 */
export async function killProcessesIn(names: string[], waitMs = 3000, held?: NamespaceHold): Promise<NsProcess[]> {
  const killed: NsProcess[] = [];
  const sent = new Set<string>();
  const deadline = Date.now() + waitMs;
  // a process may fork while we look: a few rounds. One already sent SIGKILL is dying, not new: a later round that
  // still lists it (on its way out, still in the namespace) neither signals nor reports it again (seen in CI: one
  // process reported killed twice)
  for (let round = 0; round < 5; round++) {
    const procs = processesIn(names, held).filter((p) => !sent.has(`${p.pid}:${p.startTime}`));
    if (!procs.length) break;
    for (const p of procs) {
      if (procStartTime(p.pid) !== p.startTime) continue;
      sent.add(`${p.pid}:${p.startTime}`);
      try {
        process.kill(p.pid, 'SIGKILL');
        killed.push(p);
      } catch {
        /* already gone */
      }
    }
    while (procs.some((p) => procStartTime(p.pid) === p.startTime && !isDead(p.pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (Date.now() >= deadline) break;
  }
  return killed;
}

/**
 * Dead for our purpose: gone; a zombie (a killed child of ours stays one until Node reaps it); or SIGKILLed and on
 * its way out (a traced process can be held in its exit by its tracer) — none of them runs user code again.
 */
function isDead(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if ('ZX'.includes(stat.charAt(stat.lastIndexOf(')') + 2))) return true;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return /^(?:ShdPnd|SigPnd):\s*[0-9a-f]*[13579bdf][0-9a-f]{2}$/m.test(status); // bit 8: SIGKILL pending
  } catch {
    return true;
  }
}
