// Snapshot of the root network namespace: links, addresses, routes, rules, nft ruleset. vxlab must leave it identical.
import { run } from '../../harness/util/exec.ts';
import { readdirSync, existsSync } from 'node:fs';

function scrub(v: any): any {
  if (Array.isArray(v)) return v.map(scrub);
  if (v && typeof v === 'object') {
    const o: any = {};
    for (const [k, x] of Object.entries(v)) if (!['valid_life_time', 'preferred_life_time', 'stats', 'stats64'].includes(k)) o[k] = scrub(x);
    return o;
  }
  return v;
}

export async function rootSnapshot(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [k, argv] of Object.entries({
    link: ['ip', '-j', 'link', 'show'],
    addr: ['ip', '-j', 'addr', 'show'],
    route: ['ip', '-j', 'route', 'show', 'table', 'all'],
    rule: ['ip', '-j', 'rule', 'show'],
    neighProxy: ['ip', '-j', 'neigh', 'show', 'proxy'],
    // -s: rules without counter values (Docker's iptables-nft rules count the frames its bridges forward)
    nft: ['nft', '-s', 'list', 'ruleset'],
    forward: ['sysctl', '-n', 'net.ipv4.ip_forward'],
  })) {
    const r = await run(argv, { reject: false });
    try {
      out[k] = scrub(JSON.parse(r.stdout));
    } catch {
      out[k] = r.stdout;
    }
  }
  return out;
}

export function vxNamespaces(prefix = 'vx-'): string[] {
  return existsSync('/var/run/netns') ? readdirSync('/var/run/netns').filter((n) => n.startsWith(prefix)) : [];
}
