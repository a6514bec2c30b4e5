// The IPv4 subnet vxlab gives an IPv6 segment's Docker network (Docker 20.10 requires one): a /24 of 198.18.0.0/15,
// from a slot derived from the run and segment, skipping every range a Docker network on the host already uses.
import { describe, expect, it } from 'vitest';
import { createSegmentNetwork, freeV4Slot, v4SlotFor, v4SubnetOfSlot, V6_NETWORK_V4_POOL } from '../../harness/runtime/docker/v4-pool.ts';

describe('IPv4 subnet of an IPv6 Docker network', () => {
  it('is a /24 inside 198.18.0.0/15, the same for the same run and segment, different across segments', () => {
    expect(V6_NETWORK_V4_POOL).toBe('198.18.0.0/15');
    expect(v4SubnetOfSlot(0)).toBe('198.18.0.0/24');
    expect(v4SubnetOfSlot(255)).toBe('198.18.255.0/24');
    expect(v4SubnetOfSlot(256)).toBe('198.19.0.0/24');
    expect(v4SubnetOfSlot(511)).toBe('198.19.255.0/24');
    expect(v4SubnetOfSlot(512)).toBe('198.18.0.0/24'); // wraps inside the pool
    const a = v4SlotFor('t1234a', 'rack1');
    expect(v4SlotFor('t1234a', 'rack1')).toBe(a);
    expect(a).toBeGreaterThanOrEqual(0);
    expect(a).toBeLessThan(512);
    expect(new Set(['rack1', 'rack2', 'rack3', 'rack4'].map((s) => v4SlotFor('t1234a', s))).size).toBeGreaterThan(1);
  });

  it('skips a slot whose /24 any host network overlaps (the /24 itself, a wider range, a narrower one), and wraps', () => {
    expect(freeV4Slot(5, [])).toBe(5);
    expect(freeV4Slot(5, ['198.18.5.0/24'])).toBe(6);
    expect(freeV4Slot(5, ['198.18.5.128/25', '198.18.6.0/24'])).toBe(7);
    expect(freeV4Slot(5, ['198.18.0.0/16'])).toBe(256); // the whole first half taken: 198.19.0.0/24
    expect(freeV4Slot(511, ['198.19.255.0/24'])).toBe(0);
    // IPv6 subnets and Docker's other pools are not in the way
    expect(freeV4Slot(5, ['fd00:d0c:1::/64', '172.17.0.0/16', '192.168.32.0/20'])).toBe(5);
    expect(freeV4Slot(0, ['198.18.0.0/15'])).toBeUndefined();
  });
});

describe('createSegmentNetwork', () => {
  // Docker's answers stand in here (the retry is pure logic); the real create is docker-ipv6.test.ts's
  const seg = (family: 4 | 6) => ({ name: 'rack1', family }) as any;
  const topo = { runId: 't1234a' } as any;
  it('asks for the run slot first, and after "Pool overlaps" (a concurrent create took it) for the next free one', async () => {
    const asked: string[] = [];
    const d = {
      listNetworks: async () => [{ IPAM: { Config: [{ Subnet: 'fd00::/64' }] } }],
      createNetwork: async (spec: any) => {
        asked.push(spec.IPAM.Config.map((c: any) => c.Subnet).join(' '));
        if (asked.length === 1) throw new Error('(HTTP code 403) unexpected - Pool overlaps with other one on this address space');
      },
    } as any;
    await createSegmentNetwork(d, topo, seg(6), { Name: 'n', IPAM: { Config: [{ Subnet: 'fd00:d0c:1::/64' }] } });
    const first = v4SlotFor('t1234a', 'rack1');
    expect(asked).toEqual([`fd00:d0c:1::/64 ${v4SubnetOfSlot(first)}`, `fd00:d0c:1::/64 ${v4SubnetOfSlot(first + 1)}`]);
  });
  it('passes other errors through at once, and leaves an IPv4 segment to its own CIDR', async () => {
    const asked: any[] = [];
    const d = {
      listNetworks: async () => [],
      createNetwork: async (spec: any) => {
        asked.push(spec);
        if (spec.EnableIPv6) throw new Error('network with name n already exists');
      },
    } as any;
    await expect(createSegmentNetwork(d, topo, seg(6), { Name: 'n', EnableIPv6: true, IPAM: { Config: [{ Subnet: 'fd00:d0c:1::/64' }] } })).rejects.toThrow(/already exists/);
    expect(asked).toHaveLength(1);
    await createSegmentNetwork(d, topo, seg(4), { Name: 'm', IPAM: { Config: [{ Subnet: '192.168.41.0/24' }] } });
    expect(asked[1].IPAM.Config).toEqual([{ Subnet: '192.168.41.0/24' }]);
  });
});
