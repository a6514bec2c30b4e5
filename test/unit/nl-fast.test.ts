// #16: the allocation-free encoders of up's hot lines (harness/runtime/netns/nl-fast.ts) write exactly the bytes of
// nl.ts's builders (parseIpLine/parseBridgeLine + nlMessage, themselves checked against ip/bridge 6.1 captures), and
// decline every line of another shape (it goes the general way, or to ip(8)).
import { describe, expect, it } from 'vitest';
import { encodeFdbFast, encodeIpFast, FAST_MAX, type Sink } from '../../harness/runtime/netns/nl-fast.ts';
import { nlMessage, parseBridgeLine, parseIpLine } from '../../harness/runtime/netns/nl.ts';
import { ipRequest, parseLinkLine } from '../../harness/runtime/netns/nl-link.ts';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadTopology } from '../../harness/topology/load.ts';
import { normalize } from '../../harness/topology/normalize.ts';
import { plan } from '../../harness/plan/plan.ts';

const IX: Record<string, number> = { 'flannel.1': 7, 'flannel-v6.1': 9, eth0: 2, 'vxlan.calico': 11 };

function fast(line: string, bridge = false): Buffer | undefined {
  const sink: Sink = { buf: Buffer.alloc(4 * FAST_MAX, 0xaa), off: 40 };
  const n = (bridge ? encodeFdbFast : encodeIpFast)(line, sink, 4242, (d) => IX[d]!);
  return n < 0 ? undefined : Buffer.from(sink.buf.subarray(40, 40 + n));
}

function reference(line: string, bridge = false): Buffer {
  const e = bridge ? parseBridgeLine(line) : parseIpLine(line);
  if (!e) throw new Error(`nl.ts does not model: ${line}`);
  return nlMessage(e, e.dev ? IX[e.dev] : undefined, 4242);
}

describe('nl-fast: up hot lines, byte for byte as nl.ts builds them', () => {
  const ip = [
    'neigh add 10.244.1.0 lladdr 0e:01:02:03:04:05 dev flannel.1 nud permanent',
    'neigh add fd00:10:244:1:: lladdr 0e:01:02:03:04:06 dev flannel-v6.1 nud permanent',
    'neigh add 2001:db8::1:2 lladdr 0e:01:02:03:04:07 dev flannel-v6.1 nud permanent',
    'neigh replace 192.168.3.7 lladdr 06:01:02:03:04:07 dev eth0 nud permanent',
    'neigh replace fd00:7::3 lladdr 06:01:02:03:04:08 dev eth0 nud permanent',
    'route add 10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink',
    'route add 10.64.255.0/24 via 10.64.255.0 dev flannel.1 onlink',
    'route add fd00:10:244:1::/64 via fd00:10:244:1:: dev flannel-v6.1 onlink',
    'route add 10.244.1.0/26 via 10.244.1.0 dev vxlan.calico onlink proto 80 mtu 1450',
    'route add fd00:10:244:1::/122 via fd00:10:244:1:: dev vxlan.calico onlink proto 80 mtu 1430',
    'route add 10.244.2.0/24 via 192.168.1.3 dev eth0',
    'route add 10.244.2.0/26 via 192.168.1.3 dev eth0 proto 80',
    'route add 0.0.0.0/0 via 192.168.1.1 dev eth0',
  ];
  for (const line of ip) {
    it(line, () => {
      const got = fast(line);
      expect(got, 'encoded').toBeDefined();
      expect(got!.toString('hex')).toBe(reference(line).toString('hex'));
    });
  }
  for (const line of ['fdb add 0e:01:02:03:04:05 dev flannel.1 dst 192.168.1.2 self permanent', 'fdb add 0e:01:02:03:04:06 dev flannel-v6.1 dst fd00:7::3 self permanent']) {
    it(line, () => {
      const got = fast(line, true);
      expect(got, 'encoded').toBeDefined();
      expect(got!.toString('hex')).toBe(reference(line, true).toString('hex'));
    });
  }

  it('ixAt names where the ifindex went: encodings of a line with another seq and ifindex differ in those 8 bytes only (what nl-apply patches when it reuses a line\'s bytes)', () => {
    const at = (line: string, bridge: boolean, seq: number, ix: number) => {
      const sink: Sink = { buf: Buffer.alloc(2 * FAST_MAX, 0xaa), off: 24 };
      const n = (bridge ? encodeFdbFast : encodeIpFast)(line, sink, seq, () => ix);
      return { bytes: Buffer.from(sink.buf.subarray(24, 24 + n)), ixAt: sink.ixAt! };
    };
    for (const [line, bridge] of [...ip.map((l) => [l, false] as const), ['fdb add 0e:01:02:03:04:05 dev flannel.1 dst 192.168.1.2 self permanent', true] as const]) {
      const a = at(line, bridge, 7, 3);
      const b = at(line, bridge, 0x01020304, 0x7fff0102);
      expect(a.ixAt, line).toBe(b.ixAt);
      expect(a.bytes.readInt32LE(a.ixAt), line).toBe(3);
      expect(b.bytes.readInt32LE(b.ixAt), line).toBe(0x7fff0102);
      const differ = [...a.bytes.keys()].filter((i) => a.bytes[i] !== b.bytes[i]);
      expect(differ.every((i) => (i >= 8 && i < 12) || (i >= a.ixAt && i < a.ixAt + 4)), line).toBe(true);
      // patching a's bytes gives b's
      const p = Buffer.from(a.bytes);
      p.writeUInt32LE(0x01020304, 8);
      p.writeInt32LE(0x7fff0102, a.ixAt);
      expect(p.toString('hex'), line).toBe(b.bytes.toString('hex'));
    }
  });

  it('declines every other shape (nothing written): those go the general way or to ip(8)', () => {
    for (const line of [
      'neigh change 10.244.1.0 lladdr 0e:01:02:03:04:05 dev flannel.1 nud permanent',
      'neigh add 10.244.1.0 lladdr 0e:01:02:03:04:05 dev flannel.1',
      'neigh add 10.244.1 lladdr 0e:01:02:03:04:05 dev flannel.1 nud permanent',
      'neigh add ::ffff:1.2.3.4 lladdr 0e:01:02:03:04:05 dev flannel.1 nud permanent',
      'neigh add 10.244.1.0 lladdr 0e:01:02:03:04 dev flannel.1 nud permanent',
      'route add default via 192.168.1.1 dev eth0',
      'route add 10.244.1.0/24 via fd00::1 dev flannel.1 onlink',
      'route add 10.244.1.0/33 via 10.244.1.0 dev flannel.1 onlink',
      'route add 10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink table 7',
      'route add 10.244.1.0/24 via 10.244.1.0 dev flannel.1 mtu 1450 proto 80',
      'route replace 10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink',
      'route add blackhole 10.244.0.0/24 proto 80',
      'route add 10.244.1.5/32 dev cali1 scope link',
      'link set lo up',
    ]) {
      expect(fast(line), line).toBeUndefined();
    }
    for (const line of ['fdb add 0e:01:02:03:04:05 dev flannel.1 dst 192.168.1.2 self', 'fdb replace 0e:01:02:03:04:05 dev flannel.1 dst 192.168.1.2 self permanent', 'fdb add 0e:01:02:03:04:05 dev flannel.1 dst 192.168.1 self permanent']) {
      expect(fast(line, true), line).toBeUndefined();
    }
  });
});

describe('nl-link: the link/address lines of the plan parse (anything else is left to ip(8))', () => {
  it('parses the plan forms with every attribute', () => {
    expect(parseLinkLine('link add flannel.1 address 0e:00:00:00:00:01 mtu 1450 type vxlan id 1 local 192.168.1.2 dev eth0 dstport 4789 nolearning df unset')).toEqual({
      kind: 'link-add',
      name: 'flannel.1',
      address: '0e:00:00:00:00:01',
      mtu: 1450,
      type: 'vxlan',
      vxlan: { id: 1, local: '192.168.1.2', dev: 'eth0', dstport: 4789, learning: false, df: 'unset' },
    });
    expect(parseLinkLine('link add v-pod1 mtu 1450 type veth peer name eth0 address 06:00:00:00:00:01 mtu 1450 netns vx-run1-flannel-3node-node1-pod1')).toEqual({
      kind: 'link-add',
      name: 'v-pod1',
      mtu: 1450,
      type: 'veth',
      peer: { name: 'eth0', address: '06:00:00:00:00:01', mtu: 1450, netns: 'vx-run1-flannel-3node-node1-pod1' },
    });
    expect(parseLinkLine('link set eth0 mtu 1500 up')).toEqual({ kind: 'link-set', name: 'eth0', mtu: 1500, up: true });
    expect(parseLinkLine('link set v-pod1 master cni0 up')).toEqual({ kind: 'link-set', name: 'v-pod1', master: 'cni0', up: true });
    expect(parseLinkLine('link set v-pod1 type bridge_slave hairpin on')).toEqual({ kind: 'link-brport', name: 'v-pod1', hairpin: true });
    expect(parseLinkLine('addr add fd00::1/64 dev eth0 nodad')).toEqual({ kind: 'addr-add', ip: 'fd00::1', prefixLen: 64, dev: 'eth0', nodad: true });
    expect(parseLinkLine('link add cni0 mtu 1450 type bridge')).toEqual({ kind: 'link-add', name: 'cni0', mtu: 1450, type: 'bridge' });
  });
  it('declines options it does not model, so ip(8) applies them', () => {
    for (const line of [
      'link add flannel.1 type vxlan id 1 local 192.168.1.2 dev eth0 dstport 4789 gbp',
      'link add flannel.1 type vxlan local 192.168.1.2',
      'link add x type veth peer name y txqueuelen 5',
      'link add br0 type bridge vlan_filtering 1',
      'link add d0 type dummy',
      'link set eth0 down',
      'link set eth0 mtu 1500 mtu 1400',
      'link set eth0 type bridge_slave learning off',
      'link del eth0',
      'addr add 10.0.0.1/24 dev eth0 brd +',
      'addr add 10.0.0.1/33 dev eth0',
      'link add this-name-is-too-long type bridge',
    ]) {
      expect(parseLinkLine(line), line).toBeUndefined();
    }
    expect(ipRequest('link add d0 type dummy')).toBeUndefined();
    expect(ipRequest('route add 10.0.0.0/8 via 1.2.3.4 dev eth0')).toBeDefined();
  });
});

describe('every ip/bridge line of the shipped netns topologies is applied in-process (up starts no ip/bridge process)', () => {
  const dirs = ['topologies', 'topologies/bugs'];
  for (const d of dirs) {
    const dir = new URL(`../../${d}/`, import.meta.url).pathname;
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.yaml'))) {
      it(`${d}/${f}`, () => {
        const l = loadTopology(join(dir, f));
        const t = normalize(l.topology, { runId: 'unit1', file: l.file });
        if (t.runtime !== 'netns') return;
        const notModelled: string[] = [];
        const sink: Sink = { buf: Buffer.alloc(4 * FAST_MAX), off: 0 };
        for (const st of plan(t).stages)
          for (const s of st.steps)
            for (const op of s.ops) {
              if (op.kind !== 'ip' && op.kind !== 'bridge') continue;
              for (const line of op.lines) {
                sink.off = 0;
                const fastN = op.kind === 'bridge' ? encodeFdbFast(line, sink, 1, () => 3) : encodeIpFast(line, sink, 1, () => 3);
                if (fastN < 0 && !(op.kind === 'bridge' ? parseBridgeLine(line) : ipRequest(line))) notModelled.push(`${op.kind} ${line}`);
              }
            }
        expect(notModelled).toEqual([]);
      });
    }
  }
});
