// Suite: encapsulation — what crosses the underlay, captured with tcpdump and decoded by vxlab's own pcap decoder.
// Family-agnostic: outer headers are IPv4 or IPv6 (the underlay's family), inner packets IPv4 and/or IPv6 (every pod
// family gets its own flows); addresses are compared in canonical form (RFC 5952 for IPv6).
import { join } from 'node:path';
import { fail, fromDiffs, skip, type CheckContext, type CheckDef, type Outcome, type SuiteDef } from '../harness/runner/check.ts';
import { routesDirect, type ResolvedSegment, type Family, type ResolvedNode, type ResolvedPod, type ResolvedTopology, type ResolvedVtep } from '../harness/topology/resolved.ts';
import { canonicalIp, containsIp, parseAnyCidr } from '../harness/topology/ip.ts';
import { startCapture, readPcap, type CaptureHandle } from '../harness/capture/tcpdump.ts';
import { BIG_NODES, CAPTURE_ROUND_MAX, captureRounds } from '../harness/runner/sample.ts';
import * as k from '../harness/probe/kernel.ts';
import { summarize, type DecodedPacket } from '../harness/capture/pcap.ts';
import { pool } from '../harness/util/exec.ts';
import { echoProbe } from '../harness/probe/icmp.ts';
import { recordCaptured } from '../harness/runner/evidence.ts';
import { observeSysctls } from './routes.ts';

export interface Flow {
  src: ResolvedPod;
  dst: ResolvedPod;
  /** inner family of this flow, and the pods' addresses in it */
  family: Family;
  srcIp: string;
  dstIp: string;
  /** same node: must never be encapsulated */
  local: boolean;
  /** routing mode: the sender routes this flow plainly (its peer shares its underlay subnet), not over VXLAN */
  direct?: boolean;
}

export interface Seen {
  /** capturing node */
  at: ResolvedNode;
  pkt: DecodedPacket;
}

export interface Observation {
  flows: Flow[];
  packets: Seen[];
  /** ephemeral port range of each sending node's namespace (what the kernel VTEP draws source ports from) */
  portRanges: Map<string, [number, number]>;
  /** same-node flows: echo requests seen on the destination pod's host interface, by flowKey */
  localSeen: Map<string, number>;
  /** how the node pairs were chosen */
  coverage: string;
}

/** Up to this many nodes per VNI, every ordered node pair gets traffic; above it, a ring sample (see pairPlan). */
export const FULL_MESH_NODES = 8;

/**
 * The directed node pairs the suite drives traffic over, per VNI (nodes on different VNIs are separate overlays).
 * Up to FULL_MESH_NODES nodes with pods on a VNI: every ordered pair. Above: each node sends to the next two on a
 * ring and so receives from the previous two — every node is a sender and a receiver, every pair is captured at its
 * receiver, and the pair count grows linearly (2 per node) instead of quadratically.
 */
export function pairPlan(t: ResolvedTopology): { pairs: [ResolvedNode, ResolvedNode][]; coverage: string } {
  const byVni = new Map<number, ResolvedNode[]>();
  for (const n of t.nodes) if (n.pods.length) (byVni.get(n.vtep.vni) ?? byVni.set(n.vtep.vni, []).get(n.vtep.vni)!).push(n);
  const pairs: [ResolvedNode, ResolvedNode][] = [];
  const how: string[] = [];
  for (const [vni, ns] of byVni) {
    if (ns.length < 2) continue;
    if (ns.length <= FULL_MESH_NODES) {
      for (const a of ns) for (const b of ns) if (a !== b) pairs.push([a, b]);
      how.push(`VNI ${vni}: all ${ns.length * (ns.length - 1)} ordered pairs of ${ns.length} nodes`);
    } else {
      for (const [i, a] of ns.entries()) for (const d of [1, 2]) pairs.push([a, ns[(i + d) % ns.length]!]);
      how.push(`VNI ${vni}: ring sample of ${ns.length} nodes, each sends to the next two and receives from the previous two (${2 * ns.length} pairs)`);
    }
  }
  return { pairs, coverage: how.join('; ') || 'no two nodes with pods share a VNI' };
}

/** A pod's address in one family (pods of an older model have only `ip`). */
export function podAddr(p: ResolvedPod, f: Family): string | undefined {
  const a = (p.addrs ?? []).find((x) => x.family === f)?.ip;
  return a ?? (!p.addrs?.length && (f === 6) === p.ip.includes(':') ? p.ip : undefined);
}

/** The node's VTEP device carrying inner family `f` (dual-stack: flannel-v6.<vni> / vxlan-v6.calico for IPv6). */
export function vtepFor(n: ResolvedNode, f: Family): ResolvedVtep {
  return n.vteps?.find((v) => v.family === f) ?? n.vtep;
}

/** Inner families of the topology's pods, IPv4 first. */
export const podFamilies = (t: ResolvedTopology): Family[] => (t.families?.length ? t.families : [t.nodes.flatMap((n) => n.pods)[0]?.ip.includes(':') ? 6 : 4]);

/**
 * The flows the suite drives, once per pod family: per planned node pair, from up to two source pods to the first pod;
 * plus one same-node flow per node with two pods.
 */
export function flows(t: ResolvedTopology): Flow[] {
  const out: Flow[] = [];
  const add = (src: ResolvedPod, dst: ResolvedPod, family: Family, local: boolean, direct = false) => {
    const srcIp = podAddr(src, family);
    const dstIp = podAddr(dst, family);
    if (srcIp && dstIp) out.push({ src, dst, family, srcIp, dstIp, local, ...(direct ? { direct } : {}) });
  };
  for (const f of podFamilies(t)) {
    for (const [a, b] of pairPlan(t).pairs) for (const p of a.pods.slice(0, 2)) add(p, b.pods[0]!, f, false, routesDirect(a, b));
    for (const a of t.nodes) if (a.pods.length >= 2) add(a.pods[0]!, a.pods[1]!, f, true);
  }
  return out;
}

export const flowKey = (f: { srcIp: string; dstIp: string }) => `${canonicalIp(f.srcIp)}>${canonicalIp(f.dstIp)}`;
const pairKey = (a: ResolvedNode | string, b: ResolvedNode | string) => `${typeof a === 'string' ? a : a.name} -> ${typeof b === 'string' ? b : b.name}`;

/**
 * Drive the flows: per family, two echo requests per flow 50 ms apart from the flow's source pod (one raw socket per
 * source pod, in-process), replies awaited up to 400 ms after the last. False if the sends were cut short.
 */
async function drive(fl: Flow[]): Promise<boolean> {
  let complete = true;
  for (const fam of [4, 6] as Family[]) {
    const nss: string[] = [];
    const ips: string[] = [];
    const targets: number[][] = [];
    const src = new Map<string, number>();
    const dst = new Map<string, number>();
    for (const f of fl) {
      if (f.family !== fam) continue;
      let i = src.get(f.src.ns);
      if (i === undefined) {
        src.set(f.src.ns, (i = nss.length));
        nss.push(f.src.ns);
        targets.push([]);
      }
      let j = dst.get(f.dstIp);
      if (j === undefined) {
        dst.set(f.dstIp, (j = ips.length));
        ips.push(f.dstIp);
      }
      if (!targets[i]!.includes(j)) targets[i]!.push(j);
    }
    if (!nss.length) continue;
    const r = await echoProbe(nss, ips, targets, { tries: 2, resend: true, gapMs: 50, timeoutMs: 400, deadline: Date.now() + 60_000 + 2 * fl.length });
    complete &&= r.complete;
  }
  return complete;
}

/** tcpdump processes started at once (each start must reach "listening on" within its bound: no self-inflicted load). */
export const CAPTURE_START_PARALLEL = 8;

/**
 * Start captures through a bounded pool. A capture that cannot start is a clear failure (CaptureError, naming the
 * node, interface and tcpdump's stderr), never a hang: every capture already started is stopped first.
 */
async function startAll(specs: { opts: Parameters<typeof startCapture>[0]; what: string }[]): Promise<CaptureHandle[]> {
  const started: CaptureHandle[] = [];
  let failed: unknown;
  await pool(specs, CAPTURE_START_PARALLEL, async (s) => {
    if (failed) return;
    try {
      started.push(await startCapture(s.opts));
    } catch (e) {
      failed ??= new Error(`encapsulation: the capture on ${s.what} could not start: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
  if (failed) {
    await Promise.all(started.map((c) => c.stop().catch(() => undefined)));
    throw failed;
  }
  const byFile = new Map(started.map((c) => [c.file, c]));
  return specs.map((s) => byFile.get(s.opts.file)!);
}

/**
 * Every planned flow, in capture rounds (captureRounds: at most CAPTURE_ROUND_MAX captures live at once; every pair
 * driven in one round with its sender and receiver both captured). The rounds' packets are judged together.
 */
async function capture(ctx: CheckContext, fl: Flow[], attempt: number): Promise<{ packets: Seen[]; localSeen: Map<string, number>; complete: boolean; rounds: number; how?: string }> {
  const t = ctx.t;
  const cross = fl.filter((f) => !f.local);
  const pairs = [...new Map(cross.map((f) => [pairKey(f.src.node, f.dst.node), [f.src.node, f.dst.node] as [string, string]])).values()];
  const localCount = new Map<string, number>();
  for (const f of fl) if (f.local) localCount.set(f.dst.node, (localCount.get(f.dst.node) ?? 0) + 1);
  const names = new Set(pairs.flat());
  const segs = t.segments.filter((g) => t.nodes.some((n) => names.has(n.name) && n.segment === g.name));
  if (names.size > BIG_NODES && segs.every((g) => g.ns) && t.nodes.every((n) => !names.has(n.name) || segs.some((g) => g.name === n.segment))) return captureSegments(ctx, fl, attempt, segs, pairs, localCount);
  const rounds = captureRounds(t.nodes.map((n) => n.name), pairs, localCount);
  const packets: Seen[] = [];
  const localSeen = new Map<string, number>();
  let complete = true;
  for (const [r, round] of rounds.entries()) {
    const inRound = new Set(round.pairs.map((i) => pairKey(...pairs[i]!)));
    const localNodes = new Set(round.local);
    const rfl = fl.filter((f) => (f.local ? localNodes.has(f.dst.node) : inRound.has(pairKey(f.src.node, f.dst.node))));
    const capNames = new Set(round.capture);
    const c = await captureRound(ctx, rfl, t.nodes.filter((n) => capNames.has(n.name)), attempt, rounds.length > 1 ? `round ${r + 1}/${rounds.length}` : '');
    for (const x of c.packets) packets.push(x);
    for (const [k, v] of c.localSeen) localSeen.set(k, v);
    complete &&= c.complete;
  }
  return { packets, localSeen, complete, rounds: rounds.length };
}

/**
 * Big topologies on the netns runtime (#16): one capture per underlay segment, in the segment's namespace, on every
 * port of its bridge at once (tcpdump -i any; LINUX_SLL2 names the interface of each packet). A node's port carries
 * exactly what its eth0 sends and receives, so each packet is attributed to that node as if captured on its eth0 —
 * every node is captured, none sampled, with one tcpdump per segment instead of one per node. Packets on other ports
 * (the bridge itself, a router's link) are not attributed. Same-node flows keep their pod-interface captures, in
 * rounds of at most CAPTURE_ROUND_MAX; every cross-node flow is driven in the first round.
 */
/**
 * The segment captures leave out what every port floods and no check reads: ARP, and IPv6 multicast that is not UDP
 * (neighbour discovery, MLD, router solicitations — N nodes' link-local chatter seen on N ports is N² packets).
 * Everything unicast (and any multicast VXLAN) is kept.
 */
export const SEGMENT_FILTER = ['not', 'arp', 'and', 'not', '(', 'ip6', 'multicast', 'and', 'not', 'udp', ')'];

async function captureSegments(ctx: CheckContext, fl: Flow[], attempt: number, segs: ResolvedSegment[], pairs: [string, string][], localCount: Map<string, number>): Promise<{ packets: Seen[]; localSeen: Map<string, number>; complete: boolean; rounds: number; how?: string }> {
  const t = ctx.t;
  const byIndex = new Map<string, Map<number, ResolvedNode>>();
  for (const g of segs) {
    const ls = await k.links(g.ns!);
    const idx = new Map(ls.map((l) => [l.ifname, (l as k.LinkInfo & { ifindex: number }).ifindex]));
    const m = new Map<number, ResolvedNode>();
    for (const n of t.nodes) if (n.segment === g.name && idx.has(n.segIf)) m.set(idx.get(n.segIf)!, n);
    byIndex.set(g.name, m);
  }
  ctx.progress(`encapsulation: capturing every node port of ${segs.length} underlay segment${segs.length > 1 ? 's' : ''} (${pairs.length} directed node pairs)${attempt > 1 ? ` (attempt ${attempt})` : ''}`);
  const caps = await startAll(segs.map((g) => ({ what: `segment ${g.name} (${g.ns}, every port)`, opts: { ns: g.ns!, iface: 'any', file: join(ctx.workDir, `encap-segment-${g.name}-${attempt}.pcap`), snaplen: 262, bufferKiB: 65536, filter: SEGMENT_FILTER } })));
  const localRounds = captureRounds(t.nodes.map((n) => n.name), [], localCount);
  const rounds = localRounds.length ? localRounds : [{ capture: [], pairs: [], local: [] }];
  const localSeen = new Map<string, number>();
  let complete = true;
  let stops: Awaited<ReturnType<CaptureHandle['stop']>>[] = [];
  try {
    for (const [r, round] of rounds.entries()) {
      const localNodes = new Set(round.local);
      const rfl = fl.filter((f) => (f.local ? localNodes.has(f.dst.node) : r === 0));
      const c = await captureRound(ctx, rfl, [], attempt, rounds.length > 1 ? `round ${r + 1}/${rounds.length}` : '');
      for (const [key, v] of c.localSeen) localSeen.set(key, v);
      complete &&= c.complete;
    }
  } finally {
    stops = await Promise.all(caps.map((c) => c.stop()));
  }
  complete &&= stops.every((s) => !s.killed && s.packetsDroppedByKernel === 0);
  const ports = [...new Set([4789, 8472, ...t.nodes.map((n) => n.vtep.port)])];
  const packets: Seen[] = [];
  for (const [i, c] of caps.entries()) {
    ctx.keep(c.file);
    const m = byIndex.get(segs[i]!.name)!;
    const f = await readPcap(c.file, { vxlanPorts: ports });
    for (const pkt of f.packets) {
      const at = pkt.sll?.ifindex !== undefined ? m.get(pkt.sll.ifindex) : undefined;
      if (at) packets.push({ at, pkt });
    }
  }
  return { packets, localSeen, complete, rounds: rounds.length, how: `every node captured: one capture per underlay segment on every node port (${segs.length} segment${segs.length > 1 ? 's' : ''})${localRounds.length > 1 ? `, same-node flows in ${localRounds.length} rounds of at most ${CAPTURE_ROUND_MAX} captures` : ''}` };
}

async function captureRound(ctx: CheckContext, fl: Flow[], nodes: ResolvedNode[], attempt: number, tag: string): Promise<{ packets: Seen[]; localSeen: Map<string, number>; complete: boolean }> {
  const t = ctx.t;
  const local = fl.filter((f) => f.local);
  const sfx = `${attempt}${tag ? `-r${tag.split(' ')[1]!.split('/')[0]}` : ''}`;
  ctx.progress(`encapsulation: capturing on ${nodes.length} underlay links and ${local.length} pod interfaces${tag ? ` (${tag})` : ''}${attempt > 1 ? ` (attempt ${attempt})` : ''}`);
  // same-node flows: the echo requests must show up on the destination pod's host interface (bridge port or veth)
  const nodeOf = (p: ResolvedPod) => t.nodes.find((n) => n.name === p.node)!;
  const all = await startAll([
    ...nodes.map((n) => ({ what: `${n.name} ${n.underlayIf}`, opts: { ns: n.ns, iface: n.underlayIf, file: join(ctx.workDir, `encap-${n.name}-${sfx}.pcap`), snaplen: 256 } })),
    ...local.map((f) => ({
      what: `${f.dst.node} ${f.dst.hostIf}`,
      opts: { ns: nodeOf(f.dst).ns, iface: f.dst.hostIf, file: join(ctx.workDir, `local-${f.dst.node}-${f.dst.name}-v${f.family}-${sfx}.pcap`), snaplen: 128, filter: [f.family === 6 ? 'icmp6' : 'icmp', 'and', 'src', 'host', f.srcIp, 'and', 'dst', 'host', f.dstIp] },
    })),
  ]);
  const caps = all.slice(0, nodes.length);
  const localCaps = all.slice(nodes.length);
  let stops: Awaited<ReturnType<(typeof caps)[number]['stop']>>[] = [];
  let sent = true;
  try {
    // The checks judge what was sent (every planned pair is driven in both directions, so none needs a reply): two
    // echo requests per flow, 50 ms apart, from one raw socket per source pod opened in its namespace (in-process,
    // harness/probe/icmp.ts; fping -c 2 -p 50 before: one process per source pod); replies are awaited 400 ms after
    // the last request — a healthy pair answers well within it, and an unreachable one would otherwise hold every
    // capture open for replies nothing reads. Whatever was sent is still all captured: stop() drains until tcpdump
    // has written every packet the kernel handed it.
    // the reader suites (routes) read the state up left, before this run's first packet; the captures above are
    // already listening (their start-up overlaps the reads)
    await ctx.trafficGate?.();
    sent = await drive(fl);
  } finally {
    stops = await Promise.all([...caps, ...localCaps].map((c) => c.stop()));
  }
  // complete: every capture exited cleanly and its kernel counters show no drop — what it did not see did not happen
  const complete = stops.every((s) => !s.killed && s.packetsDroppedByKernel === 0) && sent;
  const ports = [...new Set([4789, 8472, ...t.nodes.map((n) => n.vtep.port)])];
  const packets: Seen[] = [];
  for (const [i, c] of caps.entries()) {
    ctx.keep(c.file);
    const f = await readPcap(c.file, { vxlanPorts: ports });
    for (const pkt of f.packets) packets.push({ at: nodes[i]!, pkt });
  }
  const localSeen = new Map<string, number>();
  for (const [i, c] of localCaps.entries()) {
    ctx.keep(c.file);
    const f = await readPcap(c.file);
    const fl1 = local[i]!;
    localSeen.set(flowKey(fl1), f.packets.filter((p) => { const ip = p.ip4 ?? p.ip6; return ip && same(ip.src, fl1.srcIp) && same(ip.dst, fl1.dstIp) && (p.icmp?.type === 8 || p.icmp6?.type === 128); }).length);
  }
  return { packets, localSeen, complete };
}

async function observe(ctx: CheckContext): Promise<Observation> {
  return ctx.memo('encapsulation/observation', async () => {
    const t = ctx.t;
    const fl = flows(t);
    const plan = pairPlan(t);
    let c = await capture(ctx, fl, 1);
    const coverage = c.how ? `${plan.coverage}; ${c.how}` : c.rounds > 1 ? `${plan.coverage}; captured in ${c.rounds} rounds of at most ${CAPTURE_ROUND_MAX} captures, every pair with its sender and receiver captured in its round` : plan.coverage;
    // a pair or same-node flow that left no trace at all is taken once more only if the capture itself may have missed
    // it (a tcpdump killed, or its kernel counters show drops: starved on a loaded machine); a complete capture that saw
    // nothing is the answer (tcpdump was listening before the first packet, and drained what the kernel handed over)
    const o0: Observation = { flows: fl, packets: c.packets, portRanges: new Map(), localSeen: c.localSeen, coverage };
    if (!c.complete && (missingPairs(t, o0, (s) => udpPair(t, s)).length || [...c.localSeen.values()].some((v) => !v))) {
      const c2 = await capture(ctx, fl, 2);
      c = { packets: [...c.packets, ...c2.packets], localSeen: new Map([...c.localSeen].map(([k, v]) => [k, v + (c2.localSeen.get(k) ?? 0)])), complete: c2.complete, rounds: c.rounds, how: c.how };
    }
    // shared evidence: later checks (connectivity diagnosis) read what crossed the wire instead of capturing again
    recordCaptured(t, c.packets.map((s) => ({ ...s, source: 'encapsulation capture' })), pairPlan(t).pairs.map(([a, b]) => [a.name, b.name]));
    const portRanges = new Map<string, [number, number]>();
    const senders = t.nodes.filter((n) => fl.some((f) => !f.local && f.src.node === n.name));
    // the run's sysctl read (one process per node, shared with the routes suite)
    const sys = await observeSysctls(ctx);
    for (const n of senders) {
      if (n.vtep.kind === 'userspace') {
        portRanges.set(n.name, [49152, 65535]);
        continue;
      }
      const [lo, hi] = (sys.get(n.name)?.['net.ipv4.ip_local_port_range'] ?? '').trim().split(/\s+/).map(Number);
      if (lo !== undefined && hi !== undefined && !Number.isNaN(lo) && !Number.isNaN(hi)) portRanges.set(n.name, [lo, hi]);
    }
    return { flows: fl, packets: c.packets, portRanges, localSeen: c.localSeen, coverage };
  });
}

/** The directed node pairs the suite sent tunnelled cross-node traffic over, with the flows on each (direct-routed pairs of a routing mode: see routing-mode). */
function plannedPairs(o: Observation): Map<string, Flow[]> {
  const m = new Map<string, Flow[]>();
  for (const f of o.flows) if (!f.local && !f.direct) (m.get(pairKey(f.src.node, f.dst.node)) ?? m.set(pairKey(f.src.node, f.dst.node), []).get(pairKey(f.src.node, f.dst.node))!).push(f);
  return m;
}

/** Planned pairs for which `pairOf` found no packet: each check first proves it saw every pair it judges. */
function missingPairs(t: ResolvedTopology, o: Observation, pairOf: (s: Seen) => string | undefined, noun = 'tunnel packet'): string[] {
  const seen = new Set<string>();
  for (const s of o.packets) {
    const k = pairOf(s);
    if (k) seen.add(k);
  }
  const out: string[] = [];
  for (const [key, fl] of plannedPairs(o)) {
    if (!seen.has(key)) out.push(`${key}: no ${noun} captured at ${fl[0]!.dst.node} (pinged ${fl.map((f) => `${f.src.node}/${f.src.name} -> ${f.dst.node}/${f.dst.name}`).join(', ')})`);
  }
  void t;
  return out;
}

/** UDP from a node's underlay IP captured at the node it is addressed to: the evidence udp-dst-port judges. */
function udpPair(t: ResolvedTopology, s: Seen): string | undefined {
  const ip = outerIp(s.pkt);
  if (!ip || protoOf(s.pkt) !== 17 || isFrag(s.pkt) && !s.pkt.udp || !same(ip.dst, s.at.ip)) return undefined;
  const from = byIp(t, ip.src);
  return from ? pairKey(from, s.at) : undefined;
}

/** A check's verdict: missing pairs first (what it could not judge, named in the message), then every difference in what it saw. */
function verdict(o: Observation, missing: string[], diffs: string[], ok: string, extra: Partial<Outcome> = {}) {
  if (!plannedPairs(o).size && o.flows.some((f) => f.direct)) return skip('every node pair the suite drives traffic over is routed directly (same underlay subnet, routing mode): no tunnel to judge; see encapsulation/routing-mode');
  if (!missing.length) return fromDiffs(diffs, ok, extra);
  const names = missing.map((m) => m.split(':')[0]);
  const what = missing[0]!.includes('no UDP packet') ? 'UDP packet' : 'tunnel packet';
  return fail(`no ${what} captured on ${missing.length} of ${plannedPairs(o).size} directed node pairs it generated traffic for: ${names.join(', ')}${diffs.length ? `; and ${diffs.length} difference${diffs.length > 1 ? 's' : ''} on the pairs seen: ${diffs[0]}` : ''}`, { diffs: [...missing, ...diffs], details: `captured: ${o.coverage}`, ...extra });
}

// ---- family-agnostic views of a decoded packet
/** the outer (or any) IP header, IPv4 or IPv6 */
const outerIp = (p: DecodedPacket) => p.ip4 ?? p.ip6;
/** upper-layer protocol: IPv4 protocol field, or the IPv6 next header after the extension headers */
const protoOf = (p: DecodedPacket) => (p.ip4 ? p.ip4.protocol : p.ip6?.finalNextHeader);
const isFrag = (p: DecodedPacket) => (p.ip4 ? p.ip4.isFragment : Boolean(p.ip6?.fragment));
/** the inner IP header of a decoded VXLAN packet, and its family */
const innerIpOf = (p: DecodedPacket) => p.vxlan?.inner?.ip4 ?? p.vxlan?.inner?.ip6;
const innerFamily = (inner: DecodedPacket): Family => (inner.ip6 ? 6 : 4);
const canon = (ip: string) => {
  try {
    return canonicalIp(ip);
  } catch {
    return ip;
  }
};
const same = (a: string | undefined, b: string | undefined) => a !== undefined && b !== undefined && canon(a) === canon(b);

// address indexes, built once per topology
const nodeIndex = new WeakMap<ResolvedTopology, Map<string, ResolvedNode>>();
const podIndex = new WeakMap<ResolvedTopology, Map<string, ResolvedPod>>();
function byIp(t: ResolvedTopology, ip: string | undefined): ResolvedNode | undefined {
  if (ip === undefined) return undefined;
  let m = nodeIndex.get(t);
  if (!m) nodeIndex.set(t, (m = new Map(t.nodes.map((n) => [canon(n.ip), n]))));
  return m.get(canon(ip));
}
function podByIp(t: ResolvedTopology, ip: string | undefined): ResolvedPod | undefined {
  if (ip === undefined) return undefined;
  let m = podIndex.get(t);
  if (!m) {
    m = new Map();
    for (const p of t.nodes.flatMap((n) => n.pods)) for (const a of p.addrs?.length ? p.addrs.map((x) => x.ip) : [p.ip]) m.set(canon(a), p);
    podIndex.set(t, m);
  }
  return m.get(canon(ip));
}

/** Outer packets that carry pod traffic: UDP between two node IPs whose payload decodes to an inner pod-to-pod packet (IPv4 or IPv6), captured at the receiver. */
function tunnelPackets(t: ResolvedTopology, o: Observation): { s: Seen; from: ResolvedNode; to: ResolvedNode; inner: DecodedPacket; family: Family }[] {
  const out = [];
  for (const s of o.packets) {
    const ip = outerIp(s.pkt);
    const iip = innerIpOf(s.pkt);
    if (!ip || !s.pkt.udp || !iip) continue;
    const from = byIp(t, ip.src);
    const to = byIp(t, ip.dst);
    if (!from || !to || to !== s.at) continue;
    if (!podByIp(t, iip.src) || !podByIp(t, iip.dst)) continue;
    const inner = s.pkt.vxlan!.inner!;
    out.push({ s, from, to, inner, family: innerFamily(inner) });
  }
  return out;
}

/** Evidence for the tunnel checks: a decoded VXLAN packet of pod traffic from one node, captured at the other. */
function tunnelPair(t: ResolvedTopology, s: Seen): string | undefined {
  const ip = outerIp(s.pkt);
  const iip = innerIpOf(s.pkt);
  if (!ip || !s.pkt.udp || !iip || !same(ip.dst, s.at.ip)) return undefined;
  const from = byIp(t, ip.src);
  if (!from || !podByIp(t, iip.src) || !podByIp(t, iip.dst)) return undefined;
  return pairKey(from, s.at);
}

/** Every packet arriving at a node from another node's IP that is not a well-formed VXLAN packet of pod traffic. */
function crossNodeUdp(t: ResolvedTopology, o: Observation) {
  return o.packets.filter((s) => { const ip = outerIp(s.pkt); return ip && byIp(t, ip.src) && same(ip.dst, s.at.ip) && protoOf(s.pkt) === 17 && !isFrag(s.pkt); });
}

const dstPort: CheckDef = {
  id: 'encapsulation/udp-dst-port',
  title: "every cross-node pod packet crosses the underlay as UDP to the receiving node's configured port",
  async run(ctx) {
    const o = await observe(ctx);
    const cross = crossNodeUdp(ctx.t, o);
    const diffs: string[] = [];
    for (const s of cross) {
      const inner = s.pkt.vxlan?.inner;
      const want = inner && (inner.ip4 || inner.ip6) ? vtepFor(s.at, innerFamily(inner)).port : s.at.vtep.port;
      if (s.pkt.udp!.dstPort !== want) diffs.push(`${byIp(ctx.t, outerIp(s.pkt)!.src)!.name} -> ${s.at.name}: expected UDP dst port ${want}, observed ${s.pkt.udp!.dstPort} [e.g. ${summarize(s.pkt)}]`);
    }
    // pod traffic that crossed as something else than UDP
    for (const s of o.packets) {
      const ip = outerIp(s.pkt);
      const proto = protoOf(s.pkt);
      if (!ip || proto === 17 || !byIp(ctx.t, ip.src) || !same(ip.dst, s.at.ip)) continue;
      if (s.pkt.icmp?.quoted || s.pkt.icmp6?.quoted) continue; // ICMP errors between nodes are underlay control traffic
      if (proto !== 1 && proto !== 58) diffs.push(`${s.at.name}: non-UDP packet from a node: ${summarize(s.pkt)}`);
    }
    const missing = missingPairs(ctx.t, o, (s) => udpPair(ctx.t, s), 'UDP packet');
    const expected = Object.fromEntries([...plannedPairs(o).keys()].map((k) => [k, ctx.t.nodes.find((x) => x.name === k.split(' -> ')[1])!.vtep.port]));
    return verdict(o, missing, dedupe(diffs), `${cross.length} underlay UDP packets on ${plannedPairs(o).size} directed node pairs, all to the configured port (${o.coverage})`, { expected, observed: portsSeen(ctx.t, cross) });
  },
};

/** Collapse repeated lines; a trailing "[e.g. packet summary]" varies per packet and is not part of the key (the first is kept). */
function dedupe(xs: string[]): string[] {
  const m = new Map<string, { first: string; n: number }>();
  for (const x of xs) {
    const key = x.replace(/ \[e\.g\. .*\]$/, '');
    const e = m.get(key);
    if (e) e.n++;
    else m.set(key, { first: x, n: 1 });
  }
  return [...m].map(([key, { first, n }]) => (n > 1 ? `${key} (×${n})${first.slice(key.length)}` : first));
}

function portsSeen(t: ResolvedTopology, xs: Seen[]): Record<string, number[]> {
  const out: Record<string, Set<number>> = {};
  for (const s of xs) (out[pairKey(byIp(t, outerIp(s.pkt)!.src)!, s.at)] ??= new Set()).add(s.pkt.udp!.dstPort);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...v]]));
}

type Tunnel = ReturnType<typeof tunnelPackets>[number];

/**
 * A check over every captured tunnel packet: first every planned node pair must have been seen (a silent node fails
 * here, by name), then each packet yields its differences; `show` gives the observed value per pair.
 */
function perTunnelPacket(id: string, title: string, diffsOf: (p: Tunnel, t: ResolvedTopology) => string[], ok: (n: number) => string, expected?: (t: ResolvedTopology) => unknown, show?: (p: Tunnel) => string): CheckDef {
  return {
    id,
    title,
    async run(ctx) {
      const o = await observe(ctx);
      const tp = tunnelPackets(ctx.t, o);
      const missing = missingPairs(ctx.t, o, (s) => tunnelPair(ctx.t, s));
      let observed: Record<string, string[]> | undefined;
      if (show) {
        const m: Record<string, Set<string>> = {};
        for (const p of tp) (m[pairKey(p.from, p.to)] ??= new Set()).add(show(p));
        observed = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, [...v].sort()]));
      }
      return verdict(o, missing, dedupe(tp.flatMap((p) => diffsOf(p, ctx.t))), `${ok(tp.length)} on ${plannedPairs(o).size} directed node pairs (${o.coverage})`, { expected: expected?.(ctx.t), observed });
    },
  };
}

const hex = (n: number, w: number) => `0x${n.toString(16).padStart(w, '0')}`;

const header = perTunnelPacket(
  'encapsulation/vxlan-header',
  'VXLAN I flag set, reserved fields zero (RFC 7348 §5)',
  ({ s, from, to }) => {
    const v = s.pkt.vxlan!;
    const d: string[] = [];
    if (!v.iFlag) d.push(`${from.name} -> ${to.name}: I flag clear: expected flags 0x08, observed ${hex(v.flags, 2)}`);
    if (v.flags & ~0x08) d.push(`${from.name} -> ${to.name}: reserved flag bits set: expected flags 0x08, observed ${hex(v.flags, 2)}`);
    if (v.reserved1 || v.reserved2) d.push(`${from.name} -> ${to.name}: reserved fields not zero: observed ${hex(v.reserved1, 6)} and ${hex(v.reserved2, 2)}`);
    return d;
  },
  (n) => `${n} VXLAN headers well-formed`,
  () => ({ flags: '0x08', reserved: '0x000000, 0x00' }),
  ({ s }) => `flags ${hex(s.pkt.vxlan!.flags, 2)} reserved ${hex(s.pkt.vxlan!.reserved1, 6)}, ${hex(s.pkt.vxlan!.reserved2, 2)}`,
);

const vni = perTunnelPacket(
  'encapsulation/vni',
  'the VNI on the wire is the configured one',
  ({ s, from, to, family }) => {
    const v = s.pkt.vxlan!.vni;
    const d: string[] = [];
    const fv = vtepFor(from, family);
    const tv = vtepFor(to, family);
    if (v !== fv.vni) d.push(`${from.name} -> ${to.name}: expected VNI ${fv.vni}, observed ${v}`);
    if (v !== tv.vni) d.push(`${from.name} -> ${to.name}: VNI ${v} on the wire, but the receiver is configured for VNI ${tv.vni}`);
    return d;
  },
  (n) => `${n} packets with the configured VNI`,
  (t) => Object.fromEntries(t.nodes.map((n) => [n.name, n.vtep.vni])),
  ({ s }) => `VNI ${s.pkt.vxlan!.vni}`,
);

/** Evidence for outer-addresses: a packet carrying inner pod addresses, keyed by the pods' nodes, wherever it was captured. */
function innerPodPair(t: ResolvedTopology, s: Seen): string | undefined {
  const inner = innerIpOf(s.pkt);
  if (!outerIp(s.pkt) || !inner) return undefined;
  const sp = podByIp(t, inner.src);
  const dp = podByIp(t, inner.dst);
  return sp && dp ? pairKey(sp.node, dp.node) : undefined;
}

const outer: CheckDef = {
  id: 'encapsulation/outer-addresses',
  title: 'outer source and destination are the underlay IPs of exactly the sending and receiving nodes',
  async run(ctx) {
    const o = await observe(ctx);
    const diffs: string[] = [];
    const observed: Record<string, Set<string>> = {};
    let n = 0;
    for (const s of o.packets) {
      const key = innerPodPair(ctx.t, s);
      if (!key) continue;
      const inner = innerIpOf(s.pkt)!;
      const outerH = outerIp(s.pkt)!;
      const sp = podByIp(ctx.t, inner.src)!;
      const dp = podByIp(ctx.t, inner.dst)!;
      n++;
      const sn = ctx.t.nodes.find((x) => x.name === sp.node)!;
      const dn = ctx.t.nodes.find((x) => x.name === dp.node)!;
      (observed[key] ??= new Set()).add(`${outerH.src} -> ${outerH.dst}`);
      const fam = s.pkt.ip6 ? 'IPv6' : 'IPv4';
      if (!same(outerH.src, sn.ip) || !same(outerH.dst, dn.ip)) diffs.push(`${key}: inner ${inner.src} -> ${inner.dst}: expected outer ${sn.ip} -> ${dn.ip}, observed ${fam} ${outerH.src} -> ${outerH.dst}`);
      else if ((sn.family ?? 4) === 6 !== Boolean(s.pkt.ip6)) diffs.push(`${key}: expected an IPv${sn.family ?? 4} outer header (the underlay's family), observed ${fam}`);
    }
    const missing = missingPairs(ctx.t, o, (s) => innerPodPair(ctx.t, s));
    const expected = Object.fromEntries([...plannedPairs(o).keys()].map((k) => { const [a, b] = k.split(' -> ').map((x) => ctx.t.nodes.find((y) => y.name === x)!); return [k, `${a!.ip} -> ${b!.ip}`]; }));
    return verdict(o, missing, dedupe(diffs), `${n} packets with the right outer addresses on ${plannedPairs(o).size} directed node pairs`, { expected, observed: Object.fromEntries(Object.entries(observed).map(([k, v]) => [k, [...v]])) });
  },
};

const innerAddrs = perTunnelPacket(
  'encapsulation/inner-addresses',
  'inner IPs are pod IPs and inner MACs are the VTEP MACs of the topology',
  ({ from, to, inner, family }, t) => {
    const iip = (inner.ip4 ?? inner.ip6)!;
    const sp = podByIp(t, iip.src)!;
    const dp = podByIp(t, iip.dst)!;
    const d: string[] = [];
    const fv = vtepFor(from, family);
    const tv = vtepFor(to, family);
    if (sp.node !== from.name) d.push(`outer from ${from.name} carries inner source ${iip.src} of ${sp.node}/${sp.name}`);
    if (dp.node !== to.name) d.push(`outer to ${to.name} carries inner destination ${iip.dst} of ${dp.node}/${dp.name}`);
    if (inner.eth?.src !== fv.mac) d.push(`${from.name} -> ${to.name}: inner IPv${family} source MAC: expected ${fv.mac} (${fv.dev} of ${from.name}), observed ${inner.eth?.src}`);
    if (inner.eth?.dst !== tv.mac) d.push(`${from.name} -> ${to.name}: inner IPv${family} destination MAC: expected ${tv.mac} (${tv.dev} of ${to.name}), observed ${inner.eth?.dst}`);
    return d;
  },
  (n) => `${n} inner frames addressed VTEP to VTEP, pod to pod`,
  undefined,
  ({ inner, family }) => `IPv${family} ${inner.eth?.src} -> ${inner.eth?.dst}`,
);

const noPlain: CheckDef = {
  id: 'encapsulation/no-plain-pod-traffic',
  title: 'no pod-CIDR packet ever appears on the underlay unencapsulated',
  async run(ctx) {
    const o = await observe(ctx);
    const pcs = (ctx.t.overlay.podCidrs?.length ? ctx.t.overlay.podCidrs : [ctx.t.overlay.podCidr]).map((c) => parseAnyCidr(c, false));
    const inPods = (ip: string) => pcs.some((c) => { try { return containsIp(c, ip); } catch { return false; } });
    const bad = o.packets.filter((s) => {
      const ip = outerIp(s.pkt);
      if (!ip) return false;
      if (s.pkt.icmp?.quoted || s.pkt.icmp6?.quoted) return false;
      // a routing mode: pod traffic between nodes of one subnet crosses plain (routing-mode judges that)
      if (plainExpected(ctx.t, ip.src, ip.dst)) return false;
      return inPods(ip.src) || inPods(ip.dst);
    });
    if (bad.length) return fail(`${bad.length} unencapsulated pod-CIDR packets on the underlay, e.g. at ${bad[0]!.at.name}: ${summarize(bad[0]!.pkt)}`, { diffs: bad.slice(0, 10).map((s) => `${s.at.name}: ${summarize(s.pkt)}`) });
    // absence of plain packets means something only if the pod traffic of every pair was seen crossing, encapsulated
    const missing = missingPairs(ctx.t, o, (s) => tunnelPair(ctx.t, s));
    return verdict(o, missing, [], `${o.packets.length} underlay packets inspected on ${plannedPairs(o).size} directed node pairs, none plain pod traffic`);
  },
};

const sameNode: CheckDef = {
  id: 'encapsulation/same-node-local',
  title: 'same-node pod traffic is never encapsulated',
  async run(ctx) {
    const o = await observe(ctx);
    const local = o.flows.filter((f) => f.local);
    if (!local.length) return skip('no node has two pods');
    const diffs: string[] = [];
    // 1. each same-node flow happened: its echo requests reached the destination pod's host interface
    for (const f of local) {
      if (!o.localSeen.get(flowKey(f))) diffs.push(`${f.src.node}: same-node IPv${f.family} flow ${f.src.node}/${f.src.name} (${f.srcIp}) -> ${f.dst.node}/${f.dst.name} (${f.dstIp}) not seen on ${f.dst.hostIf}: observed 0 echo requests, cannot show it stayed local`);
    }
    // 2. and none of it was encapsulated
    const pairs = new Map(local.map((f) => [flowKey(f), f]));
    for (const s of o.packets) {
      const i = innerIpOf(s.pkt);
      if (!i) continue;
      const f = pairs.get(flowKey({ srcIp: i.src, dstIp: i.dst })) ?? pairs.get(flowKey({ srcIp: i.dst, dstIp: i.src }));
      if (f) diffs.push(`${f.src.node}: same-node flow ${f.src.node}/${f.src.name} -> ${f.dst.node}/${f.dst.name} was encapsulated: captured at ${s.at.name} [e.g. ${summarize(s.pkt)}]`);
    }
    const observed = Object.fromEntries(local.map((f) => [`${f.src.node}/${f.src.name} -> ${f.dst.node}/${f.dst.name} (IPv${f.family})`, `${o.localSeen.get(flowKey(f)) ?? 0} echo requests on ${f.dst.hostIf}`]));
    return fromDiffs(dedupe(diffs), `${local.length} same-node flows seen on the node's pod interfaces, none encapsulated`, { expected: 'each flow seen on the destination host interface, 0 encapsulated', observed });
  },
};

const entropy: CheckDef = {
  id: 'encapsulation/src-port-entropy',
  title: 'outer UDP source port in the ephemeral range, and different for distinct inner flows (RFC 7348 §5)',
  async run(ctx) {
    const o = await observe(ctx);
    // decided from the topology: senders that the suite makes carry two or more distinct inner flows
    const planned = new Map<string, Flow[]>();
    for (const f of o.flows) if (!f.local && !f.direct) (planned.get(f.src.node) ?? planned.set(f.src.node, []).get(f.src.node)!).push(f);
    const judgedSenders = [...planned].filter(([, fl]) => new Set(fl.map(flowKey)).size >= 2);
    if (!judgedSenders.length) return skip('no node sends two distinct inner flows in this topology (needs two pods on a node, or three nodes on a VNI)');
    const tp = tunnelPackets(ctx.t, o);
    const missing = missingPairs(ctx.t, o, (s) => tunnelPair(ctx.t, s));
    const diffs: string[] = [];
    const perSender = new Map<string, Map<string, Set<number>>>();
    for (const { s, from, inner } of tp) {
      const [lo, hi] = o.portRanges.get(from.name) ?? [49152, 65535];
      const sp = s.pkt.udp!.srcPort;
      if (sp < lo || sp > hi) diffs.push(`${from.name}: outer source port ${sp} outside the ephemeral range ${lo}–${hi}`);
      // a flow as the sender's hash sees it: addresses, plus ports for TCP/UDP (ICMP ids are not part of the kernel's flow hash)
      const l4 = inner.udp ?? inner.tcp;
      const iip = (inner.ip4 ?? inner.ip6)!;
      const flow = `${canon(iip.src)}>${canon(iip.dst)}${l4 ? `/${protoOf(inner)}:${l4.srcPort}>${l4.dstPort}` : ''}`;
      const m = perSender.get(from.name) ?? new Map<string, Set<number>>();
      (m.get(flow) ?? m.set(flow, new Set()).get(flow)!).add(sp);
      perSender.set(from.name, m);
    }
    const observed: Record<string, Record<string, number[]>> = {};
    for (const [node, m] of perSender) observed[node] = Object.fromEntries([...m].map(([k, v]) => [k, [...v]]));
    for (const [node, fl] of judgedSenders) {
      const m = perSender.get(node) ?? new Map<string, Set<number>>();
      const want = [...new Map(fl.map((f) => [flowKey(f), f])).values()];
      const absent = want.filter((f) => !m.has(flowKey(f)));
      if (absent.length) diffs.push(`${node}: expected ${want.length} distinct inner flows to judge source-port entropy, captured ${want.length - absent.length}; missing ${absent.map((f) => `${f.src.node}/${f.src.name} (${f.srcIp}) -> ${f.dst.node}/${f.dst.name} (${f.dstIp})`).join(', ')}`);
      if (m.size < 2) continue;
      const all = new Set([...m.values()].flatMap((v) => [...v]));
      if (all.size < 2) diffs.push(`${node}: ${m.size} distinct inner flows all used outer source port ${[...all][0]}: no entropy for underlay ECMP`);
    }
    const expected = Object.fromEntries(judgedSenders.map(([node, fl]) => [node, `${new Set(fl.map(flowKey)).size} distinct inner flows on distinct source ports`]));
    return verdict(o, missing, dedupe(diffs), `${judgedSenders.length} senders spread distinct inner flows over distinct source ports`, { expected, observed });
  },
};

/** Is a plain packet between these pod addresses expected on the underlay? Its sender's node routes the receiver's directly. */
function plainExpected(t: ResolvedTopology, src: string, dst: string): boolean {
  const sp = podByIp(t, src);
  const dp = podByIp(t, dst);
  if (!sp || !dp) return false;
  const a = t.nodes.find((n) => n.name === sp.node);
  const b = t.nodes.find((n) => n.name === dp.node);
  return !!a && !!b && routesDirect(a, b);
}

const routingMode: CheckDef = {
  id: 'encapsulation/routing-mode',
  title: 'routing modes (flannel DirectRouting, calico vxlanMode CrossSubnet): pod traffic between nodes of one underlay subnet crosses plain, traffic across subnets over VXLAN',
  async run(ctx) {
    const t = ctx.t;
    if (!t.nodes.some((n) => n.directRouting)) return skip('no routing mode (overlay.directRouting / vxlanMode: CrossSubnet): every pair is tunnelled, which the other checks judge');
    const o = await observe(ctx);
    // pairs whose sender is in a routing mode: plain when the receiver shares its subnet, VXLAN otherwise
    const judged = new Map<string, { a: ResolvedNode; b: ResolvedNode; direct: boolean; fl: Flow[] }>();
    for (const f of o.flows) {
      if (f.local) continue;
      const a = t.nodes.find((n) => n.name === f.src.node)!;
      const b = t.nodes.find((n) => n.name === f.dst.node)!;
      if (!a.directRouting) continue;
      const key = pairKey(a, b);
      (judged.get(key) ?? judged.set(key, { a, b, direct: !!f.direct, fl: [] }).get(key)!).fl.push(f);
    }
    const seen = new Map<string, { plain: number; vxlan: number; eg?: Seen }>();
    for (const s of o.packets) {
      const ip = outerIp(s.pkt);
      if (!ip) continue;
      const inner = innerIpOf(s.pkt);
      // plain: the pods' own addresses on the receiver's eth0; tunnelled: a VXLAN packet carrying them, wherever captured
      const [src, dst, tunnelled] = inner && s.pkt.udp ? [inner.src, inner.dst, true] : [ip.src, ip.dst, false];
      const sp = podByIp(t, src);
      const dp = podByIp(t, dst);
      if (!sp || !dp || sp.node === dp.node) continue;
      if (!tunnelled && s.at.name !== dp.node) continue;
      const key = pairKey(sp.node, dp.node);
      const e = seen.get(key) ?? seen.set(key, { plain: 0, vxlan: 0 }).get(key)!;
      if (tunnelled) e.vxlan++;
      else e.plain++;
      if (!e.eg || (tunnelled && judged.get(key)?.direct) || (!tunnelled && judged.get(key) && !judged.get(key)!.direct)) e.eg = s;
    }
    const diffs: string[] = [];
    const expected: Record<string, string> = {};
    const observed: Record<string, string> = {};
    const why = (j: { a: ResolvedNode; b: ResolvedNode }) => (j.a.segment === j.b.segment ? `same subnet ${j.a.segment}` : `${j.a.segment} → ${j.b.segment}`);
    const mode = t.layout === 'calico' ? 'vxlanMode CrossSubnet' : 'DirectRouting';
    for (const [key, j] of judged) {
      const e = seen.get(key) ?? { plain: 0, vxlan: 0 };
      expected[key] = `${j.direct ? 'plain' : 'VXLAN'} (${mode}, ${why(j)})`;
      observed[key] = `${e.plain} plain at ${j.b.name}, ${e.vxlan} VXLAN`;
      const eg = e.eg ? ` [e.g. at ${e.eg.at.name}: ${summarize(e.eg.pkt)}]` : '';
      if (j.direct && e.vxlan) diffs.push(`${key}: expected plain pod traffic (${mode}: ${why(j)}), observed ${e.vxlan} VXLAN-encapsulated packets${eg}`);
      else if (j.direct && !e.plain) diffs.push(`${key}: expected plain pod traffic on ${j.b.name}'s ${j.b.underlayIf} (${mode}: ${why(j)}), observed none (pinged ${j.fl.map((f) => `${f.src.node}/${f.src.name} -> ${f.dst.node}/${f.dst.name}`).join(', ')})`);
      else if (!j.direct && e.plain) diffs.push(`${key}: expected VXLAN (${mode}: ${why(j)}, a different subnet), observed ${e.plain} plain pod packets${eg}`);
      else if (!j.direct && !e.vxlan) diffs.push(`${key}: expected VXLAN (${mode}: ${why(j)}), observed no tunnel packet`);
    }
    const nd = [...judged.values()].filter((j) => j.direct).length;
    return fromDiffs(dedupe(diffs), `${judged.size} node pairs in ${mode}: ${nd} crossed plain (same subnet), ${judged.size - nd} over VXLAN (across subnets)`, { expected, observed });
  },
};

export const encapsulationSuite: SuiteDef = {
  name: 'encapsulation',
  title: 'encapsulation on the wire',
  checks: [dstPort, header, vni, outer, innerAddrs, noPlain, sameNode, entropy, routingMode],
  // its captures start while the reader suites still read; its first packet waits for them (capture())
  gatesTraffic: true,
};
