// dockerd turns the host's IPv6 forwarding on (net.ipv6.conf.{all,default}.forwarding = 1) whenever it creates an
// IPv6 bridge network, and never turns it back. vxlab asks for IPv6 networks (runtime docker, an IPv6 segment), so it
// puts the host back as it found it:
//   - before creating the first IPv6 network of a run, it records the host's values in the state file (a resource
//     `host-sysctl` named `<key>=<value>`), before anything changes. When another live vxlab run has already recorded
//     a value, that run's record is the host's original value (the current one may be Docker's 1 from that run);
//   - at down/cleanup, once this run's networks are gone, it writes each recorded value back if the host differs, but
//     only when no Docker network with IPv6 is left on the host (another run's, or anyone's: it needs forwarding, and
//     the last of them to go restores it).
// It reads and writes only these two keys, and only to undo Docker's change.
import { writeFileSync } from 'node:fs';
import { hostSysctlPath, readHostSysctl } from '../../util/host-sysctl.ts';
import type { RunState } from '../state.ts';
import { listStates } from '../state.ts';
import type { Resource } from '../types.ts';
import { networksOf } from './client.ts';

export const FORWARDING_KEYS = ['net.ipv6.conf.all.forwarding', 'net.ipv6.conf.default.forwarding'] as const;
export const HOST_SYSCTL = 'host-sysctl';


function parse(r: Resource): { key: string; value: string } | undefined {
  if (r.kind !== HOST_SYSCTL) return undefined;
  const i = r.name.indexOf('=');
  return i > 0 ? { key: r.name.slice(0, i), value: r.name.slice(i + 1) } : undefined;
}

/** The resources to record before this run's first IPv6 network: the host's original values. */
export function forwardingRecords(runId: string): Resource[] {
  const earlier = new Map<string, string>();
  for (const s of listStates()) {
    if (s.runId === runId) continue;
    for (const r of s.resources ?? []) {
      const p = parse(r);
      if (p && !earlier.has(p.key)) earlier.set(p.key, p.value);
    }
  }
  const out: Resource[] = [];
  for (const key of FORWARDING_KEYS) {
    const v = earlier.get(key) ?? readHostSysctl(key);
    if (v !== undefined) out.push({ kind: HOST_SYSCTL, name: `${key}=${v}` });
  }
  return out;
}

/**
 * After this run's networks are removed: put back what it recorded, unless a Docker network with IPv6 is still on
 * the host. Returns what it wrote back (for the caller's log) or why it left the values.
 */
export async function restoreForwarding(state: RunState): Promise<{ restored: string[]; kept?: string }> {
  const recs = (state.resources ?? []).map(parse).filter((p): p is { key: string; value: string } => !!p);
  if (!recs.length) return { restored: [] };
  const v6 = (await networksOf({})).filter((n) => n.EnableIPv6);
  if (v6.length) return { restored: [], kept: `Docker network${v6.length > 1 ? 's' : ''} with IPv6 still on the host (${v6.map((n) => n.Name).join(', ')})` };
  const restored: string[] = [];
  for (const { key, value } of recs) {
    if (readHostSysctl(key) === value) continue;
    writeFileSync(hostSysctlPath(key), `${value}\n`);
    restored.push(`${key}=${value}`);
  }
  return { restored };
}
