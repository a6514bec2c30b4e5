// Suite: mtu — device MTUs, the DF boundary across nodes, PMTU on narrow paths, outer fragmentation, bulk TCP.
import { fail, fromDiffs, pass, skip, type CheckDef, type SuiteDef } from '../harness/runner/check.ts';
import type { ResolvedNode, ResolvedPod, ResolvedTopology } from '../harness/topology/resolved.ts';
import { VXLAN_OVERHEAD_V4 } from '../harness/topology/normalize.ts';
import * as k from '../harness/probe/kernel.ts';
import { pingDf } from '../harness/probe/ping.ts';
import { tcpTransfer } from '../harness/probe/tcp.ts';
import { ipJson, pool } from '../harness/util/exec.ts';
import { startCapture, readPcap } from '../harness/capture/tcpdump.ts';
import { join } from 'node:path';

/** One representative pod pair per ordered node pair (first pods), bounded to keep big topologies quick. */
export function crossPairs(t: ResolvedTopology, limit = 12): [ResolvedPod, ResolvedPod][] {
  const out: [ResolvedPod, ResolvedPod][] = [];
  for (const a of t.nodes) for (const b of t.nodes) {
    if (a === b || !a.pods[0] || !b.pods[0] || a.vtep.vni !== b.vtep.vni) continue;
    out.push([a.pods[0], b.pods[0]]);
  }
  return out.slice(0, limit);
}

const node = (t: ResolvedTopology, name: string) => t.nodes.find((n) => n.name === name)!;

const vtepMtu: CheckDef = {
  id: 'mtu/vtep-mtu',
  title: 'VTEP MTU = underlay link MTU − 50 (IPv4 outer headers)',
  async run(ctx) {
    const diffs: string[] = [];
    const observed: Record<string, unknown> = {};
    const expected: Record<string, unknown> = {};
    await pool(ctx.t.nodes, 8, async (n) => {
      const ls = await k.links(n.ns);
      const u = ls.find((l) => l.ifname === n.underlayIf);
      const v = ls.find((l) => l.ifname === n.vtep.dev);
      expected[n.name] = { underlay: n.underlayMtu, vtep: n.vtep.mtu, limit: n.underlayMtu - VXLAN_OVERHEAD_V4 };
      observed[n.name] = { underlay: u?.mtu, vtep: v?.mtu };
      if (!u || !v) return void diffs.push(`${n.name}: ${!u ? n.underlayIf : n.vtep.dev} missing`);
      if (v.mtu !== n.vtep.mtu) diffs.push(`${n.name}: ${n.vtep.dev} MTU: expected ${n.vtep.mtu}, observed ${v.mtu}`);
      if (v.mtu > u.mtu - VXLAN_OVERHEAD_V4) diffs.push(`${n.name}: ${n.vtep.dev} MTU ${v.mtu} > underlay ${n.underlayIf} MTU ${u.mtu} − ${VXLAN_OVERHEAD_V4}: encapsulated frames will not fit`);
    });
    return fromDiffs(diffs.sort(), 'every VTEP MTU fits its underlay link', { expected, observed });
  },
};

const podMtu: CheckDef = {
  id: 'mtu/pod-mtu',
  title: "each pod's eth0 MTU is no larger than its node's overlay MTU",
  async run(ctx) {
    const diffs: string[] = [];
    const observed: Record<string, number | undefined> = {};
    await pool(ctx.t.nodes.flatMap((n) => n.pods), 8, async (p) => {
      const n = node(ctx.t, p.node);
      const l = await k.link(p.ns, p.ifname);
      observed[`${p.node}/${p.name}`] = l?.mtu;
      if (!l) return void diffs.push(`${p.node}/${p.name}: ${p.ifname} missing`);
      if (l.mtu !== p.mtu) diffs.push(`${p.node}/${p.name}: ${p.ifname} MTU: expected ${p.mtu}, observed ${l.mtu}`);
      if (l.mtu > n.vtep.mtu) diffs.push(`pod MTU ${l.mtu} > overlay MTU ${n.vtep.mtu} on ${n.name} (${p.node}/${p.name}): full-size packets cannot cross the overlay`);
    });
    diffs.sort();
    return fromDiffs(diffs, 'all pod MTUs fit the overlay', { expected: Object.fromEntries(ctx.t.nodes.map((n) => [n.name, `≤ ${n.vtep.mtu}`])), observed });
  },
};

const dfBoundary: CheckDef = {
  id: 'mtu/df-boundary',
  title: 'a DF ping of the largest fitting payload crosses nodes; one byte more fails fast (EMSGSIZE or frag-needed)',
  async run(ctx) {
    const pairs = crossPairs(ctx.t);
    if (!pairs.length) return skip('no cross-node pod pairs on a shared VNI');
    const diffs: string[] = [];
    const observed: string[] = [];
    await pool(pairs, 4, async ([a, b]) => {
      const na = node(ctx.t, a.node);
      const nb = node(ctx.t, b.node);
      // the largest IP packet that fits end to end: min over both pods and both overlays
      const pathMtu = Math.min(a.mtu, b.mtu, na.vtep.mtu, nb.vtep.mtu, ...pathUnderlayMtus(ctx.t, na, nb).map((m) => m - VXLAN_OVERHEAD_V4));
      const max = pathMtu - 28;
      const fits = await pingDf(a.ns, b.ip, max);
      let over = await pingDf(a.ns, b.ip, max + 1);
      // PMTU discovery may cost the first probe (the ICMP error updates the cache, the packet itself is gone): one retry
      let retried = false;
      if (over.outcome === 'timeout') {
        retried = true;
        over = await pingDf(a.ns, b.ip, max + 1);
      }
      const label = `${a.node}/${a.name} -> ${b.node}/${b.name}`;
      observed.push(`${label}: ${max} bytes ${fits.outcome}; ${max + 1} bytes ${over.outcome}${over.mtu ? ` (mtu ${over.mtu})` : ''} in ${over.ms} ms${retried ? ' (after one lost probe: PMTU discovery)' : ''}`);
      if (fits.outcome !== 'ok') diffs.push(`${label}: DF ping of ${max} bytes (path MTU ${pathMtu} − 28) should pass, observed ${fits.outcome}: ${fits.output}`);
      if (over.outcome === 'ok') diffs.push(`${label}: DF ping of ${max + 1} bytes should not fit, but it passed (a link on the path has a larger MTU than the topology says)`);
      else if (over.outcome === 'timeout' || over.outcome === 'error') diffs.push(`${label}: DF ping of ${max + 1} bytes failed silently (${over.outcome}, twice) instead of a local "message too long" or frag-needed error: an MTU black hole`);
    });
    observed.sort();
    return fromDiffs(diffs.sort(), `${pairs.length} node pairs: boundary exact, oversize fails fast`, { observed });
  },
};

/** MTUs of the links on the underlay path between two nodes: both segments and, across segments, the router's two links. */
export function pathUnderlayMtus(t: ResolvedTopology, a: ResolvedNode, b: ResolvedNode): number[] {
  const sa = t.segments.find((s) => s.name === a.segment)!;
  const sb = t.segments.find((s) => s.name === b.segment)!;
  const viaRouter = sa !== sb ? [sa.routerMtu ?? sa.mtu, sb.routerMtu ?? sb.mtu] : [];
  return [sa.mtu, sb.mtu, a.underlayMtu, b.underlayMtu, ...viaRouter];
}

/** Node pairs where the outer packet must cross a segment narrower than the sender's own link. */
function narrowPairs(t: ResolvedTopology): [ResolvedNode, ResolvedNode, number][] {
  const out: [ResolvedNode, ResolvedNode, number][] = [];
  for (const a of t.nodes) for (const b of t.nodes) {
    if (a === b || !a.pods[0] || !b.pods[0] || a.vtep.vni !== b.vtep.vni) continue;
    const narrow = Math.min(...pathUnderlayMtus(t, a, b));
    if (narrow < a.underlayMtu) out.push([a, b, narrow]);
  }
  return out;
}

const pmtu: CheckDef = {
  id: 'mtu/path-mtu',
  title: 'narrower link on the underlay path: no outer fragmentation (RFC 7348 §4.3); with DF set the node learns path MTU = narrow − 50 (pmtu.sh)',
  async run(ctx) {
    const pairs = narrowPairs(ctx.t);
    if (!pairs.length) return skip("no path crosses a link narrower than the sending node's own link");
    const [a, b, narrow] = pairs[0]!;
    const pa = a.pods[0]!;
    const pb = b.pods[0]!;
    const expectPmtu = narrow - VXLAN_OVERHEAD_V4;
    const cap = await startCapture({ ns: b.ns, iface: b.underlayIf, file: join(ctx.workDir, `mtu-${b.name}.pcap`), filter: ['ip', 'and', 'src', 'host', a.ip], snaplen: 128 });
    ctx.keep(cap.file);
    // 1. pod traffic of the largest size the sender's overlay admits
    const podSize = Math.min(pa.mtu, a.vtep.mtu) - 28;
    const podPing = await pingDf(pa.ns, pb.ip, podSize);
    // 2. as in pmtu.sh: locally originated DF traffic over the VTEP, then the exception on the overlay route
    const nodeSize = a.vtep.mtu - 28;
    const n1 = await pingDf(a.ns, b.vtep.ip, nodeSize, 1);
    const n2 = await pingDf(a.ns, b.vtep.ip, nodeSize, 1);
    await cap.stop();
    const pcap = await readPcap(cap.file);
    const frags = pcap.packets.filter((p) => p.ip4?.isFragment);
    const rg = await ipJson<any[]>(a.ns, ['route', 'get', b.vtep.ip]);
    const learned = Number(rg[0]?.metrics?.find?.((m: any) => m.mtu)?.mtu ?? rg[0]?.mtu ?? NaN);
    const observed = { df: a.vtep.df, vtepMtu: a.vtep.mtu, podPing: `${podSize} bytes ${podPing.outcome}`, nodePings: `${nodeSize} bytes ${n1.outcome}/${n2.outcome}`, routeGetMtu: Number.isNaN(learned) ? null : learned, outerFragments: frags.length };
    const expected = a.vtep.mtu <= expectPmtu ? { outerFragments: 0, overlayFits: `VTEP MTU ${a.vtep.mtu} ≤ ${expectPmtu}` } : a.vtep.df === 'unset' ? { outerFragments: 0 } : { outerFragments: 0, routeGetMtu: expectPmtu };
    if (frags.length) {
      return fail(`outer VXLAN packets from ${a.name} to ${b.name} were fragmented on the underlay: ${frags.length} IPv4 fragments after a ${narrow}-byte link (RFC 7348 §4.3: VXLAN packets must not be fragmented). Overlay MTU ${a.vtep.mtu} exceeds the path's ${expectPmtu}; lower it or set df: set.`, { expected, observed });
    }
    if (a.vtep.mtu <= expectPmtu) {
      if (podPing.outcome !== 'ok') return fail(`overlay MTU ${a.vtep.mtu} fits the ${narrow}-byte link, yet a ${podSize}-byte DF ping ${pa.node}/${pa.name} -> ${pb.ip} ${podPing.outcome}`, { expected, observed });
      return pass(`overlay MTU ${a.vtep.mtu} fits the narrowest link (${narrow} − ${VXLAN_OVERHEAD_V4}); no outer fragments`, { expected, observed });
    }
    if (a.vtep.df === 'unset') {
      return fail(`DF unset, overlay MTU ${a.vtep.mtu} > path ${expectPmtu}, and no outer fragments reached ${b.name}: oversize packets vanish on the path (pod ping ${podPing.outcome})`, { expected, observed });
    }
    if (learned !== expectPmtu) {
      return fail(`${a.name} -> ${b.vtep.ip} via ${a.vtep.dev}: expected a path MTU exception of ${expectPmtu} (${narrow} − ${VXLAN_OVERHEAD_V4}), observed ${Number.isNaN(learned) ? 'none' : learned}`, { expected, observed });
    }
    return pass(`${a.name} learned path MTU ${expectPmtu} towards ${b.name} (${narrow}-byte link), no outer fragments`, { expected, observed });
  },
};

const tcpBulk: CheckDef = {
  id: 'mtu/tcp-transfer',
  title: 'a 1 MiB TCP transfer between pods on different nodes arrives with the exact byte count',
  async run(ctx) {
    const pair = crossPairs(ctx.t, 1)[0];
    if (!pair) return skip('no cross-node pod pair on a shared VNI');
    const [a, b] = pair;
    const bytes = 1 << 20;
    const r = await tcpTransfer(a.ns, b.ns, b.ip, bytes, 8000);
    const observed = { connected: r.connected, sent: r.sent, received: r.received, ms: r.ms, error: r.error };
    if (r.received !== bytes) {
      const why = r.connected
        ? 'the connection came up (small packets pass) but the transfer stalled: the signature of an MTU black hole'
        : 'the connection never came up: even small packets do not get through';
      return fail(`${a.node}/${a.name} -> ${b.node}/${b.name}: expected ${bytes} bytes, received ${r.received}${r.error ? ` (${r.error})` : ''} — ${why}`, { expected: { received: bytes }, observed });
    }
    return pass(`${bytes} bytes in ${r.ms} ms`, { expected: { received: bytes }, observed });
  },
};

export const mtuSuite: SuiteDef = {
  name: 'mtu',
  title: 'MTU handling',
  checks: [vtepMtu, podMtu, dfBoundary, pmtu, tcpBulk],
};
