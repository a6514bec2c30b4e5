// One cheap probe before a DF boundary search: does the target answer small pings at all?
import { reachable } from '../probe/fping.ts';
import type { CheckContext } from '../runner/check.ts';
import { pool } from '../util/exec.ts';
import { diagnoseOnce, unreachableEvidence } from './pair.ts';
import { link, links } from '../probe/kernel.ts';
import { vxlanOverhead } from '../topology/normalize.ts';
import type { ResolvedNode, ResolvedPod, ResolvedTopology } from '../topology/resolved.ts';
import type { Family } from '../topology/ip.ts';

/**
 * Undefined if `dst` answers a small ping from `ns`; else why not, in words. Three echo requests, 400 ms each:
 * a boundary search on a target that answers nothing would only wait out its own timeouts and call it a black hole.
 */
export async function nodeUnreachable(ns: string, dst: string): Promise<string | undefined> {
  const alive = await reachable(ns, [dst], { retries: 2, timeoutMs: 400 });
  return alive.has(dst) ? undefined : `${dst} does not answer small pings either (3 echo requests, 400 ms each)`;
}

/**
 * "Too big": the live MTU of the sending pod's eth0 against the narrowest live link the overlay path has (both VTEPs,
 * both underlay links less the VXLAN overhead of that node's underlay family: 50 bytes over IPv4, 70 over IPv6).
 * Undefined if the pod's packets fit.
 */
export async function tooBig(t: ResolvedTopology, a: ResolvedPod, b: ResolvedPod): Promise<string | undefined> {
  const na = t.nodes.find((n) => n.name === a.node)!;
  const nb = t.nodes.find((n) => n.name === b.node)!;
  const [pl, la, lb] = await Promise.all([link(a.ns, a.ifname), links(na.ns), links(nb.ns)]);
  if (!pl) return undefined;
  const hops: [string, number][] = [];
  for (const [n, ls] of [[na, la], [nb, lb]] as const) {
    const v = ls.find((l) => l.ifname === n.vtep.dev);
    const u = ls.find((l) => l.ifname === n.underlayIf);
    if (v) hops.push([`${n.name} ${n.vtep.dev} MTU ${v.mtu}`, v.mtu]);
    const oh = vxlanOverhead(n.family);
    if (u) hops.push([`${n.name} ${n.underlayIf} MTU ${u.mtu} − ${oh} (VXLAN over IPv${n.family})`, u.mtu - oh]);
  }
  const narrowest = hops.sort((x, y) => x[1] - y[1])[0];
  if (!narrowest || pl.mtu <= narrowest[1]) return undefined;
  return `too big: ${a.node}/${a.name} ${a.ifname} MTU ${pl.mtu} > the overlay path's ${narrowest[1]} (${narrowest[0]}): full-size segments are dropped unless an ICMP frag-needed reaches the sender`;
}

/**
 * For df-boundary: per pod pair, the run's evidence that it is unreachable in pod family `f` (with its diagnosed
 * cause), and for those, whether the sending node reaches the peer's VTEP address of that family at all — all pairs
 * at once. `nodeProbes`: node probes already started (see startNodeProbes); a dead pair without one is probed here.
 */
export async function deadPairs(ctx: CheckContext, pairs: [ResolvedPod, ResolvedPod][], nodeProbes?: Map<string, Promise<string | undefined>>, f: Family = 4): Promise<{ dead?: string; nodeDead?: string }[]> {
  return pool(pairs, 8, async ([a, b]) => {
    const dead = await unreachableEvidence(ctx, a, b, f);
    if (!dead) return {};
    const na = ctx.t.nodes.find((n) => n.name === a.node)!;
    const nb = ctx.t.nodes.find((n) => n.name === b.node)!;
    // the pod pair's cause is node forwarding state its nodes' own packets to each other's VTEP address meet as
    // well: no ping needed to know the node probe is dead too (an early node probe still running ends on its own,
    // bounded: three 400 ms requests; it is small echo traffic no later check counts)
    const cause = await diagnoseOnce(ctx, a, b, f);
    if (sharedNodeCause(cause)) return { dead, nodeDead: `${vtepIp(nb, f)} is behind the same node-level cause as the pods (${na.name}'s packets to it use the same route, neighbour and FDB entries, and their replies ${nb.name}'s): ${cause}` };
    return { dead, nodeDead: await (nodeProbes?.get(`${na.name}>${nb.name}`) ?? nodeUnreachable(na.ns, vtepIp(nb, f))) };
  });
}

/**
 * A diagnosed pod-pair cause that the node-to-peer-VTEP probe meets too: a route, neighbour or FDB entry for the
 * peer's pod subnet or VTEP (the VTEP address is in that subnet and is that neighbour), on the sending node or on the
 * reply path, or the receiving VTEP rejecting the port or VNI — settled configuration, not in resolution. Not a drop
 * rule (it may match pod addresses only), reverse-path filtering, loss or an ICMP error. Pure.
 */
export function sharedNodeCause(cause: string | undefined): boolean {
  if (!cause || /INCOMPLETE|PROBE|DELAY/.test(cause)) return false;
  const c = cause.replace(/^requests reach \S+; the replies fail: /, '').replace(/^the replies cannot come back, whatever the requests meet: on \S+'s side, /, '');
  return /^(no route on |wrong route on |no neighbour entry on |stale neighbour entry on |no FDB entry on |wrong FDB entry on |rejected by \S+'s VTEP: )/.test(c);
}

const vtepIp = (n: ResolvedNode, f: Family) => (n.vteps?.find((v) => v.family === f) ?? n.vtep).ip;

/**
 * The node-to-peer-VTEP probes of df-boundary (pod family `f`: the peer VTEP's address of that family), started for
 * every pair before the matrix is measured, so that a dead pair's three 400 ms echo requests run alongside the
 * matrix's own rounds instead of after them. Concurrency is safe here: both are plain echo traffic with no capture
 * running (df-boundary starts none before its boundary probes), the node probes come from the node namespaces and
 * the matrix's from the pods, and neither reads the other's counters. On a healthy topology each probe answers at
 * once; its answer is only read for pairs the matrix found dead.
 */
export function startNodeProbes(t: ResolvedTopology, pairs: [ResolvedPod, ResolvedPod][], f: Family = 4): Map<string, Promise<string | undefined>> {
  const m = new Map<string, Promise<string | undefined>>();
  for (const [a, b] of pairs) {
    const na = t.nodes.find((n) => n.name === a.node)!;
    const nb = t.nodes.find((n) => n.name === b.node)!;
    const k = `${na.name}>${nb.name}`;
    if (m.has(k)) continue;
    const p = nodeUnreachable(na.ns, vtepIp(nb, f));
    p.catch(() => {}); // read (and its error surfaced) only for a dead pair
    m.set(k, p);
  }
  return m;
}
