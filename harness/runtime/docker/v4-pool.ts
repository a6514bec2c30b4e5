// The IPv4 subnet vxlab gives an IPv6 segment's Docker network (docker and kind runtimes). A module of its own, with
// no import of the planner: runtime/docker/index.ts and the planner import each other through the runtime registry.
import type Dockerode from 'dockerode';
import type { ResolvedSegment, ResolvedTopology } from '../../topology/resolved.ts';
import { intToIp, overlaps, parseCidr, type Cidr4 } from '../../topology/ip.ts';

/**
 * The IPv4 subnet of an IPv6 segment's Docker network. Docker 20.10 cannot make a network without IPv4; left to itself
 * it takes the next of its default pools (172.17–31.0.0/16, then 192.168.0.0/16 in /20s), rotating through them with
 * every network made, and so sooner or later lands on a range another run's (or the user's) IPv4 segment asks for by
 * name: that create then fails with "Pool overlaps with other one on this address space" (seen in `npm test`: an
 * IPv6 run held 192.168.32.0/20 while another created 192.168.41.0/24). vxlab names the subnet itself, a /24 of
 * 198.18.0.0/15 (RFC 2544's space for benchmark networks, which no default pool touches): the slot derived from the
 * run and segment first, else the next free one (createSegmentNetwork).
 */
export const V6_NETWORK_V4_POOL = '198.18.0.0/15';
const V4_SLOTS = 512;
/** the /24 of V6_NETWORK_V4_POOL that a run's IPv6 segment tries first (FNV-1a of run id and segment name) */
export function v4SlotFor(runId: string, segment: string): number {
  let h = 0x811c9dc5;
  for (const ch of `${runId}/${segment}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h % V4_SLOTS;
}
export function v4SubnetOfSlot(slot: number): string {
  const base = parseCidr(V6_NETWORK_V4_POOL).net;
  return `${intToIp(base + (slot % V4_SLOTS) * 256)}/24`;
}
/** The first slot from `from` whose /24 overlaps none of `used` (IPv4 subnets of the host's Docker networks). */
export function freeV4Slot(from: number, used: string[]): number | undefined {
  const taken: Cidr4[] = [];
  for (const u of used) {
    try {
      taken.push(parseCidr(u, false));
    } catch {
      // an IPv6 subnet, or text Docker may print that is not a CIDR: not an IPv4 range to avoid
    }
  }
  for (let i = 0; i < V4_SLOTS; i++) {
    const slot = (from + i) % V4_SLOTS;
    const c = parseCidr(v4SubnetOfSlot(slot));
    if (!taken.some((x) => overlaps(x, c))) return slot;
  }
  return undefined;
}

/**
 * Create a segment's Docker network. An IPv6 segment's network gets its IPv4 subnet from V6_NETWORK_V4_POOL: the first
 * /24 from the run's slot that no Docker network on the host uses; if a concurrent create takes it meanwhile
 * ("Pool overlaps"), the next free one (at most 8 tries).
 */
export async function createSegmentNetwork(d: Dockerode, t: ResolvedTopology, s: ResolvedSegment, spec: Dockerode.NetworkCreateOptions): Promise<void> {
  if (s.family !== 6) {
    await d.createNetwork(spec);
    return;
  }
  let from = v4SlotFor(t.runId, s.name);
  for (let attempt = 1; ; attempt++) {
    const used = (await d.listNetworks()).flatMap((n) => (n.IPAM?.Config ?? []).map((c) => c.Subnet ?? ''));
    const slot = freeV4Slot(from, used);
    if (slot === undefined) throw new Error(`segment ${s.name}: no free /24 left in ${V6_NETWORK_V4_POOL} for the IPv4 subnet Docker requires on an IPv6 network`);
    try {
      await d.createNetwork({ ...spec, IPAM: { ...spec.IPAM, Config: [...(spec.IPAM?.Config ?? []), { Subnet: v4SubnetOfSlot(slot) }] } });
      return;
    } catch (e: any) {
      if (attempt >= 8 || !/Pool overlaps/i.test(String(e?.message ?? e))) throw e;
      from = slot + 1;
    }
  }
}
