// Sysctls read in-process (#16): the calling thread enters the node's network namespace with setns (the netns
// runtime's withNetns) and reads /proc/sys/net/… there — what `sysctl KEY…` prints, without a process per node
// (at 1,000 nodes the process spawns were what the read cost). A key the kernel does not have maps to undefined.
import { readFileSync } from 'node:fs';
import { withNetns } from '../harness/runtime/netns/inns.ts';
import { sysctlPath } from '../harness/runtime/netns/nl.ts';

export function readSysctlsIn(ns: string, keys: string[]): Record<string, string | undefined> {
  // net.* follows the thread's namespace; any other key is global (what sysctl(8) would print from inside it too)
  const paths = keys.map((k) => [k, k.startsWith('net.') ? sysctlPath(k) : `/proc/sys/${k.split('.').join('/')}`] as const);
  return withNetns(ns, () => {
    const out: Record<string, string | undefined> = {};
    for (const [k, p] of paths) {
      try {
        out[k] = readFileSync(p, 'utf8').trim();
      } catch {
        out[k] = undefined;
      }
    }
    return out;
  });
}
