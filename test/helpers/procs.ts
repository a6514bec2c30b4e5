// Processes of a run, as an auditor counts them: its prefix on the command line, or its network namespace. A
// namespace inode alone is not proof: once a run's namespace is freed, the kernel may hand the same inode number to
// someone else's new namespace (a container started a moment later). So a process counts by namespace only if it
// started while the run's namespace names still existed.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { vxNamespaces } from './host.ts';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const BOOT_MS = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1] ?? 0) * 1000;

/** wall-clock start of a process (ms), or undefined if it is gone */
export function startedAt(pid: number | string): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    return BOOT_MS + (ticks * 1000) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Watches a run's namespaces while it lives: their inodes, and until when their names were seen. */
export class RunWatch {
  readonly inodes = new Set<string>();
  lastSeen = 0;
  constructor(readonly id: string) {}
  poll(): void {
    const names = vxNamespaces(`vx-${this.id}-`);
    for (const n of names) {
      try {
        this.inodes.add(String(statSync(`/var/run/netns/${n}`).ino));
      } catch {}
    }
    if (names.length) this.lastSeen = Date.now();
  }
  /** live processes of the run: prefix on the command line, or inside one of its namespaces and started while they were named */
  processes(): string[] {
    const out: string[] = [];
    for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
      if (Number(d) === process.pid) continue;
      try {
        const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
        if (!cmd) continue; // zombie or kernel thread
        if (cmd.includes(`vx-${this.id}-`)) {
          out.push(`${d} ${cmd.slice(0, 120)}`);
          continue;
        }
        const ino = /\[(\d+)\]/.exec(readlinkSync(`/proc/${d}/ns/net`))?.[1];
        // 1 s of slack: a probe may start between the last poll and the teardown
        if (ino && this.inodes.has(ino) && (startedAt(d) ?? Infinity) <= this.lastSeen + 1000) out.push(`${d} ${cmd.slice(0, 120)}`);
      } catch {
        /* gone */
      }
    }
    return out;
  }
}

/** processes of one run, found by the VXLAB_RUN_ID every setup program (builder: external) gets in its environment */
export function processesOf(runId: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      if (readFileSync(`/proc/${p}/environ`, 'utf8').split('\0').includes(`VXLAB_RUN_ID=${runId}`)) out.push(Number(p));
    } catch {}
  }
  return out;
}
