// Suite: encapsulation — what crosses the underlay, captured with tcpdump and decoded by vxlab's own pcap decoder.
import { join } from 'node:path';
import { fail, fromDiffs, pass, skip, type CheckContext, type CheckDef, type SuiteDef } from '../harness/runner/check.ts';
import type { ResolvedNode, ResolvedPod, ResolvedTopology } from '../harness/topology/resolved.ts';
import { contains, ipToInt, parseCidr } from '../harness/topology/ip.ts';
import { startCapture, readPcap } from '../harness/capture/tcpdump.ts';
import { summarize, type DecodedPacket } from '../harness/capture/pcap.ts';
import { run, pool } from '../harness/util/exec.ts';

export interface Flow {
  src: ResolvedPod;
  dst: ResolvedPod;
  /** same node: must never be encapsulated */
  local: boolean;
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
}

const MAX_NODES = 4;

/** The flows the suite drives: between the first MAX_NODES nodes, every ordered pair, from up to two source pods; plus one same-node flow per node. */
export function flows(t: ResolvedTopology): Flow[] {
  const nodes = t.nodes.slice(0, MAX_NODES);
  const out: Flow[] = [];
  for (const a of nodes) {
    for (const b of nodes) {
      if (a === b || !b.pods[0]) continue;
      for (const p of a.pods.slice(0, 2)) out.push({ src: p, dst: b.pods[0], local: false });
    }
    if (a.pods.length >= 2) out.push({ src: a.pods[0]!, dst: a.pods[1]!, local: true });
  }
  return out;
}

async function capture(ctx: CheckContext, fl: Flow[], attempt: number): Promise<Seen[]> {
  const t = ctx.t;
  const nodes = t.nodes.slice(0, MAX_NODES);
  ctx.progress(`encapsulation: capturing on ${nodes.length} underlay links${attempt > 1 ? ` (attempt ${attempt})` : ''}`);
  const caps = await Promise.all(nodes.map((n) => startCapture({ ns: n.ns, iface: n.underlayIf, file: join(ctx.workDir, `encap-${n.name}-${attempt}.pcap`), snaplen: 256 })));
  try {
    // traffic starts only once every tcpdump reported "listening on"
    await pool(fl, 6, (f) => run(['ping', '-n', '-c', '2', '-i', '0.05', '-W', '1', f.dst.ip], { ns: f.src.ns, reject: false, timeoutMs: 5000 }));
  } finally {
    await Promise.all(caps.map((c) => c.stop()));
  }
  const ports = [...new Set([4789, 8472, ...t.nodes.map((n) => n.vtep.port)])];
  const packets: Seen[] = [];
  for (const [i, c] of caps.entries()) {
    ctx.keep(c.file);
    const f = await readPcap(c.file, { vxlanPorts: ports });
    for (const pkt of f.packets) packets.push({ at: nodes[i]!, pkt });
  }
  return packets;
}

async function observe(ctx: CheckContext): Promise<Observation> {
  return ctx.memo('encapsulation/observation', async () => {
    const t = ctx.t;
    const nodes = t.nodes.slice(0, MAX_NODES);
    const fl = flows(t);
    let packets = await capture(ctx, fl, 1);
    // a capture that saw no cross-node UDP at all (a starved tcpdump on a loaded machine) is taken once more
    if (fl.some((f) => !f.local) && !packets.some((s) => s.pkt.udp && byIp(t, s.pkt.ip4?.src))) packets = await capture(ctx, fl, 2);
    const portRanges = new Map<string, [number, number]>();
    await pool(nodes, 4, async (n) => {
      if (n.vtep.kind === 'userspace') return void portRanges.set(n.name, [49152, 65535]);
      const r = await run(['sysctl', '-n', 'net.ipv4.ip_local_port_range'], { ns: n.ns });
      const [lo, hi] = r.stdout.trim().split(/\s+/).map(Number);
      portRanges.set(n.name, [lo!, hi!]);
    });
    return { flows: fl, packets, portRanges };
  });
}

const byIp = (t: ResolvedTopology, ip: string | undefined) => t.nodes.find((n) => n.ip === ip);
const podByIp = (t: ResolvedTopology, ip: string | undefined) => t.nodes.flatMap((n) => n.pods).find((p) => p.ip === ip);

/** Outer packets that carry pod traffic: UDP between two node IPs whose payload decodes to an inner pod-to-pod IPv4 packet, captured at the receiver. */
function tunnelPackets(t: ResolvedTopology, o: Observation): { s: Seen; from: ResolvedNode; to: ResolvedNode; inner: DecodedPacket }[] {
  const out = [];
  for (const s of o.packets) {
    const { ip4, udp, vxlan } = s.pkt;
    if (!ip4 || !udp || !vxlan?.inner?.ip4) continue;
    const from = byIp(t, ip4.src);
    const to = byIp(t, ip4.dst);
    if (!from || !to || to !== s.at) continue;
    if (!podByIp(t, vxlan.inner.ip4.src) || !podByIp(t, vxlan.inner.ip4.dst)) continue;
    out.push({ s, from, to, inner: vxlan.inner });
  }
  return out;
}

/** Every packet arriving at a node from another node's IP that is not a well-formed VXLAN packet of pod traffic. */
function crossNodeUdp(t: ResolvedTopology, o: Observation) {
  return o.packets.filter((s) => s.pkt.ip4 && byIp(t, s.pkt.ip4.src) && s.pkt.ip4.dst === s.at.ip && s.pkt.ip4.protocol === 17 && !s.pkt.ip4.isFragment);
}

function noTraffic(o: Observation, t: ResolvedTopology) {
  return tunnelPackets(t, o).length === 0;
}

const dstPort: CheckDef = {
  id: 'encapsulation/udp-dst-port',
  title: "every cross-node pod packet crosses the underlay as UDP to the receiving node's configured port",
  async run(ctx) {
    const o = await observe(ctx);
    const cross = crossNodeUdp(ctx.t, o);
    const diffs: string[] = [];
    let n = 0;
    for (const s of cross) {
      n++;
      const want = s.at.vtep.port;
      if (s.pkt.udp!.dstPort !== want) diffs.push(`${byIp(ctx.t, s.pkt.ip4!.src)!.name} -> ${s.at.name}: expected UDP dst port ${want}, observed ${s.pkt.udp!.dstPort} (${summarize(s.pkt)})`);
    }
    // pod traffic that crossed as something else than UDP
    for (const s of o.packets) {
      const ip = s.pkt.ip4;
      if (!ip || ip.protocol === 17 || !byIp(ctx.t, ip.src) || ip.dst !== s.at.ip) continue;
      if (s.pkt.icmp?.quoted) continue; // ICMP errors between nodes are underlay control traffic
      if (ip.protocol !== 1) diffs.push(`${s.at.name}: non-UDP packet from a node: ${summarize(s.pkt)}`);
    }
    if (!n) return fail('no UDP packets between nodes were captured while pods pinged across nodes', { expected: 'VXLAN packets on every cross-node flow', observed: `${o.packets.length} packets, none UDP between nodes` });
    return fromDiffs(dedupe(diffs), `${n} underlay UDP packets, all to the configured port`, { expected: Object.fromEntries(ctx.t.nodes.slice(0, MAX_NODES).map((x) => [x.name, x.vtep.port])), observed: portsSeen(cross) });
  },
};

function dedupe(xs: string[]): string[] {
  const m = new Map<string, number>();
  for (const x of xs) {
    const key = x.replace(/\(.*\)$/, '').trim();
    m.set(key, (m.get(key) ?? 0) + 1);
  }
  return [...m].map(([k, c]) => (c > 1 ? `${k} (×${c})` : k));
}

function portsSeen(xs: Seen[]): Record<string, number[]> {
  const out: Record<string, Set<number>> = {};
  for (const s of xs) (out[s.at.name] ??= new Set()).add(s.pkt.udp!.dstPort);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...v]]));
}

type Tunnel = ReturnType<typeof tunnelPackets>[number];

/** A check over every captured tunnel packet: each packet yields its differences; no tunnel traffic at all is a failure. */
function perTunnelPacket(id: string, title: string, diffsOf: (p: Tunnel, t: ResolvedTopology) => string[], ok: (n: number) => string, expected?: (t: ResolvedTopology) => unknown): CheckDef {
  return {
    id,
    title,
    async run(ctx) {
      const tp = tunnelPackets(ctx.t, await observe(ctx));
      if (!tp.length) return fail('no VXLAN-encapsulated pod traffic was captured');
      return fromDiffs(dedupe(tp.flatMap((p) => diffsOf(p, ctx.t))), ok(tp.length), { expected: expected?.(ctx.t) });
    },
  };
}

const header = perTunnelPacket(
  'encapsulation/vxlan-header',
  'VXLAN I flag set, reserved fields zero (RFC 7348 §5)',
  ({ s, from, to }) => {
    const v = s.pkt.vxlan!;
    const d: string[] = [];
    if (!v.iFlag) d.push(`${from.name} -> ${to.name}: I flag clear (flags 0x${v.flags.toString(16)})`);
    if (v.flags & ~0x08) d.push(`${from.name} -> ${to.name}: reserved flag bits set (flags 0x${v.flags.toString(16)})`);
    if (v.reserved1 || v.reserved2) d.push(`${from.name} -> ${to.name}: reserved fields not zero (0x${v.reserved1.toString(16)}, 0x${v.reserved2.toString(16)})`);
    return d;
  },
  (n) => `${n} VXLAN headers well-formed`,
  () => ({ flags: '0x08', reserved: 0 }),
);

const vni = perTunnelPacket(
  'encapsulation/vni',
  'the VNI on the wire is the configured one',
  ({ s, from, to }) => {
    const v = s.pkt.vxlan!.vni;
    const d: string[] = [];
    if (v !== from.vtep.vni) d.push(`${from.name} -> ${to.name}: expected VNI ${from.vtep.vni}, observed ${v}`);
    if (v !== to.vtep.vni) d.push(`${from.name} -> ${to.name}: VNI ${v} on the wire, but the receiver is configured for VNI ${to.vtep.vni}`);
    return d;
  },
  (n) => `${n} packets with the configured VNI`,
  (t) => Object.fromEntries(t.nodes.map((n) => [n.name, n.vtep.vni])),
);

const outer: CheckDef = {
  id: 'encapsulation/outer-addresses',
  title: 'outer source and destination are the underlay IPs of exactly the sending and receiving nodes',
  async run(ctx) {
    const o = await observe(ctx);
    const diffs: string[] = [];
    let n = 0;
    for (const s of o.packets) {
      const inner = s.pkt.vxlan?.inner?.ip4;
      if (!s.pkt.ip4 || !inner) continue;
      const sp = podByIp(ctx.t, inner.src);
      const dp = podByIp(ctx.t, inner.dst);
      if (!sp || !dp) continue;
      n++;
      const sn = ctx.t.nodes.find((x) => x.name === sp.node)!;
      const dn = ctx.t.nodes.find((x) => x.name === dp.node)!;
      if (s.pkt.ip4.src !== sn.ip || s.pkt.ip4.dst !== dn.ip) diffs.push(`inner ${inner.src} -> ${inner.dst}: expected outer ${sn.ip} -> ${dn.ip}, observed ${s.pkt.ip4.src} -> ${s.pkt.ip4.dst}`);
    }
    if (!n) return fail('no VXLAN-encapsulated pod traffic was captured');
    return fromDiffs(dedupe(diffs), `${n} packets with the right outer addresses`);
  },
};

const innerAddrs = perTunnelPacket(
  'encapsulation/inner-addresses',
  'inner IPs are pod IPs and inner MACs are the VTEP MACs of the topology',
  ({ from, to, inner }, t) => {
    const sp = podByIp(t, inner.ip4!.src)!;
    const dp = podByIp(t, inner.ip4!.dst)!;
    const d: string[] = [];
    if (sp.node !== from.name) d.push(`outer from ${from.name} carries inner source ${sp.ip} of ${sp.node}/${sp.name}`);
    if (dp.node !== to.name) d.push(`outer to ${to.name} carries inner destination ${dp.ip} of ${dp.node}/${dp.name}`);
    if (inner.eth?.src !== from.vtep.mac) d.push(`${from.name} -> ${to.name}: inner source MAC: expected ${from.vtep.mac} (VTEP of ${from.name}), observed ${inner.eth?.src}`);
    if (inner.eth?.dst !== to.vtep.mac) d.push(`${from.name} -> ${to.name}: inner destination MAC: expected ${to.vtep.mac} (VTEP of ${to.name}), observed ${inner.eth?.dst}`);
    return d;
  },
  (n) => `${n} inner frames addressed VTEP to VTEP, pod to pod`,
);

const noPlain: CheckDef = {
  id: 'encapsulation/no-plain-pod-traffic',
  title: 'no pod-CIDR packet ever appears on the underlay unencapsulated',
  async run(ctx) {
    const o = await observe(ctx);
    const pc = parseCidr(ctx.t.overlay.podCidr);
    const bad = o.packets.filter((s) => {
      const ip = s.pkt.ip4;
      if (!ip) return false;
      if (s.pkt.icmp?.quoted) return false;
      return contains(pc, ipToInt(ip.src)) || contains(pc, ipToInt(ip.dst));
    });
    if (bad.length) return fail(`${bad.length} unencapsulated pod-CIDR packets on the underlay, e.g. at ${bad[0]!.at.name}: ${summarize(bad[0]!.pkt)}`, { diffs: bad.slice(0, 10).map((s) => `${s.at.name}: ${summarize(s.pkt)}`) });
    if (noTraffic(o, ctx.t)) return fail('no VXLAN-encapsulated pod traffic was captured either: nothing crossed the underlay');
    return pass(`${o.packets.length} underlay packets inspected, none plain pod traffic`);
  },
};

const sameNode: CheckDef = {
  id: 'encapsulation/same-node-local',
  title: 'same-node pod traffic is never encapsulated',
  async run(ctx) {
    const o = await observe(ctx);
    const local = o.flows.filter((f) => f.local);
    if (!local.length) return skip('no node has two pods');
    const pairs = new Set(local.map((f) => `${f.src.ip}>${f.dst.ip}`));
    const leaked = o.packets.filter((s) => {
      const i = s.pkt.vxlan?.inner?.ip4;
      return i && (pairs.has(`${i.src}>${i.dst}`) || pairs.has(`${i.dst}>${i.src}`));
    });
    if (leaked.length) return fail(`${leaked.length} same-node packets were encapsulated: ${summarize(leaked[0]!.pkt)}`, { expected: 0, observed: leaked.length });
    return pass(`${local.length} same-node flows stayed on the node`);
  },
};

const entropy: CheckDef = {
  id: 'encapsulation/src-port-entropy',
  title: 'outer UDP source port in the ephemeral range, and different for distinct inner flows (RFC 7348 §5)',
  async run(ctx) {
    const o = await observe(ctx);
    const tp = tunnelPackets(ctx.t, o);
    if (!tp.length) return fail('no VXLAN-encapsulated pod traffic was captured');
    const diffs: string[] = [];
    const perSender = new Map<string, Map<string, Set<number>>>();
    for (const { s, from, inner } of tp) {
      const [lo, hi] = o.portRanges.get(from.name) ?? [49152, 65535];
      const sp = s.pkt.udp!.srcPort;
      if (sp < lo || sp > hi) diffs.push(`${from.name}: outer source port ${sp} outside the ephemeral range ${lo}–${hi}`);
      // a flow as the sender's hash sees it: addresses, plus ports for TCP/UDP (ICMP ids are not part of the kernel's flow hash)
      const l4 = inner.udp ?? inner.tcp;
      const flow = `${inner.ip4!.src}>${inner.ip4!.dst}${l4 ? `/${inner.ip4!.protocol}:${l4.srcPort}>${l4.dstPort}` : ''}`;
      const m = perSender.get(from.name) ?? new Map<string, Set<number>>();
      (m.get(flow) ?? m.set(flow, new Set()).get(flow)!).add(sp);
      perSender.set(from.name, m);
    }
    const observed: Record<string, Record<string, number[]>> = {};
    let judged = 0;
    for (const [node, m] of perSender) {
      observed[node] = Object.fromEntries([...m].map(([k, v]) => [k, [...v]]));
      if (m.size < 2) continue;
      judged++;
      const all = new Set([...m.values()].flatMap((v) => [...v]));
      if (all.size < 2) diffs.push(`${node}: ${m.size} distinct inner flows all used outer source port ${[...all][0]}: no entropy for underlay ECMP`);
    }
    if (!judged) return skip('no sender carried two distinct inner flows');
    return fromDiffs(dedupe(diffs), `${judged} senders spread distinct inner flows over distinct source ports`, { observed });
  },
};

export const encapsulationSuite: SuiteDef = {
  name: 'encapsulation',
  title: 'encapsulation on the wire',
  checks: [dstPort, header, vni, outer, innerAddrs, noPlain, sameNode, entropy],
};
