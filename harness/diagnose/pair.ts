// Why a pod cannot reach another: the first place along the path where the packet goes wrong that vxlab can tell.
//
// Order follows the packet: the source pod's routing decision (ENETUNREACH), the source node's route / neighbour /
// FDB entry for the peer, then the wire — left the source node's underlay link? arrived at the receiver's? with the
// port and VNI the receiving VTEP expects? counted by a drop rule? — and, if the request side is clean, the reply path.
// Evidence already gathered by the run (the encapsulation capture) is used first; otherwise one short capture on both
// underlay links around two pings (filtered to the pair's outer addresses, so concurrent traffic cannot be mistaken
// for it) decides. Every probe here is bounded and cheap; this runs only for pairs already found unreachable.
import { join } from 'node:path';
import { routesDirect, type ResolvedNode, type ResolvedPod, type ResolvedTopology, type ResolvedVtep } from '../topology/resolved.ts';
import { canonicalIp, type Family } from '../topology/ip.ts';
import { fdb as kfdb, plainRoute, readInProcess, routes, sysctls } from '../probe/kernel.ts';
import type { CheckContext, Outcome } from '../runner/check.ts';
import { evidence, knownReach, podName, runMemo, type CapturedAt } from '../runner/evidence.ts';
import { readPcap, startCapture } from '../capture/tcpdump.ts';
import type { DecodedPacket } from '../capture/pcap.ts';
import { ipJson, pool, run } from '../util/exec.ts';
import { nsExists } from '../runtime/netns/runtime.ts';
import { probedCells, type MatrixLike } from './matrix.ts';

const nodeOf = (t: ResolvedTopology, p: ResolvedPod) => t.nodes.find((n) => n.name === p.node)!;
/** the pod family a diagnosis is about (IPv4 or IPv6 inner packets): the pods' address, gateway, VTEP and subnet in it */
const famOf = (ip: string): Family => (ip.includes(':') ? 6 : 4);
const addrOf = (p: ResolvedPod, f: Family) => p.addrs?.find((x) => x.family === f)?.ip ?? p.ip;
const gatewayOf = (p: ResolvedPod, f: Family) => p.addrs?.find((x) => x.family === f)?.gateway ?? p.gateway;
const vtepOf = (n: ResolvedNode, f: Family): ResolvedVtep => n.vteps?.find((v) => v.family === f) ?? n.vtep;
const famIndex = (t: ResolvedTopology, f: Family) => Math.max(0, (t.families ?? [4]).indexOf(f));
const subnetOf = (t: ResolvedTopology, n: ResolvedNode, f: Family) => n.podSubnets?.[famIndex(t, f)] ?? n.podSubnet;
const cidrOf = (t: ResolvedTopology, f: Family) => t.overlay.podCidrs?.[famIndex(t, f)] ?? t.overlay.podCidr;
/** address resolution by family, for messages: ARP (IPv4) or neighbour discovery (IPv6) */
const resolution = (f: Family) => (f === 6 ? 'NDP' : 'ARP');
const sameIp = (x: string | undefined, y: string) => !!x && canonicalIp(x) === canonicalIp(y);

/** `ip -j route get DST` in ns (in-process where it can: harness/probe/kernel.ts): the route, or the kernel's error text (e.g. "Network is unreachable"). */
async function routeGet(ns: string, dst: string): Promise<{ route?: any; error?: string }> {
  const x = await readInProcess(ns, { gets: [{ dst }] });
  if (x) {
    const a = x.answers![0]!;
    return a.error !== undefined ? { error: a.error } : { route: plainRoute(a.route!, false) };
  }
  const r = await run(['ip', '-j', 'route', 'get', dst], { ns, reject: false });
  if (r.exitCode !== 0) return { error: (r.stderr || r.stdout).trim().replace(/^RTNETLINK answers: /, '') };
  try {
    return { route: JSON.parse(r.stdout)[0] };
  } catch {
    return { error: r.stdout.trim() };
  }
}

/** `ip -j neigh show IP dev DEV` in ns: the entry for IP on DEV, if any (in-process where it can). */
async function neighOf(ns: string, ip: string, dev: string): Promise<any | undefined> {
  const x = await readInProcess(ns, { neigh: { dev, only: [ip] } }).catch(() => undefined);
  if (x) return Array.isArray(x.neigh) ? x.neigh.find((n) => sameIp(n.dst, ip)) : undefined;
  return (await ipJson<any[]>(ns, ['neigh', 'show', ip, 'dev', dev]).catch(() => [] as any[]))[0];
}

function routeText(r: any): string {
  return `${r.dst ?? ''}${r.gateway ? ` via ${r.gateway}` : ''}${r.dev ? ` dev ${r.dev}` : ''}`.trim();
}

/** Drop rules in a namespace's nftables ruleset whose counter counted packets, as "table/chain: rule (N packets)". */
export async function nftDrops(ns: string): Promise<string[]> {
  const r = await run(['nft', '-j', 'list', 'ruleset'], { ns, reject: false });
  if (r.exitCode !== 0) return [];
  let j: any;
  try {
    j = JSON.parse(r.stdout);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const x of j.nftables ?? []) {
    const rule = x.rule;
    if (!rule) continue;
    const exprs: any[] = rule.expr ?? [];
    const counter = exprs.find((e) => e.counter)?.counter;
    if (!counter?.packets || !exprs.some((e) => 'drop' in e || e.reject !== undefined)) continue;
    // a rule whose verdict depends on chance or on a rate (numgen random, limit, quota, meters) drops some packets and
    // lets others pass: loss, which another probe round may get through; any other drop rule is configuration
    const chance = probabilistic(exprs);
    out.push(`${rule.family} ${rule.table}/${rule.chain}: ${describeRule(exprs)} (${counter.packets} packets${chance ? `; probabilistic: ${chance}` : ''})`);
  }
  return out;
}

/** The expression kinds that make a rule's verdict depend on chance or rate, comma-separated ('' when none). */
export function probabilistic(exprs: any[]): string {
  const kinds = new Set<string>();
  const walk = (x: unknown): void => {
    if (!x || typeof x !== 'object') return;
    for (const [k, v] of Object.entries(x)) {
      // a dynamic set update ({"set": {"op": "update", …}}) is a meter; an anonymous set of values ({"set": [4789, 8472]}) is not
      if (['numgen', 'limit', 'quota', 'meter'].includes(k) || (k === 'set' && !!v && typeof v === 'object' && 'op' in v)) kinds.add(k === 'set' ? 'meter' : k);
      walk(v);
    }
  };
  walk(exprs);
  return [...kinds].sort().join(', ');
}

function describeRule(exprs: any[]): string {
  const words: string[] = [];
  for (const e of exprs) {
    if (e.match) {
      const left = e.match.left?.payload ? `${e.match.left.payload.protocol} ${e.match.left.payload.field}` : e.match.left?.meta ? e.match.left.meta.key : JSON.stringify(e.match.left);
      const right = typeof e.match.right === 'object' ? JSON.stringify(e.match.right) : e.match.right;
      words.push(`${left} ${right}`);
    } else if ('drop' in e) words.push('drop');
    else if (e.reject !== undefined) words.push('reject');
  }
  return words.join(' ');
}

/** The node-side causes: route, neighbour (ARP / NDP), FDB entry on the source node for the destination pod, in family `f`. */
async function nodeCause(t: ResolvedTopology, a: ResolvedPod, b: ResolvedPod, f: Family): Promise<string | undefined> {
  const na = nodeOf(t, a);
  const nb = nodeOf(t, b);
  const bIp = addrOf(b, f);
  const va = vtepOf(na, f);
  const vb = vtepOf(nb, f);
  const subnet = subnetOf(t, nb, f);
  const rg = await routeGet(na.ns, bIp);
  // routing modes: a peer on the node's own subnet is routed plainly via its node IP on eth0, with no VXLAN entries
  if (routesDirect(na, nb)) {
    const want = `${subnet} via ${nb.ip} dev ${na.underlayIf}`;
    if (rg.error) return `no route on ${na.name} to ${bIp} (${rg.error}): missing the direct route ${want}`;
    if (rg.route.dev !== na.underlayIf || !sameIp(rg.route.gateway, nb.ip)) return `wrong route on ${na.name} for ${nb.name}'s pod subnet ${subnet}: ${bIp} goes ${routeText(rg.route)} (expected the direct route ${want}: same subnet, routing mode)`;
    return undefined;
  }
  if (rg.error) return `no route on ${na.name} to ${bIp} (${rg.error}): missing route ${subnet} via ${vb.ip} dev ${va.dev}`;
  if (rg.route.dev !== va.dev) return `no route on ${na.name} for ${nb.name}'s pod subnet ${subnet}: ${bIp} goes ${routeText(rg.route)}, not through ${va.dev} (missing route ${subnet} via ${vb.ip} dev ${va.dev})`;
  const gw = rg.route.gateway ?? bIp;
  const neigh = await neighOf(na.ns, gw, va.dev);
  if (!neigh || !neigh.lladdr) {
    const state = (neigh?.state ?? []) as string[];
    // an entry without an address: the kernel is resolving it (INCOMPLETE) or gave up (FAILED) — VTEPs that do not
    // learn never get an answer, so the entry the control plane should have written is what is missing
    const how = state.length ? ` (${resolution(f)} ${state.includes('FAILED') ? 'failed' : state.includes('INCOMPLETE') ? 'incomplete' : 'unresolved'}: state ${state.join(',')})` : '';
    return `no neighbour entry on ${na.name} for ${gw} dev ${va.dev}${how}: expected lladdr ${vb.mac} (${nb.name}'s VTEP)`;
  }
  if (neigh.lladdr.toLowerCase() !== vb.mac.toLowerCase()) return `stale neighbour entry on ${na.name}: ${gw} dev ${va.dev} lladdr ${neigh.lladdr}, but ${nb.name}'s VTEP MAC is ${vb.mac}`;
  if (na.vtep.kind !== 'kernel') return undefined;
  const fdb: any[] = await kfdb(na.ns, va.dev).catch(() => [] as any[]);
  const e = fdb.filter((x) => x.mac?.toLowerCase() === neigh.lladdr.toLowerCase() && x.dst);
  if (!e.length) return `no FDB entry on ${na.name} for ${neigh.lladdr} dev ${va.dev}: expected dst ${nb.ip} (${nb.name})`;
  if (!e.some((x) => sameIp(x.dst, nb.ip))) return `wrong FDB entry on ${na.name}: ${neigh.lladdr} dev ${va.dev} dst ${e.map((x) => x.dst).join(', ')}, expected dst ${nb.ip} (${nb.name})`;
  return undefined;
}

/**
 * The pod's own next hop: the route `ip route get` chose in the pod has a gateway whose neighbour entry never
 * resolved (ARP / NDP INCOMPLETE or FAILED) — nothing on the node answers for the pod's gateway address.
 */
async function podNeighbourCause(a: ResolvedPod, route: any, f: Family): Promise<string | undefined> {
  const gw = route?.gateway;
  if (!gw || !route.dev) return undefined;
  const read = () => neighOf(a.ns, gw, route.dev);
  let n = await read();
  if (!n) {
    // no entry at all: a FAILED one is garbage-collected within seconds; one echo request to the gateway asks again
    await run(['ping', `-${f}`, '-n', '-q', '-c', '1', '-W', '1', gw], { ns: a.ns, netOnly: nsExists(a.ns), reject: false, timeoutMs: 4000 });
    n = await read();
  }
  const state = (n?.state ?? []) as string[];
  if (!n || n.lladdr || !state.some((x) => x === 'FAILED' || x === 'INCOMPLETE')) return undefined;
  return `${resolution(f)} for the gateway failed in pod ${podName(a)}: ${gw} dev ${route.dev} state ${state.join(',')} — nothing on ${a.node} answers for ${gw} (the address missing on the pod's host side, or its ${resolution(f)} answers dropped)`;
}

/**
 * Reverse-path filtering on the receiver: A's pod packets arrive on B over the interface A sends them to (eth0 when A
 * routes B directly, B's VTEP otherwise); strict rp_filter (1, the max of all and the interface) drops them when B's
 * own route back to A's pod is another interface — asymmetric routing.
 */
async function reversePathCause(t: ResolvedTopology, a: ResolvedPod, b: ResolvedPod, f: Family): Promise<string | undefined> {
  // rp_filter is IPv4's (IPv6 reverse-path filtering is a firewall rule, which nftDrops reads)
  if (f === 6) return undefined;
  const na = nodeOf(t, a);
  const nb = nodeOf(t, b);
  const iif = routesDirect(na, nb) ? nb.underlayIf : nb.vtep.dev;
  const back = await routeGet(nb.ns, a.ip);
  if (back.error || !back.route?.dev || back.route.dev === iif) return undefined;
  const keys = ['net.ipv4.conf.all.rp_filter', `net.ipv4.conf.${iif.replace(/\./g, '/')}.rp_filter`];
  const v = await sysctls(nb.ns, keys);
  const mode = Math.max(Number(v[keys[0]!] ?? 0), Number(v[keys[1]!] ?? 0));
  if (mode !== 1) return undefined;
  return `dropped by strict reverse-path filtering on ${nb.name}: ${na.name}'s pod packets (${a.ip}) arrive on ${iif}, but ${nb.name}'s route back to ${a.ip} is ${routeText(back.route)} (asymmetric routing; rp_filter = 1: ${keys.map((k) => `${k} = ${v[k] ?? 'absent'}`).join(', ')}; loose mode 2 accepts it)`;
}

/** Outer packets from node A to node B, each with where it was captured. */
function outerOf(xs: CapturedAt[], na: ResolvedNode, nb: ResolvedNode): { left: DecodedPacket[]; arrived: DecodedPacket[] } {
  // the outer header is the underlay's family (IPv4 or IPv6); addresses compared in canonical form
  const ab = xs.filter((s) => {
    const ip = s.pkt.ip4 ?? s.pkt.ip6;
    return !!ip && !!s.pkt.udp && sameIp(ip.src, na.ip) && sameIp(ip.dst, nb.ip);
  });
  return { left: ab.filter((s) => s.at.name === na.name).map((s) => s.pkt), arrived: ab.filter((s) => s.at.name === nb.name).map((s) => s.pkt) };
}

/** One short capture on both underlay links while the source pod sends two pings; filtered to the pair's outer addresses. */
async function captureOnce(ctx: CheckContext, a: ResolvedPod, b: ResolvedPod, f: Family): Promise<CapturedAt[]> {
  const na = nodeOf(ctx.t, a);
  const nb = nodeOf(ctx.t, b);
  const filter = ['udp', 'and', 'src', 'host', na.ip, 'and', 'dst', 'host', nb.ip];
  const tag = `${na.name}-${nb.name}-${Date.now() % 100000}`;
  const caps = await Promise.all([na, nb].map((n) => startCapture({ ns: n.ns, iface: n.underlayIf, file: join(ctx.workDir, `diag-${tag}-at-${n.name}.pcap`), filter, snaplen: 256 })));
  try {
    await run(['ping', `-${f}`, '-n', '-q', '-c', '2', '-i', '0.2', '-W', '1', addrOf(b, f)], { ns: a.ns, netOnly: nsExists(a.ns), reject: false, timeoutMs: 5000 });
  } finally {
    await Promise.all(caps.map((c) => c.stop()));
  }
  const out: CapturedAt[] = [];
  for (const [i, c] of caps.entries()) {
    ctx.keep(c.file);
    for (const pkt of (await readPcap(c.file, { vxlanPorts: [...new Set([4789, 8472, na.vtep.port, nb.vtep.port])] })).packets) out.push({ at: i ? nb : na, pkt, source: 'diagnosis capture' });
  }
  return out;
}

/** The prefix of a cause found on the reply path's node before any capture (diagnosePair 2b). */
const REPLY_PATH = (node: string) => `the replies cannot come back, whatever the requests meet: on ${node}'s side, `;

/** Whether the run's encapsulation capture drove A's node -> B's node (wireCause then reads it, no capture of its own). */
function hasWireEvidence(t: ResolvedTopology, a: ResolvedPod, b: ResolvedPod): boolean {
  return evidence(t).drove.has(`${nodeOf(t, a).name}>${nodeOf(t, b).name}`);
}

/** The wire-side cause for A -> B, from the run's captures or one short capture of its own. */
async function wireCause(ctx: CheckContext, a: ResolvedPod, b: ResolvedPod, f: Family): Promise<{ cause?: string; clean: boolean }> {
  const t = ctx.t;
  const na = nodeOf(t, a);
  const nb = nodeOf(t, b);
  const ev = evidence(t);
  // the encapsulation capture drove both families' flows over the pair; it is this pair's evidence if it saw its family
  const fam = (s: CapturedAt) => (s.pkt.vxlan?.inner?.ip6 ? 6 : s.pkt.vxlan?.inner?.ip4 ? 4 : 0);
  let xs = ev.drove.has(`${na.name}>${nb.name}`) ? ev.captured.filter((s) => fam(s) === f || fam(s) === 0) : [];
  let source = 'the encapsulation capture';
  if (!xs.length) {
    xs = await captureOnce(ctx, a, b, f);
    source = 'a capture on both underlay links around 2 pings';
  }
  const { left, arrived } = outerOf(xs, na, nb);
  if (!left.length) {
    const drops = await nftDrops(na.ns);
    return { clean: false, cause: `nothing left ${na.name}'s ${na.underlayIf} for ${nb.name} (${na.ip} -> ${nb.ip}, seen by ${source})${drops.length ? `: dropped on ${na.name} by nftables ${drops[0]}` : ': dropped inside ' + na.name}` };
  }
  if (!arrived.length) return { clean: false, cause: `dropped on the underlay: ${left.length} VXLAN packet(s) left ${na.name}'s ${na.underlayIf} (${na.ip} -> ${nb.ip}:${left[0]!.udp?.dstPort}), none arrived at ${nb.name}'s ${nb.underlayIf} (seen by ${source})` };
  const p = arrived[0]!;
  if (p.udp && p.udp.dstPort !== nb.vtep.port) return { clean: false, cause: `rejected by ${nb.name}'s VTEP: ${arrived.length} packet(s) from ${na.name} arrive on UDP port ${p.udp.dstPort}, ${nb.name}'s VTEP listens on ${nb.vtep.port} (seen by ${source})` };
  if (p.vxlan && p.vxlan.vni !== nb.vtep.vni) return { clean: false, cause: `rejected by ${nb.name}'s VTEP: packets from ${na.name} arrive with VNI ${p.vxlan.vni}, ${nb.name}'s VTEP has VNI ${nb.vtep.vni} (seen by ${source})` };
  const drops = await nftDrops(nb.ns);
  if (drops.length) return { clean: false, cause: `arrived at ${nb.name}'s ${nb.underlayIf} (${arrived.length} packet(s) from ${na.name}) and dropped there by nftables ${drops[0]}` };
  const dmac = p.vxlan?.inner?.eth?.dst;
  const vb = vtepOf(nb, f);
  if (dmac && dmac.toLowerCase() !== vb.mac.toLowerCase()) return { clean: false, cause: `arrived at ${nb.name} with inner destination MAC ${dmac}, but ${nb.name}'s VTEP MAC is ${vb.mac}: ${nb.name} discards the frame (stale neighbour/FDB on ${na.name})` };
  return { clean: true };
}

/** Who owns an address of the topology, in words ("node2 (flannel.1)", "node1/pod1"); undefined if nobody. */
function ownerOf(t: ResolvedTopology, ip: string): string | undefined {
  for (const n of t.nodes) {
    if (sameIp(n.ip, ip)) return `${n.name} (${n.underlayIf})`;
    for (const v of n.vteps ?? [n.vtep]) if (sameIp(v.ip, ip)) return `${n.name} (${v.dev})`;
    for (const x of n.bridge?.addrs ?? []) if (sameIp(x.ip, ip)) return `${n.name} (${n.bridge!.name})`;
    for (const p of n.pods) {
      if ((p.addrs ?? []).some((x) => sameIp(x.ip, ip)) || sameIp(p.ip, ip)) return podName(p);
      if ((p.addrs ?? []).some((x) => sameIp(x.gateway, ip))) return `${n.name} (gateway of ${podName(p)})`;
    }
  }
  return undefined;
}

/**
 * An ICMP / ICMPv6 error the network sends back to the pod (two echo requests, 1 s wait): destination unreachable
 * (no route, administratively prohibited, address unreachable — the hop's ARP/NDP for its next hop failed, port
 * unreachable), packet too big / frag needed, time exceeded — named with the hop that sent it. Redirects are not
 * errors. Undefined when no error came back (silence, or replies).
 */
export async function icmpErrorCause(t: ResolvedTopology, a: ResolvedPod, b: ResolvedPod, f: Family): Promise<string | undefined> {
  const dst = addrOf(b, f);
  const r = await run(['ping', `-${f}`, '-n', '-c', '2', '-i', '0.2', '-W', '1', dst], { ns: a.ns, netOnly: nsExists(a.ns), reject: false, timeoutMs: 5000 });
  const m = /^From (\S+)(?: \([^)]*\))? icmp_seq=\d+ (?!Redirect)(.+)$/m.exec(r.stdout);
  if (!m) return undefined;
  // "From 10.0.0.1: icmp_seq" in some ping versions; an IPv6 address may itself end in "::"
  const from = m[1]!.endsWith(':') && !m[1]!.endsWith('::') ? m[1]!.slice(0, -1) : m[1]!;
  const what = m[2]!.trim();
  const who = ownerOf(t, from);
  const unresolved = /address unreachable|host unreachable/i.test(what) ? ` — ${who ?? from} could not resolve its next hop toward ${dst} (${resolution(f)} failed there)` : '';
  const hop = who ? `${who.replace(/\)$/, '')}${who.endsWith(')') ? ', ' : ' ('}${from})` : from;
  return `${f === 6 ? 'ICMPv6' : 'ICMP'} error from ${hop}: "${what}" for ${podName(a)} -> ${dst}${unresolved}`;
}

/**
 * The cause of A -> B being unreachable, in one sentence naming node, peer and value; undefined if vxlab cannot tell.
 * `reverse` = this is the reply direction of an earlier diagnosis (no further recursion). `f`: the pod family of the
 * unreachable pair (IPv4 or IPv6 inner packets; default: B's first address's): its addresses, VTEP, ARP or NDP.
 */
export async function diagnosePair(ctx: CheckContext, a: ResolvedPod, b: ResolvedPod, reverse = false, f: Family = famOf(b.ip)): Promise<string | undefined> {
  const t = ctx.t;
  const bIp = addrOf(b, f);
  // 1. the pod's own routing decision, and its gateway's ARP / NDP entry
  const pr = await routeGet(a.ns, bIp);
  if (pr.error) {
    const have: any[] = await routes(a.ns, f).catch(() => [] as any[]);
    return `no route in pod ${podName(a)} to ${bIp} (${/unreachable/i.test(pr.error) ? 'ENETUNREACH' : pr.error}): missing route ${cidrOf(t, f)} or default via ${gatewayOf(a, f)}; the pod has ${have.length ? have.map(routeText).join(', ') : 'no routes'}`;
  }
  const pn = await podNeighbourCause(a, pr.route, f);
  if (pn) return pn;
  if (a.node === b.node) return reverse ? undefined : icmpErrorCause(t, a, b, f);
  // 2. the source node's forwarding state
  const nc = await nodeCause(t, a, b, f);
  if (nc) return nc;
  // the receiver's reverse-path filter against an asymmetric route back
  const rp = await reversePathCause(t, a, b, f);
  if (rp) return rp;
  const direct = routesDirect(nodeOf(t, a), nodeOf(t, b));
  // 2b. no capture of the run's to read (the encapsulation suite's drove this node pair): before a capture of its own
  //     (two captures and two pings, ~1.5 s), the reply path's forwarding state on B — a few table reads. A
  //     configuration cause there (isConfigCause: a missing or wrong route, a stale neighbour, a wrong FDB entry) keeps
  //     every echo reply from coming back whatever the requests meet, so it decides the pair; said as such, without
  //     claiming the requests arrive (that is what the capture would have shown)
  if (!reverse && !direct && !hasWireEvidence(t, a, b)) {
    const back = await nodeCause(t, b, a, f);
    if (back && isConfigCause(back)) return `${REPLY_PATH(b.node)}${back}`;
  }
  // 3. the wire (VXLAN pairs: a direct-routed pair has no outer packets to find)
  const w = direct ? { cause: undefined } : await wireCause(ctx, a, b, f);
  if (w.cause && !/: dropped inside \S+$/.test(w.cause)) return w.cause;
  if (reverse) return w.cause;
  // 4. requests cross cleanly: the reply path
  if (!w.cause) {
    const back = await diagnosePair(ctx, b, a, true, f);
    if (back) return `requests reach ${b.node}; the replies fail: ${back}`;
  }
  // 5. an ICMP error sent back names the hop that turned the packet away (a reject rule, a hop whose ARP / NDP
  //    failed): more than "dropped inside" says, and the only trace of a reject past the receiving VTEP
  return (await icmpErrorCause(t, a, b, f)) ?? w.cause;
}

/**
 * Append the cause of each wrong reachable cell (one per directed node pair, at most 4) to a failing matrix outcome.
 * `family`: the matrix's pod family (its cells are diagnosed with that family's addresses, VTEP and ARP / NDP); the
 * causes are labelled with it when `label` is set (dual-stack: one diagnosis per failing family).
 */
export async function diagnoseWrong(ctx: CheckContext, m: MatrixLike, out: Outcome, family?: Family, label = false): Promise<Outcome> {
  if (out.status !== 'fail') return out;
  const f = family ?? famOf(m.ips?.[0] ?? m.pods[0]?.ip ?? '');
  const firsts = new Map<string, [ResolvedPod, ResolvedPod]>();
  for (const [i, j] of probedCells(m)) {
    if (!m.expected[i]![j] || m.actual[i]![j]) continue;
    const a = m.pods[i]!;
    const b = m.pods[j]!;
    const k = `${a.node}>${b.node}`;
    if (!firsts.has(k)) firsts.set(k, [a, b]);
    if (firsts.size >= 4) break;
  }
  const pairs = [...firsts.values()].slice(0, 4);
  if (!pairs.length) return out;
  const tag = label ? `IPv${f} ` : '';
  const causes = (await pool(pairs, 4, ([a, b]) => diagnoseOnce(ctx, a, b, f))).map((c, i) => (c ? `${tag}${podName(pairs[i]![0])} -> ${podName(pairs[i]![1])}: ${c}` : undefined)).filter((c): c is string => !!c);
  if (!causes.length) return out;
  // diffs stay one line per wrong cell; the causes (one per directed node pair) go to the details, the first to the message
  const head = 'cause per directed node pair:\n';
  const details = out.details ?? '';
  const merged = details.includes(head) ? `${details}\n${causes.map((c) => `  ${c}`).join('\n')}` : `${details ? `${details}\n\n` : ''}${head}${causes.map((c) => `  ${c}`).join('\n')}`;
  return { ...out, message: /; cause: /.test(out.message ?? '') ? out.message : `${out.message}; cause: ${causes[0]}`, details: merged };
}

/** diagnosePair once per run, directed pair and family: the matrix, df-boundary and tcp-transfer share one diagnosis. */
export function diagnoseOnce(ctx: CheckContext, a: ResolvedPod, b: ResolvedPod, f: Family = famOf(b.ip)): Promise<string | undefined> {
  return runMemo(ctx.t, `diagnose/${addrOf(a, f)}>${addrOf(b, f)}`, () => diagnosePair(ctx, a, b, false, f).catch((e) => `(diagnosis failed: ${String(e?.message ?? e).split('\n')[0]})`));
}

/**
 * For a check that needs A -> B to carry small packets first (a DF boundary, a TCP transfer): undefined if the run's
 * evidence says it does (or says nothing), else why not — the earlier evidence by name, and the diagnosed cause.
 */
export async function unreachableEvidence(ctx: CheckContext, a: ResolvedPod, b: ResolvedPod, fam: Family = famOf(b.ip)): Promise<string | undefined> {
  const bIp = addrOf(b, fam);
  const f = knownReach(ctx.t, { ip: addrOf(a, fam) }, { ip: bIp });
  if (!f || f.reachable || !f.settled) return undefined;
  const cause = await diagnoseOnce(ctx, a, b, fam);
  return `${podName(a)} -> ${podName(b)} (${bIp}) does not answer even small pings (${f.source})${cause ? `; cause: ${cause}` : ''}`;
}

/**
 * Causes that are configuration, not loss: kernel state vxlab reads (a route, neighbour or FDB entry missing or
 * wrong on the sending node) or a rejection the capture saw (the receiving VTEP listens on another port or VNI).
 * Also strict reverse-path filtering against an asymmetric route (a sysctl and a route, both read), and an nftables
 * drop rule that counted the pair's packets and has no chance or rate in it (RULE_CAUSE). Another probe round cannot
 * change a cell behind one of these — unless something is still programming the nodes (builder: external, whose
 * control plane converges after up) or a neighbour is still being resolved. Loss on the underlay ("dropped on the
 * underlay"), probabilistic drop rules (numgen, limit, quota, meters: a `loss:` fault), ICMP errors, a pod's own
 * routes and causes vxlab cannot name are not in this list: cells behind them get their retry rounds.
 */
const CONFIG_CAUSE = /^(no route on |wrong route on |no neighbour entry on |stale neighbour entry on |no FDB entry on |wrong FDB entry on |rejected by \S+'s VTEP: |dropped by strict reverse-path filtering on )/;
/**
 * A drop rule that counted this node pair's packets (outer packets that arrived, or nothing left the sender), with no
 * chance or rate in its match (nftDrops marks `probabilistic: numgen` and the like): the same packets meet the same
 * rule next round. A `loss:` fault's `numgen random` rule is loss, and retried.
 */
const RULE_CAUSE = /^(arrived at \S+'s \S+ \(\d+ packet\(s\) from \S+\) and dropped there by nftables |nothing left \S+'s \S+ for \S+ \(.*\): dropped on \S+ by nftables )/;

export function isConfigCause(cause: string | undefined): boolean {
  // the reply direction's cause counts the same ("requests reach B; the replies fail: <cause>")
  const c = cause?.replace(/^requests reach \S+; the replies fail: /, '').replace(/^the replies cannot come back, whatever the requests meet: on \S+'s side, /, '');
  if (!c) return false;
  if (RULE_CAUSE.test(c)) return !/; probabilistic: /.test(c);
  return CONFIG_CAUSE.test(c) && !/INCOMPLETE|PROBE|DELAY/.test(c);
}

/** At most this many directed node pairs are diagnosed to settle silent cells early (each diagnosis is a few reads). */
export const SETTLE_PAIRS = 8;

/**
 * After the matrix's first round: the silent cells (expected reachable, not answering) whose directed node pair has a
 * configuration cause (isConfigCause, one diagnosis per node pair, shared with the later checks through diagnoseOnce)
 * — final, not worth a retry round. Node-level causes hold for every pod pair between the two nodes (a node's pods
 * share its subnet, route, neighbour and FDB entry, and the outer header). Empty when vxlab does not program the
 * nodes itself (builder: external) or when more than SETTLE_PAIRS node pairs are silent.
 */
export async function configSettled(ctx: CheckContext, pods: ResolvedPod[], silent: [number, number][], f: Family = famOf(pods[0]?.ip ?? '')): Promise<{ cells: Set<string>; causes: string[] }> {
  const none = { cells: new Set<string>(), causes: [] as string[] };
  if (ctx.t.builder === 'external' || !silent.length) return none;
  const groups = new Map<string, [number, number][]>();
  for (const [i, j] of silent) {
    const a = pods[i]!;
    const b = pods[j]!;
    if (a.node === b.node) continue;
    const k = `${a.node}>${b.node}`;
    (groups.get(k) ?? groups.set(k, []).get(k)!).push([i, j]);
  }
  if (!groups.size || groups.size > SETTLE_PAIRS) return none;
  const cells = new Set<string>();
  const causes: string[] = [];
  await pool([...groups.values()], 4, async (g) => {
    const [i, j] = g[0]!;
    const cause = await diagnoseOnce(ctx, pods[i]!, pods[j]!, f);
    if (!isConfigCause(cause)) return;
    causes.push(`${pods[i]!.node} -> ${pods[j]!.node}: ${cause}`);
    for (const [x, y] of g) cells.add(`${x},${y}`);
  });
  causes.sort();
  return { cells, causes };
}
