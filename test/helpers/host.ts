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

/** A Docker bridge of a vxlab run (runtime docker: vx-<run>-s<i>; kind: vx-<run>-k) and the run it belongs to. */
const RUN_BRIDGE = /^vx-([a-z0-9]{1,8})-(s\d+|k)$/;

/** true if `name` is the Docker bridge of a vxlab run other than `run` */
export function otherRunsBridge(name: unknown, run: string): boolean {
  const m = typeof name === 'string' ? RUN_BRIDGE.exec(name) : null;
  return !!m && m[1] !== run;
}

/**
 * A root-namespace link that belongs to another vxlab run's Docker network (its bridge, a port on it), or a Docker
 * veth caught half-made (named veth + 7 hex digits, not yet on a bridge, or no longer) while another file's container
 * starts or stops: vxlab names nothing in the root namespace so, and this run's own veths are on its bridges.
 */
export function foreignLink(l: { ifname: string; master?: string }, run: string): boolean {
  return otherRunsBridge(l.ifname, run) || otherRunsBridge(l.master, run) || (/^veth[0-9a-f]{7}$/.test(l.ifname) && !l.master);
}

const QUOTED_RUN_BRIDGE = /"vx-([a-z0-9]{1,8})-(?:s\d+|k)"/g;

/** true if an nft ruleset line names (quoted, as nft prints interface names) the Docker bridge of a run other than `run` */
export function namesOtherRunsBridge(line: string, run: string): boolean {
  for (const m of line.matchAll(QUOTED_RUN_BRIDGE)) if (m[1] !== run) return true;
  return false;
}

/**
 * `onlyRun`: the docker test files run in parallel, each with its own runs' Docker networks. Their bridges (and the
 * links on them, their addresses, routes and Docker's nft rules naming them) belong to another file's run, so a
 * snapshot for run `onlyRun` leaves out the Docker bridges of every other vxlab run (and Docker's veths not yet, or no
 * longer, on a bridge: another run's container starting or stopping). It also leaves out the kernel's
 * subnet-router anycast routes (type anycast, table local, proto kernel): the kernel adds one per IPv6 prefix on every
 * link while the host's IPv6 forwarding is on, and dockerd turns that on while any IPv6 Docker network exists —
 * another file's included. Whether a run put forwarding back is checked on its own (docker-ipv6.test.ts reads the
 * sysctls next to every snapshot of an IPv6 run). Without `onlyRun`, nothing is left out.
 */
export async function rootSnapshot(o: { onlyRun?: string } = {}): Promise<Record<string, unknown>> {
  // With another file's Docker work alongside, dockerd may be caught mid-change: each network it creates makes it
  // delete and re-insert its `jump DOCKER-USER` rule at the top of FORWARD (CI, session 10: a "before" read without
  // that line). So a snapshot is one that reads the same twice in a row, 200 ms apart (at most 10 reads; then the
  // last). Anything vxlab left behind stays, so it is in both reads and still compared.
  let prev = await snapshotOnce(o);
  for (let i = 0; i < 9; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const next = await snapshotOnce(o);
    if (JSON.stringify(next) === JSON.stringify(prev)) return next;
    prev = next;
  }
  return prev;
}

async function snapshotOnce(o: { onlyRun?: string }): Promise<Record<string, unknown>> {
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
  if (o.onlyRun === undefined) return out;
  const others = (name: unknown) => otherRunsBridge(name, o.onlyRun!);
  // Every list is read at its own moment, so another run's bridge can be in one and not yet (or no longer) in the
  // one before: Docker writes a network's nft rules around the moment its bridge appears or goes. Each list is
  // therefore filtered by the names themselves, not by the links seen in the link list (CI, session 9: the rules of
  // docker.test.ts's bridge vx-t46wb-s0 were in the nft list while the bridge was in no link list).
  const foreign = (l: { ifname: string; master?: string }) => foreignLink(l, o.onlyRun!);
  const links = out.link as { ifname: string; master?: string }[];
  const gone = new Set(links.filter(foreign).map((l) => l.ifname));
  out.link = links.filter((l) => !gone.has(l.ifname));
  out.addr = (out.addr as { ifname: string; master?: string }[]).filter((l) => !gone.has(l.ifname) && !foreign(l));
  const forwardingAnycast = (x: { type?: string; table?: string; protocol?: string }) => x.type === 'anycast' && x.table === 'local' && x.protocol === 'kernel';
  out.route = (out.route as { dev?: string; type?: string; table?: string; protocol?: string }[]).filter(
    (x) => (!x.dev || (!gone.has(x.dev) && !others(x.dev))) && !forwardingAnycast(x),
  );
  if (typeof out.nft === 'string') out.nft = out.nft.split('\n').filter((l) => !namesOtherRunsBridge(l, o.onlyRun!)).join('\n');
  return out;
}

export function vxNamespaces(prefix = 'vx-'): string[] {
  return existsSync('/var/run/netns') ? readdirSync('/var/run/netns').filter((n) => n.startsWith(prefix)) : [];
}
