// The pcap decoder against real kernel VXLAN over an IPv6 underlay (fixtures captured by make-fixtures-v6.ts):
// every record is compared field by field with tcpdump's own verbose reading (-nn -v) stored next to the file.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodePcap, summarize, type DecodedPacket, type PcapFile } from '../../harness/capture/pcap.ts';

const DIR = fileURLToPath(new URL('../fixtures/pcap/', import.meta.url));
const meta = JSON.parse(readFileSync(`${DIR}fixtures-v6.json`, 'utf8'));
const A = meta.nodes.a;
const B = meta.nodes.b;
const R = meta.nodes.r;
const load = (name: string): PcapFile => decodePcap(new Uint8Array(readFileSync(`${DIR}${name}`)));
const ts = (p: DecodedPacket) => `${p.record!.tsSec}.${String(p.record!.tsNsec).padStart(9, '0')}`;
const why = (f: PcapFile) => f.packets.map((p) => summarize(p, { ether: true })).join('\n');

/** What tcpdump -v printed about one IPv6 header: `IP6 (… hlim H, next-header NAME (N) payload length: L) SRC[.port] > DST[.port]:` */
interface Td6 { hlim: number; nh: number; plen: number; flowlabel?: number; src: string; dst: string; sport?: number; dport?: number }
function td6(text: string, from = 0): Td6 & { end: number } {
  const re = /IP6 \((?:flowlabel (0x[0-9a-f]+), )?hlim (\d+), next-header [^(]*\((\d+)\) payload length: (\d+)\) ([0-9a-f:]+?)(?:\.(\d+))? > ([0-9a-f:]+?)(?:\.(\d+))?: /g;
  re.lastIndex = from;
  const m = re.exec(text);
  if (!m) throw new Error(`no IP6 header in tcpdump text: ${text}`);
  return {
    flowlabel: m[1] ? parseInt(m[1], 16) : undefined,
    hlim: Number(m[2]), nh: Number(m[3]), plen: Number(m[4]), src: m[5]!, dst: m[7]!,
    sport: m[6] ? Number(m[6]) : undefined, dport: m[8] ? Number(m[8]) : undefined, end: re.lastIndex,
  };
}

describe.each(['vxlan6.pcap', 'vxlan6-ptb.pcap'])('%s agrees with tcpdump -r -nn -v', (name) => {
  const f = load(name);
  const fm = meta.files[name];
  it('same records and timestamps', () => {
    expect(f.linkTypeName).toBe(fm.linkType);
    expect(f.packets.map(ts), why(f)).toEqual(fm.tcpdump.map((r: { ts: string }) => r.ts));
    for (const p of f.packets) expect(p.error, summarize(p)).toBeUndefined();
  });
  it('outer IPv6 header, UDP ports, VXLAN VNI and the inner packet, field by field', () => {
    for (const [i, p] of f.packets.entries()) {
      const text: string = fm.tcpdump[i].text;
      const o = td6(text);
      expect(p.ip6, text).toMatchObject({ version: 6, hopLimit: o.hlim, nextHeader: o.nh, payloadLength: o.plen, src: o.src, dst: o.dst });
      if (o.flowlabel !== undefined) expect(p.ip6!.flowLabel).toBe(o.flowlabel);
      else expect(p.ip6!.flowLabel).toBe(0);
      if (o.sport !== undefined) expect(p.udp, text).toMatchObject({ srcPort: o.sport, dstPort: o.dport, length: o.plen });
      const vni = /VXLAN, flags \[I\] \(0x08\), vni (\d+)/.exec(text);
      if (vni) {
        expect(p.vxlan, text).toMatchObject({ iFlag: true, flags: 0x08, vni: Number(vni[1]), reserved1: 0, reserved2: 0 });
        const inner = p.vxlan!.inner!;
        // the inner frame's addresses: MACs are the VTEPs', IPs as tcpdump printed them
        const dir = p.ip6!.src === A.ul0.ip6 ? [A, B] : [B, A];
        expect(inner.eth).toMatchObject({ src: dir[0].vx0.address, dst: text.includes('> ff02::16:') ? '33:33:00:00:00:16' : dir[1].vx0.address });
        const v4 = /\| ([\d.]+) > ([\d.]+): ICMP echo (request|reply), id (\d+), seq (\d+), length (\d+)/.exec(text);
        if (v4) {
          expect(inner.ip4, text).toMatchObject({ src: v4[1], dst: v4[2], protocol: 1 });
          expect(inner.icmp).toMatchObject({ type: v4[3] === 'request' ? 8 : 0, id: Number(v4[4]), seq: Number(v4[5]) });
          expect(inner.ip4!.totalLength - 20).toBe(Number(v4[6]));
        } else {
          const i6 = td6(text, text.indexOf('VXLAN'));
          expect(inner.ip6, text).toMatchObject({ hopLimit: i6.hlim, nextHeader: i6.nh, payloadLength: i6.plen, src: i6.src, dst: i6.dst });
          const e6 = /ICMP6, echo (request|reply), id (\d+), seq (\d+)/.exec(text);
          if (e6) expect(inner.icmp6).toMatchObject({ type: e6[1] === 'request' ? 128 : 129, id: Number(e6[2]), seq: Number(e6[3]) });
          if (text.includes('HBH')) {
            // an MLD report the kernel sent when the inner address was added: hop-by-hop header walked inside VXLAN
            expect(inner.ip6!.extHeaders).toEqual([{ type: 0, name: 'hop-by-hop', length: 8 }]);
            expect(inner.ip6!.finalNextHeader).toBe(58);
            expect(inner.icmp6!.type).toBe(143);
          }
        }
      }
      const ptb = /ICMP6, packet too big, mtu (\d+)/.exec(text);
      if (ptb) expect(p.icmp6, text).toMatchObject({ type: 2, code: 0, mtu: Number(ptb[1]) });
    }
  });
});

describe('vxlan6.pcap: VXLAN over an IPv6 underlay', () => {
  const f = load('vxlan6.pcap');
  const fm = meta.files['vxlan6.pcap'];
  const tunnel = f.packets.filter((p) => p.vxlan);
  it('every record is UDP/VXLAN between the two underlay addresses, through the router (hop limit 63 on the way back)', () => {
    expect(tunnel.length, why(f)).toBe(f.packets.length);
    for (const p of tunnel) {
      expect(p.layers).toEqual(['eth', 'ip6', 'udp', 'vxlan']);
      expect([p.ip6!.src, p.ip6!.dst].sort()).toEqual([A.ul0.ip6, B.ul0.ip6].sort());
      expect(p.udp!.dstPort).toBe(A.vx0.dstPort);
      expect(p.vxlan!.vni).toBe(A.vx0.vni);
      expect(p.ip6!.hopLimit).toBe(p.ip6!.src === A.ul0.ip6 ? 64 : 63);
      // the outer Ethernet: A's underlay MAC towards the router's and back
      expect(p.eth!.src === A.ul0.address ? p.eth!.dst : p.eth!.src).toBe(R.r0.address);
      // outer UDP length covers VXLAN (8) + the inner frame
      expect(p.udp!.length).toBe(p.ip6!.payloadLength);
      expect(p.udp!.payloadCaptured).toBe(p.udp!.length - 8);
      expect(p.truncated).toBeUndefined();
    }
  });
  it('inner IPv4 and inner IPv6 echoes with the ping ids the fixture used', () => {
    const [p4, p6] = fm.pings;
    const in4 = tunnel.map((p) => p.vxlan!.inner!).filter((i) => i.icmp?.id === p4.id);
    expect(in4.map((i) => `${i.icmp!.type}/${i.icmp!.seq}`)).toEqual(['8/1', '0/1', '8/2', '0/2']);
    expect(in4[0]!.ip4).toMatchObject({ src: A.vx0.ip4, dst: B.vx0.ip4, totalLength: p4.size + 28 });
    const in6 = tunnel.map((p) => p.vxlan!.inner!).filter((i) => i.icmp6?.id === p6.id);
    expect(in6.map((i) => `${i.icmp6!.type}/${i.icmp6!.seq}`)).toEqual(['128/1', '129/1', '128/2', '129/2']);
    expect(in6[0]!.ip6).toMatchObject({ src: A.vx0.ip6, dst: B.vx0.ip6, payloadLength: p6.size + 8, nextHeader: 58, finalNextHeader: 58 });
    expect(in6[0]!.layers).toEqual(['eth', 'ip6', 'icmp6']);
    // on the wire: 40 (IPv6) + 8 (UDP) + 8 (VXLAN) + 14 (inner Ethernet) + inner packet = the 70-byte overhead
    const outer6 = tunnel.find((p) => p.vxlan!.inner!.icmp6?.id === p6.id)!;
    expect(40 + outer6.ip6!.payloadLength - (40 + p6.size + 8)).toBe(70);
  });
  it('summarize renders the IPv6 outer and the inner packet', () => {
    const s = summarize(tunnel[0]!, { time: false });
    expect(s).toMatch(new RegExp(`^IP6 ${A.ul0.ip6}\\.\\d+ > ${B.ul0.ip6}\\.4789: VXLAN, flags \\[I\\] \\(0x08\\), vni 46 \\| `));
  });
});

describe('vxlan6-ptb.pcap: ICMPv6 Packet Too Big from a router on a narrow IPv6 path', () => {
  const f = load('vxlan6-ptb.pcap');
  const fm = meta.files['vxlan6-ptb.pcap'];
  const ptbs = f.packets.filter((p) => p.icmp6?.type === 2);
  it('two PTBs from the router, mtu 1280, each quoting as much of the offending packet as fits in 1280 bytes', () => {
    expect(ptbs.length, why(f)).toBe(2);
    for (const p of ptbs) {
      expect(p.ip6).toMatchObject({ src: R.r0.ip6, dst: A.ul0.ip6, nextHeader: 58 });
      expect(p.icmp6).toMatchObject({ type: 2, code: 0, mtu: 1280 });
      expect(40 + p.ip6!.payloadLength).toBe(1280);
      expect(p.icmp6!.quoted!.truncated).toBe(true); // the quote is cut at 1280 bytes, the quoted packet was bigger
      expect(p.truncated).toBeUndefined(); // the PTB itself was captured whole
    }
  });
  it('the first quotes the outer VXLAN packet: IPv6/UDP/VXLAN decoded inside the ICMPv6 error, inner IPv4 echo too', () => {
    const q = ptbs[0]!.icmp6!.quoted!;
    expect(q.ip6).toMatchObject({ src: A.ul0.ip6, dst: B.ul0.ip6, nextHeader: 17 });
    expect(40 + q.ip6!.payloadLength).toBe(1300 + 28 + 70);
    expect(q.udp!.dstPort).toBe(4789);
    expect(q.vxlan).toMatchObject({ vni: 46, iFlag: true });
    expect(q.vxlan!.inner!.ip4).toMatchObject({ src: A.vx0.ip4, dst: B.vx0.ip4, df: true });
    expect(q.vxlan!.inner!.icmp).toMatchObject({ type: 8, id: fm.pings[0].id });
  });
  it('the second quotes the plain ICMPv6 echo of the underlay ping', () => {
    const q = ptbs[1]!.icmp6!.quoted!;
    expect(q.ip6).toMatchObject({ src: A.ul0.ip6, dst: B.ul0.ip6, nextHeader: 58, payloadLength: 1408 });
    expect(q.icmp6).toMatchObject({ type: 128, id: fm.pings[1].id, seq: 1 });
    expect(summarize(ptbs[1]!)).toContain('packet too big, mtu 1280');
  });
});
