// Suite: mtu — device MTUs, the DF boundary across nodes, PMTU on narrow paths, outer fragmentation, bulk TCP.
// Both families: the VXLAN overhead is 50 bytes over an IPv4 underlay and 70 over IPv6 (outer IPv6 header 40 instead of
// 20); the largest DF ICMP payload is MTU − 28 for IPv4 inner packets and MTU − 48 for IPv6 ones.
import { fail, fromDiffs, pass, skip, type CheckContext, type CheckDef, type SuiteDef } from '../harness/runner/check.ts';
import { routesDirect, type Family, type ResolvedNode, type ResolvedPod, type ResolvedTopology } from '../harness/topology/resolved.ts';
import { vxlanOverhead } from '../harness/topology/normalize.ts';
import { podAddr, podFamilies, vtepFor } from './encapsulation.ts';
import * as k from '../harness/probe/kernel.ts';
import { pingDf, pingDfBurst, type DfResult } from '../harness/probe/ping.ts';
import { tcpTransfer } from '../harness/probe/tcp.ts';
import { ipJson, pool } from '../harness/util/exec.ts';
import { startCapture, readPcap } from '../harness/capture/tcpdump.ts';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { evidence } from '../harness/runner/evidence.ts';
import { matrixMeasured, measure } from './connectivity.ts';
import { observe, observePods } from './routes.ts';
import { BIG_NODES } from '../harness/runner/sample.ts';
import { unreachableEvidence } from '../harness/diagnose/pair.ts';
import { deadPairs, startNodeProbes, tooBig } from '../harness/diagnose/boundary.ts';

/**
 * One representative pod pair per ordered node pair (first pods), bounded to keep big topologies quick: the first
 * `limit` pairs in node order; above BIG_NODES nodes, `limit` pairs spread over the topology instead (evenly spaced
 * source nodes, each to the node half-way round the list), so the probes are not all from the first node.
 */
export function crossPairs(t: ResolvedTopology, limit = 12): [ResolvedPod, ResolvedPod][] {
  if (t.nodes.length > BIG_NODES) return spreadPairs(t, limit);
  const out: [ResolvedPod, ResolvedPod][] = [];
  for (const a of t.nodes) for (const b of t.nodes) {
    if (a === b || !a.pods[0] || !b.pods[0] || a.vtep.vni !== b.vtep.vni) continue;
    out.push([a.pods[0], b.pods[0]]);
  }
  return out.slice(0, limit);
}

function spreadPairs(t: ResolvedTopology, limit: number): [ResolvedPod, ResolvedPod][] {
  const out: [ResolvedPod, ResolvedPod][] = [];
  const ns = t.nodes.filter((n) => n.pods[0]);
  const seen = new Set<string>();
  for (let k = 0; k < ns.length && out.length < limit; k++) {
    const i = Math.floor((k * ns.length) / limit) % ns.length;
    const a = ns[i]!;
    // the first node with pods on a's VNI, starting half-way round
    for (let d = 0; d < ns.length - 1; d++) {
      const b = ns[(i + Math.floor(ns.length / 2) + d) % ns.length]!;
      if (b === a || b.vtep.vni !== a.vtep.vni || seen.has(`${a.name}>${b.name}`)) continue;
      seen.add(`${a.name}>${b.name}`);
      out.push([a.pods[0]!, b.pods[0]!]);
      break;
    }
  }
  return out;
}

/** How crossPairs chose its pairs, for the report. */
export function crossPairsCoverage(t: ResolvedTopology, n: number): string {
  const withPods = t.nodes.filter((x) => x.pods[0]).length;
  return t.nodes.length > BIG_NODES ? `${n} of ${withPods * (withPods - 1)} directed node pairs, spread: evenly spaced source nodes, each to the node half-way round` : `the first ${n} directed node pairs`;
}

const node = (t: ResolvedTopology, name: string) => t.nodes.find((n) => n.name === name)!;
/** the node's underlay family (IPv4 when the model predates IPv6) */
const ulFamily = (n: ResolvedNode): Family => n.family ?? (n.ip.includes(':') ? 6 : 4);
/** VXLAN overhead on the node's underlay: 50 (IPv4) or 70 (IPv6) */
const overheadOf = (n: ResolvedNode) => vxlanOverhead(ulFamily(n));
const overheadText = (n: ResolvedNode) => `${overheadOf(n)} (VXLAN over IPv${ulFamily(n)})`;
/** IP + ICMP header bytes in front of a ping payload: 28 (IPv4) or 48 (IPv6) */
export const icmpHeaders = (f: Family) => (f === 6 ? 48 : 28);
/** every VTEP device of a node, once (dual-stack pods may share one device) */
const vtepsOf = (n: ResolvedNode) => [...new Map((n.vteps?.length ? n.vteps : [n.vtep]).map((v) => [v.dev, v])).values()];

/**
 * The MTUs mtu/vtep-mtu reads, per node: [{ ifname, mtu }] of its underlay link and VTEP devices (a missing device
 * is absent). In a named network namespace: SIOCGIFMTU in-process (suites/mtu-read.ts; no process, no table dump:
 * at 1,000 nodes the full node snapshot was minutes of `ip -batch`); elsewhere, or when the routes suite's snapshot
 * is already there, that snapshot's links.
 */
async function nodeMtus(ctx: CheckContext): Promise<Map<string, { ifname: string; mtu: number }[]>> {
  const out = new Map<string, { ifname: string; mtu: number }[]>();
  const far = ctx.t.nodes.filter((n) => !existsSync(`/var/run/netns/${n.ns}`));
  if (!far.length && !evidence(ctx.t).memo.has('routes/state')) {
    const { readMtusIn } = await import('./mtu-read.ts');
    for (const n of ctx.t.nodes) {
      const m = readMtusIn(n.ns, [n.underlayIf, ...vtepsOf(n).map((v) => v.dev)]);
      out.set(n.name, Object.entries(m).flatMap(([ifname, mtu]) => (mtu === undefined ? [] : [{ ifname, mtu }])));
    }
    return out;
  }
  const st = await observe(ctx);
  for (const n of ctx.t.nodes) out.set(n.name, st.get(n.name)!.links);
  return out;
}

/** Each pod's interface MTU ("node/pod" → { mtu }, absent when the interface is missing), as nodeMtus reads them. */
async function podMtus(ctx: CheckContext): Promise<Map<string, { mtu: number } | undefined>> {
  const out = new Map<string, { mtu: number } | undefined>();
  const pods = ctx.t.nodes.flatMap((n) => n.pods);
  if (pods.every((p) => existsSync(`/var/run/netns/${p.ns}`)) && !evidence(ctx.t).memo.has('routes/pods')) {
    const { readMtusIn } = await import('./mtu-read.ts');
    for (const p of pods) {
      const mtu = readMtusIn(p.ns, [p.ifname])[p.ifname];
      out.set(`${p.node}/${p.name}`, mtu === undefined ? undefined : { mtu });
    }
    return out;
  }
  const st = await observePods(ctx);
  for (const p of pods) out.set(`${p.node}/${p.name}`, st.get(`${p.node}/${p.name}`)?.link);
  return out;
}

const vtepMtu: CheckDef = {
  id: 'mtu/vtep-mtu',
  title: 'VTEP MTU = underlay link MTU − 50 (IPv4 underlay) or − 70 (IPv6 underlay), for every VTEP device',
  async run(ctx) {
    const diffs: string[] = [];
    const observed: Record<string, unknown> = {};
    const expected: Record<string, unknown> = {};
    const applied = new Set<string>();
    const mtus = await nodeMtus(ctx);
    await pool(ctx.t.nodes, 8, async (n) => {
      const ls = mtus.get(n.name)!;
      const u = ls.find((l) => l.ifname === n.underlayIf);
      const over = overheadOf(n);
      applied.add(`${over} (IPv${ulFamily(n)} underlay)`);
      const obs: Record<string, unknown> = { underlay: u?.mtu };
      const exp: Record<string, unknown> = { underlay: n.underlayMtu, overhead: `${over} (IPv${ulFamily(n)} underlay)`, limit: n.underlayMtu - over };
      for (const vt of vtepsOf(n)) {
        const v = ls.find((l) => l.ifname === vt.dev);
        exp[vt.dev] = vt.mtu;
        obs[vt.dev] = v?.mtu;
        if (!u || !v) {
          diffs.push(`${n.name}: ${!u ? n.underlayIf : vt.dev} missing`);
          continue;
        }
        if (v.mtu !== vt.mtu) diffs.push(`${n.name}: ${vt.dev} MTU: expected ${vt.mtu}, observed ${v.mtu}`);
        if (v.mtu > u.mtu - over) {
          const by = v.mtu - (u.mtu - over);
          // flannel#1781: the IPv6 device sized with the IPv4 overhead is exactly 20 bytes too large
          const hint = ulFamily(n) === 6 && v.mtu === u.mtu - vxlanOverhead(4) ? ' — the IPv4 overhead (50) applied to an IPv6 underlay (flannel#1781)' : '';
          diffs.push(`${n.name}: ${vt.dev} MTU ${v.mtu} > underlay ${n.underlayIf} MTU ${u.mtu} − ${overheadText(n)}: ${by} byte${by > 1 ? 's' : ''} too large${hint}; encapsulated frames will not fit`);
        }
      }
      expected[n.name] = exp;
      observed[n.name] = obs;
    });
    return fromDiffs(diffs.sort(), `every VTEP MTU fits its underlay link (overhead ${[...applied].sort().join(', ')})`, { expected, observed });
  },
};

const podMtu: CheckDef = {
  id: 'mtu/pod-mtu',
  title: "each pod's eth0 MTU is no larger than its node's overlay MTU",
  async run(ctx) {
    const diffs: string[] = [];
    const observed: Record<string, number | undefined> = {};
    const pods = await podMtus(ctx);
    await pool(ctx.t.nodes.flatMap((n) => n.pods), 8, async (p) => {
      const n = node(ctx.t, p.node);
      const l = pods.get(`${p.node}/${p.name}`);
      observed[`${p.node}/${p.name}`] = l?.mtu;
      if (!l) return void diffs.push(`${p.node}/${p.name}: ${p.ifname} missing`);
      if (l.mtu !== p.mtu) diffs.push(`${p.node}/${p.name}: ${p.ifname} MTU: expected ${p.mtu}, observed ${l.mtu}`);
      const overlay = Math.min(...vtepsOf(n).map((v) => v.mtu));
      if (l.mtu > overlay) diffs.push(`pod MTU ${l.mtu} > overlay MTU ${overlay} on ${n.name} (${p.node}/${p.name}): full-size packets cannot cross the overlay`);
    });
    diffs.sort();
    return fromDiffs(diffs, 'all pod MTUs fit the overlay', { expected: Object.fromEntries(ctx.t.nodes.map((n) => [n.name, `≤ ${Math.min(...vtepsOf(n).map((v) => v.mtu))}`])), observed });
  },
};

interface BoundaryProbe {
  label: string;
  diffs: string[];
  observed: string;
}

/**
 * One boundary: DF pings of `max` bytes from `ns` to `dst` must pass (both of two), `max + 1` must fail fast (a local
 * "message too long", an ICMP frag-needed or an ICMPv6 Packet Too Big). Both sizes are probed at once: the outcome does
 * not depend on their order, since a path MTU either size teaches the kernel is the path's own — if it is below `max`,
 * the fitting probe's own first packet teaches it too. The oversize size is one pmtu.sh-style burst (pingDfBurst: three
 * DF pings 100 ms apart, 1 s wait after the last): the first may be what PMTU discovery costs (lost while its ICMP
 * error comes back), the later ones meet the learned MTU and fail loudly; only a burst lost whole is a silent failure.
 * A fitting probe that got no answer at all is taken once more (a loaded machine); a local error is an answer.
 */
/** ICMP payload of the small probe beside a boundary's sized ones (ping's default: fits every path). */
const SMALL_PAYLOAD = 56;
/**
 * The oversize burst's silence window after its last packet (s), and the round trip it must be at least 10× of to
 * stand on its own (ms): where the fitting or small probes' slowest round trip beside it was longer (a loaded
 * machine) or unknown, a silent burst is confirmed by one more 3 s probe. A healthy path answers the burst long
 * before the window ends: its 2nd and 3rd packets fail at send time (EMSGSIZE) once the first one's ICMP error has
 * taught the route its MTU, one round trip after it left.
 */
export const OVER_WAIT_S = 0.5;
export const OVER_QUICK_MS = 50;
/** mtu/path-mtu, where the live overlay exceeds the path: how long after the probes' last packet the route exception is read (s) */
export const PMTU_WAIT_S = 0.5;
/**
 * mtu/path-mtu, where df-boundary's oversize burst from the same node to the same VTEP address already crossed the
 * narrow link and met OVER_WAIT_S of silence (no ICMP error came back): the silence is already established (a larger
 * DF packet on the same path cannot fare better), so the route exception is read once the burst's packets have had
 * time to reach the capture (s). A path MTU learned anyway shows up in the read all the same.
 */
export const PMTU_SETTLE_S = 0.1;
/**
 * mtu/tcp-transfer, on a pair df-boundary proved a black hole: the stall window (ms). TCP's first retransmission
 * comes one RTO (≥ 200 ms, TCP_RTO_MIN) after the lost segment; the stall is declared only when, after this long
 * without progress, the sender's socket shows retransmissions (ss: retrans, backoff, unacked) — the kernel's word.
 */
export const HOLE_STALL_MS = 500;

async function boundary(ns: string, dst: string, max: number, label: string, limit: string, hdr = 28): Promise<BoundaryProbe & { hole?: number; silentOver?: string }> {
  // two fitting pings: the first may teach the kernel a smaller path MTU as it leaves (it is sent regardless), the second meets it
  const fitting = (wait: number, count = 2) => pingDf(ns, dst, max, wait, count);
  // beside them, two small DF pings: the pair's round trip for a packet that fits any path, the yardstick silence is
  // judged by when the fitting size itself vanishes (a black hole at the boundary: then neither sized probe answers)
  // (the fitting pings' first wait is the burst's OVER_WAIT_S: their silence is never a verdict alone — it is always
  //  asked once more below, with a window sized from the round trip — so a first wait longer than the burst's only
  //  delays that second asking; a reply arrives in microseconds between namespaces, so a healthy path never waits)
  let [fits, over, small] = await Promise.all([fitting(OVER_WAIT_S), pingDfBurst(ns, dst, max + 1, 3, OVER_WAIT_S), pingDf(ns, dst, SMALL_PAYLOAD, 1, 2)]);
  const silentOutcome = (x: DfResult) => x.outcome === 'timeout' || x.outcome === 'error';
  // silence is judged against the path's own round trip: 1 s after the last packet is ≥ 10× a round trip of at most
  // 100 ms; where the round trip was slower (load) or unknown, the silence is confirmed with 3 s
  const quick = (rtt: number | undefined) => rtt !== undefined && rtt <= 100;
  const smallRtt = small.outcome === 'ok' ? small.rttMaxMs : undefined;
  let retried = false;
  // the fitting size unanswered: asked once more (three pings; a loaded machine answers late, not never, and a lossy
  // one loses a few), with OVER_WAIT_S where small packets came back within OVER_QUICK_MS, 1 s within 100 ms, else
  // 3 s (each ≥ 10× the round trip) — at the same time as the oversize confirmation below
  const refit = silentOutcome(fits) ? fitting(smallRtt !== undefined && smallRtt <= OVER_QUICK_MS ? OVER_WAIT_S : quick(smallRtt) ? 1 : 3, 3) : undefined;
  const overRtt = fits.rttMaxMs ?? smallRtt;
  const reover = silentOutcome(over) && !(overRtt !== undefined && overRtt <= OVER_QUICK_MS) ? pingDf(ns, dst, max + 1, 3) : undefined;
  if (refit) {
    retried = true;
    fits = await refit;
  }
  if (reover) {
    const again = await reover;
    over = { ...again, output: `${again.output} (confirmed: the burst before it was silent too, ${fits.rttMaxMs !== undefined ? `the fitting probe's round trip ${fits.rttMaxMs} ms` : `small pings' round trip ${smallRtt ?? '?'} ms`})`, ms: over.ms + again.ms };
  }
  const diffs: string[] = [];
  if (fits.outcome !== 'ok') diffs.push(`${label}: DF ping of ${max} bytes (${limit} − ${hdr}) should pass, observed ${fits.outcome}${retried ? ' (twice)' : ''}: ${fits.output}`);
  const silent = over.outcome === 'timeout' || over.outcome === 'error';
  if (over.outcome === 'ok') diffs.push(`${label}: DF ping of ${max + 1} bytes should not fit, but it passed (a link on the path has a larger MTU than the topology says)`);
  else if (silent) diffs.push(`${label}: DF ping of ${max + 1} bytes failed silently (${over.outcome}: a burst of 3, 100 ms apart, none answered within ${OVER_WAIT_S * 1000} ms of the last: ${over.output}) instead of a local "message too long", frag-needed or ICMPv6 packet-too-big error: an MTU black hole`);
  const observed = `${label}: ${max} bytes ${fits.outcome}${retried ? ' (asked twice)' : ''}; ${max + 1} bytes ${over.outcome}${over.mtu ? ` (mtu ${over.mtu})` : ''} in ${over.ms} ms (burst of 3)`;
  // a silent loss (the pair is reachable: dead pairs are not probed): one byte more, or the fitting size itself
  const hole = fits.outcome === 'timeout' ? max : silent && fits.outcome === 'ok' ? max + 1 : undefined;
  return { label, diffs, observed, hole, ...(silent ? { silentOver: `a burst of 3 DF pings of ${max + 1} bytes, none answered, no ICMP error within ${OVER_WAIT_S * 1000} ms of the last` } : {}) };
}

/**
 * Pod pairs df-boundary proved to be black holes in this run (reachable — the matrix says so — yet a DF size vanishes
 * without an ICMP error: one byte over the boundary, or the fitting size itself), keyed `srcNs>dstIp`, with the
 * evidence in words: mtu/tcp-transfer reads it (same suite, after).
 */
const blackHoles = (ctx: CheckContext) => ctx.memo('mtu/black-holes', async () => new Map<string, string>());

/**
 * Node -> VTEP address probes of df-boundary whose oversize burst met silence (no reply, no ICMP error), keyed
 * `srcNs>dstIp`, with the oversize payload and what was seen: mtu/path-mtu (same suite, after) reads it.
 */
const silentOversize = (ctx: CheckContext) => ctx.memo('mtu/silent-oversize', async () => new Map<string, { payload: number; hdr: number; what: string }>());

const dfBoundary: CheckDef = {
  id: 'mtu/df-boundary',
  title: "a DF ping of the largest fitting payload (MTU − 28 for IPv4, MTU − 48 for IPv6 inner packets) crosses nodes; one byte more fails fast (EMSGSIZE, frag-needed or ICMPv6 packet-too-big) — from the pod, and from the node through its VTEP, per pod family",
  async run(ctx) {
    const pairs = crossPairs(ctx.t);
    if (!pairs.length) return skip('no cross-node pod pairs on a shared VNI');
    const fams = podFamilies(ctx.t);
    // the run's reachability evidence (the IPv4 matrix, measured once, shared with connectivity/*); dead pairs first, all
    // at once: their diagnosis and the one cheap node probe run in parallel, not behind boundary probes
    // every pod family's: when this check is the first to need a matrix, the node probes a dead pair would need run
    // alongside it (see startNodeProbes)
    const early = new Map(fams.filter((f) => !matrixMeasured(ctx.t, f)).map((f) => [f, startNodeProbes(ctx.t, pairs, f)] as const));
    const deadBy = new Map<Family, { dead?: string; nodeDead?: string }[]>();
    for (const f of fams) {
      await measure(ctx, undefined, f);
      deadBy.set(f, await deadPairs(ctx, pairs, early.get(f), f));
    }
    const diffs: string[] = [];
    const observed: string[] = [];
    const holes = await blackHoles(ctx);
    const silences = await silentOversize(ctx);
    await pool(pairs.flatMap((p, i) => fams.map((f) => [...p, f, i] as const)), 8, async ([a, b, fam, i]) => {
      const na = node(ctx.t, a.node);
      const nb = node(ctx.t, b.node);
      const bIp = podAddr(b, fam);
      if (!bIp) return;
      const va = vtepFor(na, fam);
      const vb = vtepFor(nb, fam);
      const hdr = icmpHeaders(fam);
      const tag = fams.length > 1 ? ` [IPv${fam}]` : '';
      // routing modes: a peer on the node's own subnet is routed plainly, so neither VTEP nor the VXLAN overhead is on the path
      const direct = routesDirect(na, nb);
      const underlay = pathUnderlayMtus(ctx.t, na, nb).map((m) => m - (direct ? 0 : overheadOf(na)));
      // 1. from the pod: the largest IP packet that fits end to end is the min over both pods, both overlays and the path
      const pathMtu = direct ? Math.min(a.mtu, b.mtu, ...underlay) : Math.min(a.mtu, b.mtu, va.mtu, vb.mtu, ...underlay);
      // a pair the run already found unreachable (connectivity matrix) has no boundary to find: say so, with the cause
      const { dead, nodeDead } = deadBy.get(fam)![i]!;
      const podLabel = `${a.node}/${a.name} -> ${b.node}/${b.name}${tag}`;
      // (the pod and the node probe run at once: the pod's packets are forwarded by its node, the node's originate
      //  there, to different destinations; a path MTU either teaches the shared underlay route is the path's own)
      const podProbe = dead ? Promise.resolve({ label: podLabel, diffs: [`${podLabel}: DF boundary not probed: ${dead}`], observed: `${podLabel}: unreachable` }) : boundary(a.ns, bIp, pathMtu - hdr, podLabel, `path MTU ${pathMtu}`, hdr);
      // 2. from the node itself, through its VTEP to the remote VTEP address: with pod MTU = overlay MTU the pod's own
      //    eth0 refuses the oversize packet before it leaves the pod, and a remote pod's veth would answer frag-needed
      //    for its own MTU; node to VTEP address is the probe that exercises the sending VTEP's limit and the path
      const vtepPath = direct ? Math.min(...underlay) : Math.min(va.mtu, vb.mtu, ...underlay);
      const nodeLabel = `${a.node} (node, via ${direct ? `${na.underlayIf}, direct` : va.dev}) -> ${b.node} (${vb.ip})${tag}`;
      const nodeProbe = nodeDead ? Promise.resolve({ label: nodeLabel, diffs: [`${nodeLabel}: DF boundary not probed: ${nodeDead}`], observed: `${nodeLabel}: unreachable` }) : boundary(na.ns, vb.ip, vtepPath - hdr, nodeLabel, `VTEP path MTU ${vtepPath}`, hdr);
      const [pod, viaNode] = await Promise.all([podProbe, nodeProbe]);
      if ('hole' in pod && pod.hole) holes.set(`${a.ns}>${bIp}`, `df-boundary showed it: ${pod.hole}-byte DF pings vanish without an ICMP error while small packets pass`);
      const silentOver = (viaNode as { silentOver?: string }).silentOver;
      if (silentOver) silences.set(`${na.ns}>${vb.ip}`, { payload: vtepPath - hdr + 1, hdr, what: silentOver });
      for (const x of [pod, viaNode]) {
        observed.push(x.observed);
        diffs.push(...x.diffs);
      }
    });
    observed.sort();
    return fromDiffs(diffs.sort(), `${pairs.length} node pairs (${crossPairsCoverage(ctx.t, pairs.length)})${fams.length > 1 ? ' × IPv4 and IPv6' : fams[0] === 6 ? ' (IPv6 pods)' : ''}, from pod and from node: boundary exact, oversize fails fast`, { observed });
  },
};

/** MTUs of the links on the underlay path between two nodes: both segments and, across segments, the router's two links. */
export function pathUnderlayMtus(t: ResolvedTopology, a: ResolvedNode, b: ResolvedNode): number[] {
  const sa = t.segments.find((s) => s.name === a.segment)!;
  const sb = t.segments.find((s) => s.name === b.segment)!;
  const viaRouter = sa !== sb ? [sa.routerMtu ?? sa.mtu, sb.routerMtu ?? sb.mtu] : [];
  return [sa.mtu, sb.mtu, a.underlayMtu, b.underlayMtu, ...viaRouter];
}

/**
 * Node pairs where the outer packet must cross a segment narrower than the sender's own link, the first `limit` in
 * node order. When no link anywhere on the underlay is narrower than any node's own link there are none, found
 * without walking the N² pairs (a million at 1,000 nodes).
 */
export function narrowPairs(t: ResolvedTopology, limit = Infinity): [ResolvedNode, ResolvedNode, number][] {
  const out: [ResolvedNode, ResolvedNode, number][] = [];
  const narrowest = Math.min(...t.segments.flatMap((s) => [s.mtu, s.routerMtu ?? s.mtu]), ...t.nodes.map((n) => n.underlayMtu));
  if (t.nodes.every((n) => n.underlayMtu <= narrowest)) return out;
  for (const a of t.nodes) for (const b of t.nodes) {
    if (a === b || !a.pods[0] || !b.pods[0] || a.vtep.vni !== b.vtep.vni) continue;
    const narrow = Math.min(...pathUnderlayMtus(t, a, b));
    if (narrow < a.underlayMtu) out.push([a, b, narrow]);
    if (out.length >= limit) return out;
  }
  return out;
}

/** The live MTUs a path-mtu probe is sized from (the kernel's, not the topology's), compared with the topology. */
async function liveMtus(a: ResolvedNode, pa: ResolvedPod): Promise<{ vtep?: number; pod?: number; diffs: string[] }> {
  const [v, p] = await Promise.all([k.link(a.ns, a.vtep.dev), k.link(pa.ns, pa.ifname)]);
  const diffs: string[] = [];
  if (!v) diffs.push(`${a.name}: ${a.vtep.dev} missing`);
  else if (v.mtu !== a.vtep.mtu) diffs.push(`${a.name}: ${a.vtep.dev} MTU: topology ${a.vtep.mtu}, live ${v.mtu} (probed with the live value)`);
  if (!p) diffs.push(`${pa.node}/${pa.name}: ${pa.ifname} missing`);
  else if (p.mtu !== pa.mtu) diffs.push(`${pa.node}/${pa.name}: ${pa.ifname} MTU: topology ${pa.mtu}, live ${p.mtu} (probed with the live value)`);
  return { vtep: v?.mtu, pod: p?.mtu, diffs };
}

async function pmtuPair(ctx: CheckContext, a: ResolvedNode, b: ResolvedNode, narrow: number): Promise<{ diffs: string[]; observed: Record<string, unknown>; ok: string }> {
  const pa = a.pods[0]!;
  const pb = b.pods[0]!;
  const OVER = overheadOf(a);
  const v6 = ulFamily(a) === 6;
  // the probes use the pods' first family (IPv4 when they have it); the outer family is the underlay's
  const fam = podFamilies(ctx.t)[0]!;
  const hdr = icmpHeaders(fam);
  const pbIp = podAddr(pb, fam) ?? pb.ip;
  const vb = vtepFor(b, fam);
  const expectPmtu = narrow - OVER;
  const pair = `${a.name} -> ${b.name}`;
  const live = await liveMtus(a, pa);
  const vtepMtu = live.vtep ?? a.vtep.mtu;
  const diffs: string[] = [...live.diffs];
  const cap = await startCapture({ ns: b.ns, iface: b.underlayIf, file: join(ctx.workDir, `mtu-${a.name}-${b.name}.pcap`), filter: [v6 ? 'ip6' : 'ip', 'and', 'src', 'host', a.ip], snaplen: 128 });
  ctx.keep(cap.file);
  // 1. pod traffic of the largest size the sender's live overlay admits
  const podSize = Math.min(live.pod ?? pa.mtu, vtepMtu) - hdr;
  // 2. as in pmtu.sh (`ping -M want -i 0.1 -w 1`, then `ip route get`): a burst of locally originated DF traffic of the
  //    live VTEP MTU, then the exception on the overlay route. The first packet may be lost while it teaches the path
  //    MTU (the router's frag-needed / Packet Too Big); the later ones, 100 ms apart, meet it. The verdict is the route
  //    exception, read afterwards, not a reply timeout. Pod and node probes go at once: the capture tells them apart by
  //    outer size, and a path MTU either teaches the node's underlay route is the path's own.
  const nodeSize = vtepMtu - hdr;
  //    Where the live overlay fits the path there is nothing to learn: two pings 10 ms apart (the second meets whatever
  //    the first taught) instead of the burst.
  const fitsPath = vtepMtu <= expectPmtu;
  //    Where it must be learned, the exception is read PMTU_WAIT_S after the burst's last packet: the router's error
  //    comes back one round trip after the first packet (and the later ones then fail at send time); the replies the
  //    pings wait for are not the verdict.
  //    df-boundary's oversize burst from this node to this VTEP address, bigger than the narrow link, already met its
  //    silence (no reply, no ICMP error): a larger DF packet on the same path fares no better, so the read need not
  //    wait it out again (PMTU_SETTLE_S: the probes reach the capture; a path MTU learned anyway is read all the same)
  const heard = (await silentOversize(ctx)).get(`${a.ns}>${vb.ip}`);
  const silence = !fitsPath && heard && heard.payload + heard.hdr + OVER > narrow ? heard : undefined;
  const waitS = silence ? PMTU_SETTLE_S : PMTU_WAIT_S;
  //    The pod probe's reply is no verdict where the exception is (DF set, or IPv6): its exception would be for the pod's
  //    address, and the read is of the VTEP address's; it waits as long as the burst's packets need to reach the capture
  const exceptionVerdict = !fitsPath && (v6 || a.vtep.df !== 'unset');
  const podWait = fitsPath ? 1 : exceptionVerdict ? PMTU_SETTLE_S + 0.2 : PMTU_WAIT_S;
  let [podPing, nodeBurst] = await Promise.all([pingDf(pa.ns, pbIp, podSize, podWait), fitsPath ? pingDf(a.ns, vb.ip, nodeSize, 1, 2) : pingDfBurst(a.ns, vb.ip, nodeSize, 3, waitS)]);
  // where the overlay fits the path, a lost pod probe is a verdict only if it is lost again (a loaded machine)
  if (fitsPath && podPing.outcome === 'timeout') podPing = await pingDf(pa.ns, pbIp, podSize, 3);
  await cap.stop();
  const pcap = await readPcap(cap.file);
  const frags = pcap.packets.filter((p) => p.ip4?.isFragment || p.ip6?.fragment);
  // the probes' outer packets (inner IP length + 50 or 70), whole, as they arrived at the receiver
  const outerLen = (p: (typeof pcap.packets)[number]) => (p.ip4 ? p.ip4.totalLength : p.ip6 ? 40 + p.ip6.payloadLength : -1);
  const outerOf = (inner: number) => pcap.packets.filter((p) => (p.ip4 || p.ip6) && !p.ip4?.isFragment && !p.ip6?.fragment && p.udp && outerLen(p) === inner + OVER).length;
  const seenPod = outerOf(podSize + hdr);
  const seenNode = outerOf(nodeSize + hdr);
  const rg = await ipJson<any[]>(a.ns, ['route', 'get', vb.ip]);
  const learned = Number(rg[0]?.metrics?.find?.((m: any) => m.mtu)?.mtu ?? rg[0]?.mtu ?? NaN);
  const observed = { underlay: `IPv${ulFamily(a)}, overhead ${OVER}`, df: v6 ? 'n/a (IPv6 outer: never fragmented by the path)' : a.vtep.df, vtepMtu, podMtu: live.pod, podPing: `${podSize} bytes ${podPing.outcome}${podPing.outcome === 'timeout' ? ` (no answer within ${Math.round(podWait * 1000)} ms)` : ''}`, nodePings: `${nodeSize} bytes ×${fitsPath ? '2' : '3 (100 ms apart)'}: ${nodeBurst.outcome}`, probesOnWire: `${seenPod} pod, ${seenNode} node outer packets whole at ${b.name}`, routeGetMtu: Number.isNaN(learned) ? null : learned, outerFragments: frags.length, readAfterMs: Math.round(waitS * 1000), ...(silence ? { silenceFrom: `df-boundary, ${a.name} -> ${vb.ip}: ${silence.what}` } : {}) };
  if (frags.length) {
    diffs.push(`${pair}: outer VXLAN packets were fragmented on the underlay: ${frags.length} IPv${ulFamily(a)} fragments after a ${narrow}-byte link (RFC 7348 §4.3: VXLAN packets must not be fragmented). Overlay MTU ${vtepMtu} exceeds the path's ${expectPmtu}; lower it${v6 ? '' : ' or set df: set'}.`);
  } else if (vtepMtu <= expectPmtu) {
    if (podPing.outcome !== 'ok') diffs.push(`${pair}: overlay MTU ${vtepMtu} fits the ${narrow}-byte link, yet a ${podSize}-byte DF ping ${pa.node}/${pa.name} -> ${pbIp} ${podPing.outcome}`);
    // no fragments means something only if the probes crossed: their outer packets must be on the wire, whole
    if (!seenPod) diffs.push(`${pair}: the ${podSize}-byte pod probe's outer packet (${podSize + hdr + OVER} bytes) was not captured at ${b.name}: cannot show it crossed the ${narrow}-byte link unfragmented`);
    if (!seenNode) diffs.push(`${pair}: the ${nodeSize}-byte node probe's outer packet (${nodeSize + hdr + OVER} bytes) was not captured at ${b.name}: cannot show it crossed the ${narrow}-byte link unfragmented`);
  } else if (!v6 && a.vtep.df === 'unset') {
    diffs.push(`${pair}: DF unset, overlay MTU ${vtepMtu} > path ${expectPmtu}, and no outer fragments reached ${b.name}: oversize packets vanish on the path (pod ping ${podPing.outcome})`);
  } else if (learned !== expectPmtu) {
    diffs.push(`${pair}: ${a.name} -> ${vb.ip} via ${vtepFor(a, fam).dev}: expected a path MTU exception of ${expectPmtu} (${narrow} − ${OVER}${v6 ? ', VXLAN over IPv6' : ''}), observed ${Number.isNaN(learned) ? 'none' : learned}${v6 ? ' (an ICMPv6 Packet Too Big that never arrived leaves none)' : ''}${silence && Number.isNaN(learned) ? `; df-boundary's ${silence.payload}-byte DF burst to ${vb.ip} met silence too (${silence.what})` : ''}`);
  }
  const ok = vtepMtu <= expectPmtu ? `${pair}: overlay MTU ${vtepMtu} fits (${narrow} − ${OVER}), probes crossed whole` : `${pair}: learned path MTU ${expectPmtu} (${narrow} − ${OVER}), no outer fragments`;
  return { diffs, observed, ok };
}

const pmtu: CheckDef = {
  id: 'mtu/path-mtu',
  title: 'narrower link on the underlay path: no outer fragmentation (RFC 7348 §4.3); with DF set (always, over IPv6) the node learns path MTU = narrow − 50 (IPv4 underlay) or − 70 (IPv6) (pmtu.sh)',
  async run(ctx) {
    const pairs = narrowPairs(ctx.t, 8);
    if (!pairs.length) return skip("no path crosses a link narrower than the sending node's own link");
    const res = await pool(pairs, 2, ([a, b, narrow]) => pmtuPair(ctx, a, b, narrow));
    const diffs = res.flatMap((r) => r.diffs);
    const observed = Object.fromEntries(pairs.map(([a, b], i) => [`${a.name} -> ${b.name}`, res[i]!.observed]));
    const expected = Object.fromEntries(pairs.map(([a, b, narrow]) => [`${a.name} -> ${b.name}`, a.vtep.mtu <= narrow - overheadOf(a) ? { outerFragments: 0, overlayFits: `VTEP MTU ${a.vtep.mtu} ≤ ${narrow - overheadOf(a)}`, probesOnWire: 'both' } : ulFamily(a) === 4 && a.vtep.df === 'unset' ? { outerFragments: 0 } : { outerFragments: 0, routeGetMtu: narrow - overheadOf(a) }]));
    return fromDiffs(diffs, res.map((r) => r.ok).join('; '), { expected, observed });
  },
};

const tcpBulk: CheckDef = {
  id: 'mtu/tcp-transfer',
  title: 'a 1 MiB TCP transfer between pods on different nodes arrives with the exact byte count, over every pod family',
  async run(ctx) {
    const pair = crossPairs(ctx.t, 1)[0];
    if (!pair) return skip('no cross-node pod pair on a shared VNI');
    const [a, b] = pair;
    const bytes = 1 << 20;
    const fams = podFamilies(ctx.t);
    const observed: Record<string, unknown> = {};
    const fails: string[] = [];
    const oks: string[] = [];
    for (const fam of fams) {
      const dst = podAddr(b, fam);
      if (!dst) continue;
      const tag = `IPv${fam}`;
      {
        // a pair the run's matrix (of this family) found unreachable: no transfer to wait for; say so, with the evidence and the cause
        await measure(ctx, undefined, fam);
        const dead = await unreachableEvidence(ctx, a, b, fam);
        if (dead) {
          observed[tag] = { connected: false, sent: 0, received: 0, evidence: dead };
          fails.push(`${a.node}/${a.name} -> ${b.node}/${b.name} over ${tag} (${dst}): expected ${bytes} bytes, received 0 — the connection cannot come up: ${dead}`);
          continue;
        }
      }
      // a pair df-boundary already proved a black hole (a size vanishes without an ICMP error): TCP's full-size
      // segments are that size or larger, so a transfer that makes no progress for HOLE_STALL_MS while the sender's
      // kernel says it retransmits (the first retransmission, RTO ≥ 200 ms, lost too) is that black hole, not
      // slowness; elsewhere the usual 3 s stall window
      const hole = (await blackHoles(ctx)).get(`${a.ns}>${dst}`);
      const r = await tcpTransfer(a.ns, b.ns, dst, bytes, 8000, undefined, hole ? HOLE_STALL_MS : undefined);
      observed[tag] = { connected: r.connected, sent: r.sent, received: r.received, ms: r.ms, error: r.error, ...(hole ? { stallWindowMs: HOLE_STALL_MS, evidence: hole } : {}) };
      if (r.received !== bytes) {
        const why = r.probeError
          ? 'the probe could not run, so this says nothing about the network'
          : r.connected
            ? 'the connection came up (small packets pass) but the transfer stalled: the signature of an MTU black hole'
            : 'the connection never came up: even small packets do not get through';
        const big = r.connected ? await tooBig(ctx.t, a, b) : undefined;
        fails.push(`${a.node}/${a.name} -> ${b.node}/${b.name} over ${tag} (${dst}): expected ${bytes} bytes, received ${r.received}${r.error ? ` (${r.error})` : ''} — ${why}${big ? `; cause: ${big}` : ''}${hole && r.connected ? `; ${hole}` : ''}`);
      } else oks.push(`${tag}: ${bytes} bytes in ${r.ms} ms`);
    }
    const expected = Object.fromEntries(fams.map((f) => [`IPv${f}`, { received: bytes }]));
    if (fails.length) return fail(fails.join('; '), { expected, observed, diffs: fails });
    return pass(oks.join('; '), { expected, observed });
  },
};

export const mtuSuite: SuiteDef = {
  name: 'mtu',
  title: 'MTU handling',
  checks: [vtepMtu, podMtu, dfBoundary, pmtu, tcpBulk],
};
