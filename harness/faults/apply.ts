// Faults: applied after up, in order, inside the run's own namespaces (so down undoes them with the namespaces).
import type { Fault } from '../topology/schema.ts';
import { routesDirect, type ResolvedNode, type ResolvedTopology } from '../topology/resolved.ts';
import { run } from '../util/exec.ts';
import { which } from '../util/preflight.ts';
import { overlayEntries } from '../plan/plan.ts';
import type { CheckResult } from '../report/types.ts';
import { InterruptedError, throwIfAborted, withScope } from '../util/scope.ts';

export interface FaultTarget {
  topology: ResolvedTopology;
}

export class FaultSkip extends Error {
  readonly code = 'VXLAB_FAULT_UNSUPPORTED';
}

function nodeOf(t: ResolvedTopology, name: string): ResolvedNode {
  return t.nodes.find((n) => n.name === name)!;
}

/** Load a table into the node's own ruleset, one statement per line. */
async function nft(ns: string, table: string, chains: { hook: 'input' | 'output'; rule: string }[]): Promise<void> {
  const lines = [`table inet ${table} {`];
  for (const c of chains) lines.push(`  chain ${c.hook} {`, `    type filter hook ${c.hook} priority 0; policy accept;`, `    ${c.rule}`, '  }');
  lines.push('}', '');
  await run(['nft', '-f', '-'], { ns, input: lines.join('\n') });
}

/**
 * The pod families a delete-route / delete-neigh fault breaks: the one it names, else every pod family of the topology.
 * "delete node2's route on node1" means node1 can no longer reach node2's pods, in whatever family they have; a
 * dual-stack topology breaks one family with `family: 4|6` (the IPv6-only outage of dual-stack-missing-v6-route.yaml).
 */
export function faultFamilies(t: ResolvedTopology, family?: 4 | 6): Array<4 | 6> {
  return family ? [family] : t.families?.length ? [...t.families] : [4];
}

/** The node's VTEP identity (tunnel address, device) that carries this pod family. */
function vtepOf(n: ResolvedNode, fam: 4 | 6): ResolvedNode['vtep'] {
  return n.vteps.find((v) => v.family === fam) ?? n.vtep;
}

/** Human description of what a fault does, for plans and reports. */
export function describeFault(f: Fault): string {
  switch (f.kind) {
    case 'underlay-mtu': return `${f.node}: underlay MTU → ${f.mtu}`;
    case 'drop-udp-port': return `${f.node}: nftables drops UDP port ${f.port} (${f.direction ?? 'both'})`;
    case 'drop-icmp-frag-needed': return `${f.node}: nftables drops the ICMP "fragmentation needed" / ICMPv6 "packet too big" the node ${f.direction === 'in' ? 'receives' : f.direction === 'both' ? 'sends or receives' : 'would send'} (PMTU discovery blocked)`;
    case 'loss': return `${f.node}: nftables drops ${f.percent}% of underlay packets (numgen)`;
    case 'vtep-mac-change': return `${f.node}: VTEP MAC → ${f.mac}; peers keep the old entries`;
    case 'delete-route': return `${f.node}: route to ${f.peer}'s ${f.family ? `IPv${f.family} ` : ''}pod subnet deleted`;
    case 'delete-fdb': return `${f.node}: FDB entry for ${f.peer} deleted`;
    case 'delete-neigh': return `${f.node}: ${f.family ? `IPv${f.family} ` : ''}neighbour entry for ${f.peer}'s VTEP deleted`;
    case 'link-down': return `${f.node}: ${f.link} down`;
    case 'tx-checksum': return `${f.node}: ${f.link} tx checksum offload ${f.offload}`;
    case 'vtep': return `${f.node}: userspace VTEP faults ${JSON.stringify({ ...f, kind: undefined, node: undefined })}`;
  }
}

export async function applyFault(t: ResolvedTopology, f: Fault): Promise<void> {
  const n = nodeOf(t, f.node);
  switch (f.kind) {
    case 'underlay-mtu': {
      const seg = t.segments.find((s) => s.name === n.segment)!;
      await run(['ip', '-n', n.ns, 'link', 'set', n.underlayIf, 'mtu', String(f.mtu)]);
      // the peer: on the segment bridge in vxlab's namespace (netns); a container runtime's peer is on Docker's bridge
      // in the root namespace, which vxlab never touches — the node side alone makes the link narrow (a veth drops
      // what is larger than the receiving side's MTU)
      if (seg.ns) await run(['ip', '-n', seg.ns, 'link', 'set', n.segIf, 'mtu', String(f.mtu)]);
      return;
    }
    case 'drop-udp-port': {
      const dir = f.direction ?? 'both';
      const chains: { hook: 'input' | 'output'; rule: string }[] = [];
      if (dir !== 'out') chains.push({ hook: 'input', rule: `udp dport ${f.port} counter drop` });
      if (dir !== 'in') chains.push({ hook: 'output', rule: `udp dport ${f.port} counter drop` });
      await nft(n.ns, 'vxlab_fault_drop', chains);
      return;
    }
    case 'drop-icmp-frag-needed': {
      // out: forwarded pod traffic that does not fit the VTEP makes the node answer from its own stack (output hook);
      // in: the errors a router on the path sends the node (input hook). Both families: frag-needed and ICMPv6 PTB.
      const rule = 'icmp type destination-unreachable icmp code frag-needed counter drop\n    icmpv6 type packet-too-big counter drop';
      const dir = f.direction ?? 'out';
      await nft(n.ns, 'vxlab_fault_icmp', [...(dir !== 'in' ? [{ hook: 'output' as const, rule }] : []), ...(dir !== 'out' ? [{ hook: 'input' as const, rule }] : [])]);
      return;
    }
    case 'loss': {
      const p = Math.round(f.percent);
      if (p <= 0) return;
      // numgen's modulus is 100, so 100 % is a plain drop
      const match = p >= 100 ? '' : ` numgen random mod 100 < ${p}`;
      await nft(n.ns, 'vxlab_fault_loss', [
        { hook: 'input', rule: `iifname "${n.underlayIf}"${match} counter drop` },
        { hook: 'output', rule: `oifname "${n.underlayIf}"${match} counter drop` },
      ]);
      return;
    }
    case 'vtep-mac-change':
      // the node's identity changed (e.g. a restart under MACAddressPolicy=persistent): from now on the new MAC is
      // what peers should point at, so the expected state follows it and the peers' old entries show up as stale
      await run(['ip', '-n', n.ns, 'link', 'set', n.vtep.dev, 'address', f.mac.toLowerCase()]);
      n.vtep.mac = f.mac.toLowerCase();
      // changing a device's address flushes its neighbour table; the restarted agent on that node re-adds its own
      // entries (with correct peer MACs). Only the peers are left stale.
      await run(['ip', '-n', n.ns, '-batch', '-'], { input: overlayEntries(t, n).neigh.map((l) => l.replace(/^neigh add/, 'neigh replace')).join('\n') + '\n' });
      return;
    case 'delete-route': {
      const p = nodeOf(t, f.peer);
      // dual-stack: the route of the family the fault names, else every family's (see faultFamilies)
      // routing modes (single-family topologies only): a same-subnet peer's route is the direct one on the underlay link
      for (const fam of faultFamilies(t, f.family)) {
        const subnet = p.podSubnets.find((s) => (s.includes(':') ? 6 : 4) === fam) ?? p.podSubnet;
        await run(['ip', '-n', n.ns, 'route', 'del', subnet, 'dev', routesDirect(n, p) ? n.underlayIf : vtepOf(n, fam).dev]);
      }
      return;
    }
    case 'delete-fdb': {
      const p = nodeOf(t, f.peer);
      if (n.vtep.kind !== 'kernel') throw new FaultSkip(`delete-fdb on ${n.name}: the userspace VTEP's FDB is static from the topology`);
      await run(['bridge', '-n', n.ns, 'fdb', 'del', p.vtep.mac, 'dev', n.vtep.dev, 'dst', p.ip, 'self']);
      return;
    }
    case 'delete-neigh': {
      const p = nodeOf(t, f.peer);
      for (const fam of faultFamilies(t, f.family)) await run(['ip', '-n', n.ns, 'neigh', 'del', vtepOf(p, fam).ip, 'dev', vtepOf(n, fam).dev]);
      return;
    }
    case 'link-down':
      await run(['ip', '-n', n.ns, 'link', 'set', f.link, 'down']);
      return;
    case 'tx-checksum':
      if (!which('ethtool')) throw new FaultSkip('tx-checksum needs ethtool (apt-get install ethtool)');
      await run(['ethtool', '-K', f.link, 'tx', f.offload], { ns: n.ns });
      return;
    case 'vtep':
      return; // applied when the VTEP starts (its config carries the faults)
  }
}

export class FaultError extends Error {
  readonly code = 'VXLAB_COMMAND_FAILED';
}

/**
 * Apply a topology's faults in order (vxlab up, Lab.up). If one fails, or the signal stops it, the topology is rolled
 * back like any other failed up — nothing stays behind that the user did not get. A fault the host cannot apply
 * (FaultSkip) is not a failure: it comes back as a skip result.
 */
export async function applyFaults(r: { topology: ResolvedTopology; down(): Promise<void> }, signal?: AbortSignal, say?: (m: string) => void): Promise<CheckResult[]> {
  const faults = r.topology.faults;
  const skips: CheckResult[] = [];
  let i = 0;
  try {
    await withScope({ signal }, async () => {
      for (; i < faults.length; i++) {
        throwIfAborted(signal);
        say?.(`fault: ${describeFault(faults[i]!)}`);
        try {
          await applyFault(r.topology, faults[i]!);
        } catch (e) {
          if (e instanceof FaultSkip) skips.push(faultSkipResult(faults[i]!, e));
          else throw e;
        }
      }
    });
  } catch (e) {
    await r.down();
    if (e instanceof InterruptedError) throw Object.assign(new Error('interrupted while applying faults; rolled back'), { code: 'VXLAB_ABORTED' });
    throw new FaultError(`faults[${i}] (${describeFault(faults[i]!)}) could not be applied; the topology was rolled back: ${(e as Error).message}`);
  }
  return skips;
}

/** The result a fault the host cannot apply leaves in the report: a skip with the reason. */
export function faultSkipResult(f: Fault, e: FaultSkip): CheckResult {
  return { id: `faults/${f.kind}`, suite: 'faults', title: describeFault(f), status: 'skip', skipReason: e.message, message: e.message, durationMs: 0 };
}

/**
 * Apply faults in order; one the host cannot apply (FaultSkip) becomes a skip result, anything else throws.
 * With a signal, the work runs in its scope: once it fires nothing new starts and InterruptedError is thrown.
 */
export async function applyFaultsReporting(t: ResolvedTopology, faults: Fault[], say?: (m: string) => void, signal?: AbortSignal): Promise<CheckResult[]> {
  const skips: CheckResult[] = [];
  const body = async () => {
    for (const f of faults) {
      throwIfAborted(signal);
      say?.(`fault: ${describeFault(f)}`);
      try {
        await applyFault(t, f);
      } catch (e) {
        if (e instanceof FaultSkip) skips.push(faultSkipResult(f, e));
        else throw e;
      }
    }
  };
  await (signal ? withScope({ signal }, body) : body());
  return skips;
}
