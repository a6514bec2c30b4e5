// Why a pod cannot reach another: the first place along the path where the packet goes wrong that vxlab can tell.
//
// Order follows the packet: the source pod's routing decision (ENETUNREACH), the source node's route / neighbour /
// FDB entry for the peer, then the wire — left the source node's underlay link? arrived at the receiver's? with the
// port and VNI the receiving VTEP expects? counted by a drop rule? — and, if the request side is clean, the reply path.
// Evidence already gathered by the run (the encapsulation capture) is used first; otherwise one short capture on both
// underlay links around two pings (filtered to the pair's outer addresses, so concurrent traffic cannot be mistaken
// for it) decides. Every probe here is bounded and cheap; this runs only for pairs already found unreachable.
import { join } from 'node:path';
import { routesDirect, type ResolvedNode, type ResolvedPod, type ResolvedTopology } from '../topology/resolved.ts';
import { sysctls } from '../probe/kernel.ts';
import type { CheckContext, Outcome } from '../runner/check.ts';
import { evidence, knownReach, podName, runMemo, type CapturedAt } from '../runner/evidence.ts';
import { readPcap, startCapture } from '../capture/tcpdump.ts';
import type { DecodedPacket } from '../capture/pcap.ts';
import { bridgeJson, ipJson, pool, run } from '../util/exec.ts';
import { probedCells, type MatrixLike } from './matrix.ts';

const nodeOf = (t: ResolvedTopology, p: ResolvedPod) => t.nodes.find((n) => n.name === p.node)!;

/** `ip -j route get DST` in ns: the route, or the kernel's error text (e.g. "Network is unreachable"). */
async function routeGet(ns: string, dst: string): Promise<{ route?: any; error?: string }> {
  const r = await run(['ip', '-j', 'route', 'get', dst], { ns, reject: false });
  if (r.exitCode !== 0) return { error: (r.stderr || r.stdout).trim().replace(/^RTNETLINK answers: /, '') };
  try {
    return { route: JSON.parse(r.stdout)[0] };
  } catch {
    return { error: r.stdout.trim() };
  }
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
    out.push(`${rule.family} ${rule.table}/${rule.chain}: ${describeRule(exprs)} (${counter.packets} packets)`);
  }
  return out;
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

/** The node-side causes: route, neighbour, FDB entry on the source node for the destination pod. */
async function nodeCause(t: ResolvedTopology, a: ResolvedPod, b: ResolvedPod): Promise<string | undefined> {
  const na = nodeOf(t, a);
  const nb = nodeOf(t, b);
  const rg = await routeGet(na.ns, b.ip);
  // routing modes: a peer on the node's own subnet is routed plainly via its node IP on eth0, with no VXLAN entries
  if (routesDirect(na, nb)) {
    const want = `${nb.podSubnet} via ${nb.ip} dev ${na.underlayIf}`;
    if (rg.error) return `no route on ${na.name} to ${b.ip} (${rg.error}): missing the direct route ${want}`;
    if (rg.route.dev !== na.underlayIf || rg.route.gateway !== nb.ip) return `wrong route on ${na.name} for ${nb.name}'s pod subnet ${nb.podSubnet}: ${b.ip} goes ${routeText(rg.route)} (expected the direct route ${want}: same subnet, routing mode)`;
    return undefined;
  }
  if (rg.error) return `no route on ${na.name} to ${b.ip} (${rg.error}): missing route ${nb.podSubnet} via ${nb.vtep.ip} dev ${na.vtep.dev}`;
  if (rg.route.dev !== na.vtep.dev) return `no route on ${na.name} for ${nb.name}'s pod subnet ${nb.podSubnet}: ${b.ip} goes ${routeText(rg.route)}, not through ${na.vtep.dev} (missing route ${nb.podSubnet} via ${nb.vtep.ip} dev ${na.vtep.dev})`;
  const gw = rg.route.gateway ?? b.ip;
  const neigh = (await ipJson<any[]>(na.ns, ['neigh', 'show', gw, 'dev', na.vtep.dev]).catch(() => [] as any[]))[0];
  if (!neigh || !neigh.lladdr) return `no neighbour entry on ${na.name} for ${gw} dev ${na.vtep.dev}${neigh?.state ? ` (state ${neigh.state.join(',')})` : ''}: expected lladdr ${nb.vtep.mac} (${nb.name}'s VTEP)`;
  if (neigh.lladdr.toLowerCase() !== nb.vtep.mac.toLowerCase()) return `stale neighbour entry on ${na.name}: ${gw} dev ${na.vtep.dev} lladdr ${neigh.lladdr}, but ${nb.name}'s VTEP MAC is ${nb.vtep.mac}`;
  if (na.vtep.kind !== 'kernel') return undefined;
  const fdb = await bridgeJson<any[]>(na.ns, ['fdb', 'show', 'dev', na.vtep.dev]).catch(() => [] as any[]);
  const e = fdb.filter((f) => f.mac?.toLowerCase() === neigh.lladdr.toLowerCase() && f.dst);
  if (!e.length) return `no FDB entry on ${na.name} for ${neigh.lladdr} dev ${na.vtep.dev}: expected dst ${nb.ip} (${nb.name})`;
  if (!e.some((f) => f.dst === nb.ip)) return `wrong FDB entry on ${na.name}: ${neigh.lladdr} dev ${na.vtep.dev} dst ${e.map((f) => f.dst).join(', ')}, expected dst ${nb.ip} (${nb.name})`;
  return undefined;
}

/**
 * Reverse-path filtering on the receiver: A's pod packets arrive on B over the interface A sends them to (eth0 when A
 * routes B directly, B's VTEP otherwise); strict rp_filter (1, the max of all and the interface) drops them when B's
 * own route back to A's pod is another interface — asymmetric routing.
 */
async function reversePathCause(t: ResolvedTopology, a: ResolvedPod, b: ResolvedPod): Promise<string | undefined> {
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
  const ab = xs.filter((s) => s.pkt.ip4?.src === na.ip && s.pkt.ip4?.dst === nb.ip && s.pkt.ip4.protocol === 17);
  return { left: ab.filter((s) => s.at.name === na.name).map((s) => s.pkt), arrived: ab.filter((s) => s.at.name === nb.name).map((s) => s.pkt) };
}

/** One short capture on both underlay links while the source pod sends two pings; filtered to the pair's outer addresses. */
async function captureOnce(ctx: CheckContext, a: ResolvedPod, b: ResolvedPod): Promise<CapturedAt[]> {
  const na = nodeOf(ctx.t, a);
  const nb = nodeOf(ctx.t, b);
  const filter = ['udp', 'and', 'src', 'host', na.ip, 'and', 'dst', 'host', nb.ip];
  const tag = `${na.name}-${nb.name}-${Date.now() % 100000}`;
  const caps = await Promise.all([na, nb].map((n) => startCapture({ ns: n.ns, iface: n.underlayIf, file: join(ctx.workDir, `diag-${tag}-at-${n.name}.pcap`), filter, snaplen: 256 })));
  try {
    await run(['ping', '-n', '-q', '-c', '2', '-i', '0.2', '-W', '1', b.ip], { ns: a.ns, reject: false, timeoutMs: 5000 });
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

/** The wire-side cause for A -> B, from the run's captures or one short capture of its own. */
async function wireCause(ctx: CheckContext, a: ResolvedPod, b: ResolvedPod): Promise<{ cause?: string; clean: boolean }> {
  const t = ctx.t;
  const na = nodeOf(t, a);
  const nb = nodeOf(t, b);
  const ev = evidence(t);
  let xs = ev.drove.has(`${na.name}>${nb.name}`) ? ev.captured : [];
  let source = 'the encapsulation capture';
  if (!xs.length) {
    xs = await captureOnce(ctx, a, b);
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
  if (dmac && dmac.toLowerCase() !== nb.vtep.mac.toLowerCase()) return { clean: false, cause: `arrived at ${nb.name} with inner destination MAC ${dmac}, but ${nb.name}'s VTEP MAC is ${nb.vtep.mac}: ${nb.name} discards the frame (stale neighbour/FDB on ${na.name})` };
  return { clean: true };
}

/**
 * The cause of A -> B being unreachable, in one sentence naming node, peer and value; undefined if vxlab cannot tell.
 * `reverse` = this is the reply direction of an earlier diagnosis (no further recursion).
 */
export async function diagnosePair(ctx: CheckContext, a: ResolvedPod, b: ResolvedPod, reverse = false): Promise<string | undefined> {
  const t = ctx.t;
  // 1. the pod's own routing decision
  const pr = await routeGet(a.ns, b.ip);
  if (pr.error) {
    const have = await ipJson<any[]>(a.ns, ['route', 'show']).catch(() => [] as any[]);
    return `no route in pod ${podName(a)} to ${b.ip} (${/unreachable/i.test(pr.error) ? 'ENETUNREACH' : pr.error}): missing route ${t.overlay.podCidr} or default via ${a.gateway}; the pod has ${have.length ? have.map(routeText).join(', ') : 'no routes'}`;
  }
  if (a.node === b.node) return undefined;
  // 2. the source node's forwarding state
  const nc = await nodeCause(t, a, b);
  if (nc) return nc;
  // the receiver's reverse-path filter against an asymmetric route back
  const rp = await reversePathCause(t, a, b);
  if (rp) return rp;
  // 3. the wire (VXLAN pairs: a direct-routed pair has no outer packets to find)
  const w = routesDirect(nodeOf(t, a), nodeOf(t, b)) ? { cause: undefined } : await wireCause(ctx, a, b);
  if (w.cause) return w.cause;
  if (reverse) return undefined;
  // 4. requests cross cleanly: the reply path
  const back = await diagnosePair(ctx, b, a, true);
  return back ? `requests reach ${b.node}; the replies fail: ${back}` : undefined;
}

/** Append the cause of each wrong reachable cell (one per directed node pair, at most 4) to a failing matrix outcome. */
export async function diagnoseWrong(ctx: CheckContext, m: MatrixLike, out: Outcome): Promise<Outcome> {
  if (out.status !== 'fail') return out;
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
  const causes = (await pool(pairs, 4, ([a, b]) => diagnoseOnce(ctx, a, b))).map((c, i) => (c ? `${podName(pairs[i]![0])} -> ${podName(pairs[i]![1])}: ${c}` : undefined)).filter((c): c is string => !!c);
  if (!causes.length) return out;
  // diffs stay one line per wrong cell; the causes (one per directed node pair) go to the details, the first to the message
  return { ...out, message: `${out.message}; cause: ${causes[0]}`, details: `${out.details ? `${out.details}\n\n` : ''}cause per directed node pair:\n${causes.map((c) => `  ${c}`).join('\n')}` };
}

/** diagnosePair once per run and directed pair: the matrix, df-boundary and tcp-transfer share one diagnosis. */
export function diagnoseOnce(ctx: CheckContext, a: ResolvedPod, b: ResolvedPod): Promise<string | undefined> {
  return runMemo(ctx.t, `diagnose/${a.ip}>${b.ip}`, () => diagnosePair(ctx, a, b).catch((e) => `(diagnosis failed: ${String(e?.message ?? e).split('\n')[0]})`));
}

/**
 * For a check that needs A -> B to carry small packets first (a DF boundary, a TCP transfer): undefined if the run's
 * evidence says it does (or says nothing), else why not — the earlier evidence by name, and the diagnosed cause.
 */
export async function unreachableEvidence(ctx: CheckContext, a: ResolvedPod, b: ResolvedPod): Promise<string | undefined> {
  const f = knownReach(ctx.t, a, b);
  if (!f || f.reachable || !f.settled) return undefined;
  const cause = await diagnoseOnce(ctx, a, b);
  return `${podName(a)} -> ${podName(b)} (${b.ip}) does not answer even small pings (${f.source})${cause ? `; cause: ${cause}` : ''}`;
}

/**
 * Causes that are configuration, not loss: kernel state vxlab reads (a route, neighbour or FDB entry missing or
 * wrong on the sending node) or a rejection the capture saw (the receiving VTEP listens on another port or VNI).
 * Another probe round cannot change a cell behind one of these — unless something is still programming the nodes
 * (builder: external, whose control plane converges after up) or a neighbour is still being resolved. Loss on the
 * underlay ("dropped on the underlay"), drop rules, reverse-path filtering and causes vxlab cannot name are not in
 * this list: cells behind them get their retry rounds.
 */
const CONFIG_CAUSE = /^(no route on |wrong route on |no neighbour entry on |stale neighbour entry on |no FDB entry on |wrong FDB entry on |rejected by \S+'s VTEP: )/;

export function isConfigCause(cause: string | undefined): boolean {
  // the reply direction's cause counts the same ("requests reach B; the replies fail: <cause>")
  const c = cause?.replace(/^requests reach \S+; the replies fail: /, '');
  return !!c && CONFIG_CAUSE.test(c) && !/INCOMPLETE|PROBE|DELAY/.test(c);
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
export async function configSettled(ctx: CheckContext, pods: ResolvedPod[], silent: [number, number][]): Promise<{ cells: Set<string>; causes: string[] }> {
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
    const cause = await diagnoseOnce(ctx, pods[i]!, pods[j]!);
    if (!isConfigCause(cause)) return;
    causes.push(`${pods[i]!.node} -> ${pods[j]!.node}: ${cause}`);
    for (const [x, y] of g) cells.add(`${x},${y}`);
  });
  causes.sort();
  return { cells, causes };
}
