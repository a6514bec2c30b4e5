// Processes inside a run's network namespaces, found the way `ip netns pids` finds them: /proc/PID/ns/net against
// the inode of /var/run/netns/NAME. Teardown ends them all before the namespaces go, so no probe, capture, sink or
// VTEP of a run outlives `down`/`cleanup` — recorded or not, whoever started it.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { procStartTime } from '../state.ts';
import { NETNS_DIR } from './runtime.ts';

export interface NsProcess {
  pid: number;
  startTime: string;
  ns: string;
}

function pidNs(pid: number | 'self'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/**
 * Every live process (except this one) whose network namespace is one of the named ones and that shares our PID
 * namespace: what vxlab (or someone on this host) started in there. A docker/kind node's own processes live in the
 * container's PID namespace; the runtime removes them with the container.
 */
export function processesIn(names: string[]): NsProcess[] {
  const byInode = new Map<string, string>();
  for (const n of names) {
    try {
      byInode.set(String(statSync(`${NETNS_DIR}/${n}`).ino), n);
    } catch {
      /* not there (any more) */
    }
  }
  if (!byInode.size) return [];
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
    const ns = ino ? byInode.get(ino) : undefined;
    if (!ns) continue;
    if (pidNs(pid) !== ourPidNs) continue; // a container's own process
    const startTime = procStartTime(pid);
    if (startTime !== undefined) out.push({ pid, startTime, ns });
  }
  return out;
}

/** SIGKILL every process in these namespaces and wait (bounded) until none is left; returns what was killed. */
export async function killProcessesIn(names: string[], waitMs = 3000): Promise<NsProcess[]> {
  const killed: NsProcess[] = [];
  const deadline = Date.now() + waitMs;
  // a process may fork while we look: a few rounds
  for (let round = 0; round < 5; round++) {
    const procs = processesIn(names);
    if (!procs.length) break;
    for (const p of procs) {
      if (procStartTime(p.pid) !== p.startTime) continue;
      try {
        process.kill(p.pid, 'SIGKILL');
        killed.push(p);
      } catch {
        /* already gone */
      }
    }
    while (procs.some((p) => procStartTime(p.pid) === p.startTime && !isZombie(p.pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (Date.now() >= deadline) break;
  }
  return killed;
}

/** A killed child of ours stays a zombie until Node reaps it: it is dead, and holds no namespace. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) === 'Z';
  } catch {
    return true;
  }
}
