// A sysctl of the host's (root) network namespace, by its dotted key, read from /proc/sys. vxlab writes one only to
// undo what Docker changed (runtime/docker/host-forwarding.ts); the bench reads the shared ARP table's limit and puts
// back what Mininet raised (bench/scale.ts).
import { readFileSync } from 'node:fs';

export const hostSysctlPath = (key: string): string => `/proc/sys/${key.replaceAll('.', '/')}`;

/** The value as /proc/sys prints it, trimmed; undefined when the key does not exist here (no IPv6 in the host, say). */
export function readHostSysctl(key: string): string | undefined {
  try {
    return readFileSync(hostSysctlPath(key), 'utf8').trim();
  } catch {
    return undefined;
  }
}
