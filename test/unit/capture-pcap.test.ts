import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  decodePacket,
  decodePcap,
  formatIp6,
  LINKTYPE_ETHERNET,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  parsePcapHeader,
  PcapFormatError,
  recordTimeNs,
  summarize,
  type DecodedPacket,
  type PcapFile,
} from '../../harness/capture/pcap.ts';
import {
  arpPkt, bytes, concat, eth, ext6, frag6, icmp6, icmpEcho, icmpFragNeeded, ipv4, ipv6, prng,
  readRawRecords, tcp, udp, vlanTag, vxlanHdr, writePcap,
} from './capture-pcap-writer.ts';

const DIR = fileURLToPath(new URL('../fixtures/pcap/', import.meta.url));
const join = (dir: string, name: string) => dir + name;
const meta = JSON.parse(readFileSync(join(DIR, 'fixtures.json'), 'utf8'));
const A = meta.nodes.a;
const B = meta.nodes.b;

function raw(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(DIR, name)));
}
function load(name: string): PcapFile {
  return decodePcap(raw(name));
}
const ts = (p: DecodedPacket) => `${p.record!.tsSec}.${String(p.record!.tsNsec).padStart(9, '0')}`;
const echoOf = (p: DecodedPacket | undefined) => p?.icmp ?? p?.icmp6;
const why = (f: PcapFile) => f.packets.map((p) => summarize(p, { ether: true })).join('\n');

// a ready-made VXLAN frame for hand-built cases
const M = { ua: '02:00:00:00:00:01', ub: '02:00:00:00:00:02', oa: '0a:00:00:00:00:01', ob: '0a:00:00:00:00:02' };
function innerIcmpFrame(id = 7, seq = 1): Uint8Array {
  return eth(M.ob, M.oa, 0x0800, ipv4({ src: '192.168.1.1', dst: '192.168.1.2', proto: 1 }, icmpEcho(8, id, seq)));
}
function vxlanFrame(o: { vni?: number; flags?: number; reserved1?: number; reserved2?: number; dport?: number; inner?: Uint8Array } = {}): Uint8Array {
  const payload = concat(vxlanHdr({ vni: o.vni ?? 42, flags: o.flags, reserved1: o.reserved1, reserved2: o.reserved2 }), o.inner ?? innerIcmpFrame());
  return eth(M.ub, M.ua, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17, df: true }, udp(40000, o.dport ?? 4789, payload)));
}

describe('committed fixtures agree with tcpdump', () => {
  for (const [name, fm] of Object.entries<any>(meta.files)) {
    it(`${name}: same records, timestamps and ICMP echo ids/seqs as tcpdump -r`, () => {
      const f = load(name);
      expect(f.linkTypeName).toBe(fm.linkType);
      expect(f.snaplen).toBe(fm.snaplen);
      expect(f.truncatedFile).toBeUndefined();
      expect(f.error).toBeUndefined();
      expect(f.packets.length).toBe(fm.tcpdump.length);
      f.packets.forEach((p, i) => {
        const t = fm.tcpdump[i];
        expect(ts(p), `record ${i}`).toBe(t.ts);
        expect(p.error, summarize(p)).toBeUndefined();
        const want = /echo (request|reply), id (\d+), seq (\d+)/.exec(t.text);
        const e = echoOf(p.vxlan?.inner ?? p);
        if (want) {
          expect(e, `${summarize(p)}\nvs tcpdump: ${t.text}`).toBeDefined();
          expect([e!.type === 8 || e!.type === 128 ? 'request' : 'reply', e!.id, e!.seq]).toEqual([want[1], Number(want[2]), Number(want[3])]);
        }
        expect(() => JSON.stringify(p)).not.toThrow();
      });
    });
  }
});

describe('vxlan-en10mb.pcap', () => {
  const f = load('vxlan-en10mb.pcap');
  const fm = meta.files['vxlan-en10mb.pcap'];
  const ping = fm.pings[0];

  it('is a little-endian microsecond EN10MB file', () => {
    expect(f).toMatchObject({ byteOrder: 'le', tsPrecision: 'us', linkType: LINKTYPE_ETHERNET, versionMajor: 2, versionMinor: 4 });
    for (const p of f.packets) expect(p.record!.tsNsec % 1000).toBe(0);
  });

  it('every record is VXLAN VNI 42 to port 4789 between the underlay veths', () => {
    expect(f.packets.length).toBe(ping.count * 2);
    for (const p of f.packets) {
      expect(p.layers, summarize(p)).toEqual(['eth', 'ip4', 'udp', 'vxlan']);
      expect(p.record).toMatchObject({ truncated: false });
      expect(p.record!.caplen).toBe(p.record!.origLen);
      expect(p.udp!.dstPort).toBe(4789);
      expect(p.vxlan).toMatchObject({ flags: 0x08, iFlag: true, reserved1: 0, reserved2: 0, vni: 42 });
      expect([p.eth!.src, p.eth!.dst].sort()).toEqual([A.ul0.address, B.ul0.address].sort());
      expect([p.ip4!.src, p.ip4!.dst].sort()).toEqual([A.ul0.ip4, B.ul0.ip4].sort());
      expect(p.udp!.length).toBe(p.ip4!.totalLength - 20);
      expect(p.truncated).toBeUndefined();
    }
  });

  it('inner frames are ICMP echo between the vx0 devices, with the MACs the fixture script recorded', () => {
    const requests = f.packets.filter((p) => p.vxlan?.inner?.icmp?.type === 8);
    const replies = f.packets.filter((p) => p.vxlan?.inner?.icmp?.type === 0);
    expect(requests.length, why(f)).toBe(ping.count);
    expect(replies.length, why(f)).toBe(ping.count);
    for (const p of requests) {
      const inner = p.vxlan!.inner!;
      expect(inner.layers).toEqual(['eth', 'ip4', 'icmp']);
      expect(inner.eth).toMatchObject({ src: A.vx0.address, dst: B.vx0.address, etherType: 0x0800 });
      expect(inner.ip4).toMatchObject({ src: A.vx0.ip4, dst: B.vx0.ip4, protocol: 1, totalLength: 84 });
      expect(inner.icmp).toMatchObject({ type: 8, code: 0, id: ping.id });
      expect(p.eth).toMatchObject({ src: A.ul0.address, dst: B.ul0.address });
    }
    for (const p of replies) {
      expect(p.vxlan!.inner!.eth).toMatchObject({ src: B.vx0.address, dst: A.vx0.address });
      expect(p.vxlan!.inner!.icmp!.id).toBe(ping.id);
    }
    expect(requests.map((p) => p.vxlan!.inner!.icmp!.seq)).toEqual([1, 2, 3]);
  });

  it('summarize renders a tcpdump-like line', () => {
    const s = summarize(f.packets[0]!);
    expect(s).toContain(`IP ${A.ul0.ip4}.`);
    expect(s).toContain(`> ${B.ul0.ip4}.4789: VXLAN, flags [I] (0x08), vni 42`);
    expect(s).toContain(`${A.vx0.address} > ${B.vx0.address}`);
    expect(s).toContain(`ICMP echo request, id ${ping.id}, seq 1, length 64`);
    expect(s.startsWith(fm.tcpdump[0].ts)).toBe(true);
    expect(summarize(f.packets[0]!, { time: false }).startsWith('IP ')).toBe(true);
  });

  it('vxlanPorts is configurable', () => {
    const off = decodePcap(raw('vxlan-en10mb.pcap'), { vxlanPorts: [9999] });
    expect(off.packets[0]!.vxlan).toBeUndefined();
    expect(off.packets[0]!.udp!.payloadCaptured).toBe(8 + 98);
  });
});

describe('nanosecond timestamps', () => {
  it('vxlan-nano.pcap keeps the nanoseconds', () => {
    const f = load('vxlan-nano.pcap');
    expect(f.tsPrecision).toBe('ns');
    const fm = meta.files['vxlan-nano.pcap'];
    f.packets.forEach((p, i) => {
      const [sec, frac] = fm.tcpdump[i].ts.split('.');
      expect(p.record!.tsSec).toBe(Number(sec));
      expect(p.record!.tsNsec).toBe(Number(frac));
      expect(recordTimeNs(p.record!)).toBe(BigInt(sec) * 1_000_000_000n + BigInt(frac));
      expect(p.vxlan!.vni).toBe(42);
    });
  });

  it('hand-built: microsecond vs nanosecond fractions', () => {
    const data = vxlanFrame();
    const us = decodePcap(writePcap([{ tsSec: 10, tsFrac: 123456, data }], { precision: 'us' }));
    const ns = decodePcap(writePcap([{ tsSec: 10, tsFrac: 123456789, data }], { precision: 'ns' }));
    expect(us.packets[0]!.record).toMatchObject({ tsSec: 10, tsNsec: 123456000 });
    expect(ns.packets[0]!.record).toMatchObject({ tsSec: 10, tsNsec: 123456789 });
    expect(recordTimeNs(ns.packets[0]!.record!)).toBe(10_123_456_789n);
  });
});

describe('byte orders', () => {
  for (const name of ['vxlan-en10mb.pcap', 'vxlan-nano.pcap', 'vxlan-sll2.pcap', 'ipv6.pcap']) {
    it(`${name} rewritten big-endian decodes identically`, () => {
      const { opts, records } = readRawRecords(raw(name));
      expect(opts.byteOrder).toBe('le');
      const le = decodePcap(writePcap(records, { ...opts, byteOrder: 'le' }));
      const be = decodePcap(writePcap(records, { ...opts, byteOrder: 'be' }));
      expect(le.byteOrder).toBe('le');
      expect(be.byteOrder).toBe('be');
      expect(be.tsPrecision).toBe(opts.precision);
      expect(be.packets).toEqual(le.packets);
      expect(be.packets).toEqual(load(name).packets);
      expect({ ...be, byteOrder: 'le' }).toEqual(le);
    });
  }

  it('recognises all four magics and rejects the rest clearly', () => {
    for (const byteOrder of ['le', 'be'] as const) {
      for (const precision of ['us', 'ns'] as const) {
        const h = parsePcapHeader(writePcap([], { byteOrder, precision, linkType: 276, snaplen: 1234 }));
        expect(h).toMatchObject({ byteOrder, tsPrecision: precision, linkType: 276, linkTypeName: 'LINUX_SLL2', snaplen: 1234 });
      }
    }
    expect(() => decodePcap(new Uint8Array(10))).toThrow(PcapFormatError);
    expect(() => decodePcap(new Uint8Array(10))).toThrow(/shorter than the 24-byte/);
    expect(() => decodePcap(new Uint8Array(24).fill(0x41))).toThrow(/bad magic 0x41414141/);
    const ng = new Uint8Array(32);
    ng.set([0x0a, 0x0d, 0x0d, 0x0a]);
    expect(() => decodePcap(ng)).toThrow(/pcapng/);
    const badVersion = writePcap([]);
    badVersion[4] = 9;
    expect(() => decodePcap(badVersion)).toThrow(/version 9/);
  });

  it('an empty capture (header only) has no packets', () => {
    const f = decodePcap(writePcap([], { linkType: LINKTYPE_LINUX_SLL }));
    expect(f.packets).toEqual([]);
    expect(f.truncatedFile).toBeUndefined();
  });
});

describe('cooked captures (-i any)', () => {
  function check(name: string, version: 1 | 2) {
    const f = load(name);
    const fm = meta.files[name];
    expect(f.linkType).toBe(version === 2 ? LINKTYPE_LINUX_SLL2 : LINKTYPE_LINUX_SLL);
    const outer = f.packets.filter((p) => p.vxlan);
    const inner = f.packets.filter((p) => !p.vxlan);
    expect(outer.length, why(f)).toBe(fm.pings[0].count * 2);
    expect(inner.length, why(f)).toBe(fm.pings[0].count * 2);
    for (const p of f.packets) {
      const s = p.sll!;
      expect(s.version).toBe(version);
      expect(s.arphrdType).toBe(1);
      expect(s.protocol).toBe(0x0800);
      expect(s.addrLen).toBe(6);
      expect(p.eth).toBeUndefined();
      const icmp = (p.vxlan?.inner ?? p).icmp!;
      const outgoing = icmp.type === 8;
      expect(s.packetType).toBe(outgoing ? 4 : 0);
      expect(s.packetTypeName).toBe(outgoing ? 'outgoing' : 'host');
      expect(icmp.id).toBe(fm.pings[0].id);
      if (p.vxlan) {
        expect(s.addr).toBe(outgoing ? A.ul0.address : B.ul0.address);
        expect(p.vxlan.vni).toBe(42);
        expect(p.udp!.dstPort).toBe(4789);
        expect(p.vxlan.inner!.eth!.src).toBe(outgoing ? A.vx0.address : B.vx0.address);
      } else {
        expect(p.layers).toEqual(['sll', 'ip4', 'icmp']);
        expect(s.addr).toBe(outgoing ? A.vx0.address : B.vx0.address);
        expect(p.ip4).toMatchObject(outgoing ? { src: A.vx0.ip4, dst: B.vx0.ip4 } : { src: B.vx0.ip4, dst: A.vx0.ip4 });
      }
      if (version === 2) {
        expect(s.ifindex).toBe(p.vxlan ? A.ul0.ifindex : A.vx0.ifindex);
      } else {
        expect(s.ifindex).toBeUndefined();
      }
    }
  }
  it('LINUX_SLL2 exposes packet type and interface index', () => check('vxlan-sll2.pcap', 2));
  it('LINUX_SLL exposes packet type', () => check('vxlan-sll.pcap', 1));

  it('hand-built SLL/SLL2 with a VLAN tag, and short headers', () => {
    const ip = ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 1 }, icmpEcho(0, 1, 2));
    const sll = concat(bytes(0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 9, 0, 0, 0x81, 0x00), vlanTag(100, 0x0800), ip);
    const p = decodePacket(sll, LINKTYPE_LINUX_SLL);
    expect(p.sll).toMatchObject({ version: 1, packetType: 1, packetTypeName: 'broadcast', addr: '02:00:00:00:00:09', protocol: 0x8100 });
    expect(p.vlan).toEqual([{ tpid: 0x8100, pcp: 0, dei: false, vid: 100, etherType: 0x0800 }]);
    expect(p.icmp).toMatchObject({ type: 0, id: 1, seq: 2 });
    const sll2 = concat(bytes(0x08, 0x00, 0, 0, 0, 0, 0x01, 0x02, 0, 1, 3, 6, 2, 0, 0, 0, 0, 8, 0, 0), ip);
    const q = decodePacket(sll2, LINKTYPE_LINUX_SLL2);
    expect(q.sll).toMatchObject({ version: 2, ifindex: 258, packetType: 3, packetTypeName: 'otherhost', addr: '02:00:00:00:00:08' });
    expect(q.icmp!.seq).toBe(2);
    const short = decodePacket(sll2.subarray(0, 12), LINKTYPE_LINUX_SLL2);
    expect(short).toMatchObject({ truncated: true, stoppedAt: 'sll', sll: { ifindex: 258, packetType: 3, truncated: true } });
    expect(decodePacket(sll.subarray(0, 5), LINKTYPE_LINUX_SLL)).toMatchObject({ truncated: true, stoppedAt: 'sll' });
  });
});

describe('truncation', () => {
  it('vxlan-snaplen96.pcap: snaplen shorter than the packet', () => {
    const f = load('vxlan-snaplen96.pcap');
    expect(f.snaplen).toBe(96);
    expect(f.packets.length).toBe(4);
    for (const p of f.packets) {
      expect(p.record).toMatchObject({ caplen: 96, available: 96, origLen: 148, truncated: true });
      expect(p.record!.cut).toBeUndefined();
      expect(p.error).toBeUndefined();
      expect(p.truncated).toBe(true);
      expect(p.ip4).toMatchObject({ totalLength: 134, truncated: true, payloadCaptured: 96 - 34 });
      expect(p.udp!.dstPort).toBe(4789);
      expect(p.vxlan!.vni).toBe(42);
      const inner = p.vxlan!.inner!;
      expect(inner.ip4).toMatchObject({ totalLength: 84, truncated: true });
      // 96 = 14+20+8+8 outer + 14+20 inner: 12 bytes of ICMP left, enough for id/seq
      expect(inner.icmp).toMatchObject({ id: meta.files['vxlan-snaplen96.pcap'].pings[0].id });
      expect(inner.truncated).toBe(true);
    }
    expect(summarize(f.packets[0]!)).toContain('[|');
  });

  it('a file cut in the middle of a record keeps the partial record, marked', () => {
    const full = raw('vxlan-en10mb.pcap');
    const cut = full.subarray(0, full.length - 40);
    const f = decodePcap(cut);
    expect(f.truncatedFile).toBe(true);
    expect(f.packets.length).toBe(6);
    const last = f.packets[5]!;
    expect(last.record).toMatchObject({ cut: true, truncated: true, caplen: 148, available: 108 });
    expect(last.truncated).toBe(true);
    expect(last.vxlan!.vni).toBe(42);
    expect(last.error).toBeUndefined();
    expect(f.packets.slice(0, 5).every((p) => !p.truncated)).toBe(true);
  });

  it('a file cut inside a record header drops only that record', () => {
    const full = raw('vxlan-en10mb.pcap');
    const recStart = full.length - (16 + 148);
    const f = decodePcap(full.subarray(0, recStart + 7));
    expect(f.truncatedFile).toBe(true);
    expect(f.packets.length).toBe(5);
  });

  it('an absurd record length stops reading with an error instead of throwing', () => {
    const b = writePcap([{ tsSec: 1, tsFrac: 0, data: vxlanFrame() }, { tsSec: 2, tsFrac: 0, data: vxlanFrame() }]);
    new DataView(b.buffer).setUint32(24 + 16 + vxlanFrame().length + 8, 0x7fffffff, true);
    const f = decodePcap(b);
    expect(f.packets.length).toBe(1);
    expect(f.error).toMatch(/implausible/);
  });

  it('every prefix of a VXLAN frame decodes without throwing and is marked truncated', () => {
    const frame = vxlanFrame({ inner: eth(M.ob, M.oa, 0x8100, concat(vlanTag(5, 0x0800), ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 6 }, tcp({ src: 1, dst: 2, seq: 3, flags: 0x12 })))) });
    const full = decodePacket(frame, LINKTYPE_ETHERNET);
    expect(full.truncated).toBeUndefined();
    expect(full.vxlan!.inner!.tcp).toMatchObject({ flags: { syn: true, ack: true }, seq: 3 });
    const layerAt: string[] = [];
    for (let n = 0; n < frame.length; n++) {
      const p = decodePacket(frame.subarray(0, n), LINKTYPE_ETHERNET);
      expect(p.truncated, `prefix ${n}: ${summarize(p)}`).toBe(true);
      expect(p.stoppedAt, `prefix ${n}`).toBeDefined();
      expect(p.error, `prefix ${n}: ${p.error}`).toBeUndefined();
      layerAt[n] = p.stoppedAt!;
    }
    expect(layerAt[0]).toBe('eth');
    expect(layerAt[20]).toBe('ip4');
    expect(layerAt[14 + 20 + 4]).toBe('udp');
    expect(layerAt[14 + 20 + 8 + 4]).toBe('vxlan');
    expect(layerAt[frame.length - 1]).toBe('vxlan');
    // a snaplen-cut record says so in its record info as well
    const f = decodePcap(writePcap([{ tsSec: 0, tsFrac: 0, data: frame.subarray(0, 60), origLen: frame.length }], { snaplen: 60 }));
    expect(f.packets[0]!.record).toMatchObject({ caplen: 60, origLen: frame.length, truncated: true });
  });

  it('garbage never throws, for any link type', () => {
    const rnd = prng(42);
    for (let i = 0; i < 3000; i++) {
      const len = Math.floor(rnd() * 200);
      const b = new Uint8Array(len);
      for (let j = 0; j < len; j++) b[j] = Math.floor(rnd() * 256);
      // steer some into the interesting decoders
      if (len > 14 && i % 3 === 0) b.set([0x08, 0x00], 12);
      if (len > 14 && i % 3 === 1) b.set([0x86, 0xdd], 12);
      if (len > 15 && i % 3 === 0) b[14] = 0x45 + (i % 11);
      for (const lt of [LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, 999]) {
        const p = decodePacket(b, lt);
        expect(p.error ?? '').not.toMatch(/^internal/);
        expect(() => JSON.stringify(p)).not.toThrow();
        expect(typeof summarize(p)).toBe('string');
      }
    }
  });

  it('malformed headers report an error on the layer', () => {
    const badVer = decodePacket(eth(M.ub, M.ua, 0x0800, bytes(0x65, ...new Array(30).fill(0))), LINKTYPE_ETHERNET);
    expect(badVer).toMatchObject({ stoppedAt: 'ip4', error: 'ip4: version 6 is not 4', ip4: { error: 'version 6 is not 4' } });
    const badIhl = decodePacket(eth(M.ub, M.ua, 0x0800, bytes(0x43, ...new Array(30).fill(0))), LINKTYPE_ETHERNET);
    expect(badIhl.ip4!.error).toMatch(/header length 12/);
    const badTot = ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 17, totalLength: 10 }, udp(1, 2, new Uint8Array(4)));
    expect(decodePacket(eth(M.ub, M.ua, 0x0800, badTot), LINKTYPE_ETHERNET).ip4!.error).toMatch(/total length 10/);
    const badUdp = decodePacket(eth(M.ub, M.ua, 0x0800, ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 17 }, udp(1, 4789, new Uint8Array(8), 4))), LINKTYPE_ETHERNET);
    expect(badUdp).toMatchObject({ stoppedAt: 'udp', udp: { error: 'length 4 < 8' } });
    expect(badUdp.vxlan).toBeUndefined();
  });
});

describe('IPv4 fragments', () => {
  const f = load('ipv4-fragments.pcap');
  const fm = meta.files['ipv4-fragments.pcap'];

  it('ping -s 3000 over MTU 1500: first fragment has ICMP, the others none', () => {
    const frags = f.packets.filter((p) => p.ip4?.protocol === 1);
    expect(frags.length, why(f)).toBe(6);
    for (const dir of [A.ul0.ip4, B.ul0.ip4]) {
      const set = frags.filter((p) => p.ip4!.src === dir);
      expect(set.map((p) => [p.ip4!.fragmentOffset, p.ip4!.mf])).toEqual([[0, true], [1480, true], [2960, false]]);
      expect(new Set(set.map((p) => p.ip4!.id)).size).toBe(1);
      expect(set.every((p) => p.ip4!.isFragment && !p.ip4!.df)).toBe(true);
      expect(set[0]!.icmp).toMatchObject({ id: fm.pings[0].id, seq: 1 });
      expect(set[0]!.truncated).toBeUndefined();
      for (const p of set.slice(1)) {
        expect(p.icmp).toBeUndefined();
        expect(p.layers).toEqual(['eth', 'ip4']);
        expect(p.error).toBeUndefined();
        expect(p.truncated).toBeUndefined();
      }
      expect(set.reduce((n, p) => n + p.ip4!.payloadCaptured, 0)).toBe(3008);
    }
  });

  it('VXLAN (port 8472, VNI 43) outer datagrams fragmented by the kernel', () => {
    const udpFrags = f.packets.filter((p) => p.ip4?.protocol === 17);
    expect(udpFrags.length, why(f)).toBe(4);
    const first = udpFrags.filter((p) => p.ip4!.fragmentOffset === 0);
    const rest = udpFrags.filter((p) => p.ip4!.fragmentOffset !== 0);
    expect(first.length).toBe(2);
    for (const p of first) {
      expect(p.ip4!.mf).toBe(true);
      expect(p.udp!.dstPort).toBe(8472);
      expect(p.udp!.length).toBeGreaterThan(p.udp!.payloadCaptured + 8);
      expect(p.vxlan).toMatchObject({ vni: 43, iFlag: true });
      // the outer record is complete; only the inner frame is (necessarily) incomplete
      expect(p.truncated).toBeUndefined();
      expect(p.vxlan!.inner!.truncated).toBe(true);
      expect([p.vxlan!.inner!.eth!.src, p.vxlan!.inner!.eth!.dst].sort()).toEqual([A.vx1.address, B.vx1.address].sort());
      expect(p.vxlan!.inner!.icmp!.id).toBe(fm.pings[1].id);
    }
    for (const p of rest) {
      expect(p.udp).toBeUndefined();
      expect(p.vxlan).toBeUndefined();
      expect(p.layers).toEqual(['eth', 'ip4']);
      expect(p.ip4!.mf).toBe(false);
    }
  });

  it('hand-built: a non-first fragment whose payload looks like UDP to 4789 is not decoded as UDP', () => {
    const looksLikeVxlan = udp(1234, 4789, concat(vxlanHdr({ vni: 42 }), innerIcmpFrame()));
    const frag = eth(M.ub, M.ua, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17, id: 0x77, fragOffset: 1480, mf: true }, looksLikeVxlan));
    const p = decodePacket(frag, LINKTYPE_ETHERNET);
    expect(p.ip4).toMatchObject({ id: 0x77, fragmentOffset: 1480, mf: true, df: false, isFragment: true, protocol: 17 });
    expect(p.udp).toBeUndefined();
    expect(p.vxlan).toBeUndefined();
    expect(p.layers).toEqual(['eth', 'ip4']);
    expect(summarize(p)).toContain('frag id 119 off 1480 MF');
  });

  it('hand-built: IPv4 options, TTL, DSCP, DF, and Ethernet padding', () => {
    const opts = [148, 4, 0, 0, 1, 1, 1, 0]; // router alert, NOP, NOP, NOP, EOL
    const pkt = ipv4({ src: '10.1.2.3', dst: '224.0.0.22', proto: 1, ttl: 1, tos: 0xb8, df: true, id: 513, options: opts }, icmpEcho(8, 9, 10, new Uint8Array(0)));
    const frame = concat(eth('01:00:5e:00:00:16', M.ua, 0x0800, pkt), new Uint8Array(60 - 14 - pkt.length));
    const p = decodePacket(frame, LINKTYPE_ETHERNET);
    expect(p.ip4).toMatchObject({ headerLength: 28, ttl: 1, dscp: 46, ecn: 0, df: true, mf: false, isFragment: false, id: 513, totalLength: 36, payloadCaptured: 8 });
    expect(p.ip4!.options).toEqual([{ type: 148, length: 4 }, { type: 1, length: 1 }, { type: 1, length: 1 }, { type: 1, length: 1 }, { type: 0, length: 1 }]);
    expect(p.icmp).toMatchObject({ type: 8, id: 9, seq: 10, payloadCaptured: 0 });
    expect(p.truncated).toBeUndefined();
    expect(p.eth!.dst).toBe('01:00:5e:00:00:16');
  });
});

describe('IPv6', () => {
  const f = load('ipv6.pcap');
  const fm = meta.files['ipv6.pcap'];

  it('neighbour discovery and echo on the underlay', () => {
    const ns = f.packets.find((p) => p.icmp6?.type === 135)!;
    expect(ns, why(f)).toBeDefined();
    expect(ns.ip6).toMatchObject({ src: A.ul0.ip6, dst: 'ff02::1:ff00:2', hopLimit: 255, finalNextHeader: 58, extHeaders: [] });
    expect(ns.eth!.dst).toBe('33:33:ff:00:00:02');
    expect(ns.icmp6!.targetAddress).toBe(B.ul0.ip6);
    const na = f.packets.find((p) => p.icmp6?.type === 136)!;
    expect(na.icmp6!.targetAddress).toBe(B.ul0.ip6);
    const req = f.packets.filter((p) => p.icmp6?.type === 128 && p.icmp6.id === fm.pings[0].id);
    const rep = f.packets.filter((p) => p.icmp6?.type === 129 && p.icmp6.id === fm.pings[0].id);
    expect(req.map((p) => p.icmp6!.seq)).toEqual([1, 2]);
    expect(rep.map((p) => p.icmp6!.seq)).toEqual([1, 2]);
    expect(req[0]!.ip6).toMatchObject({ src: A.ul0.ip6, dst: B.ul0.ip6, payloadLength: 64, nextHeader: 58 });
  });

  it('fragmented ping6: fragment header walked, upper layer only in the first fragment', () => {
    const frags = f.packets.filter((p) => p.ip6?.fragment);
    expect(frags.length, why(f)).toBe(4);
    for (const src of [A.ul0.ip6, B.ul0.ip6]) {
      const [first, second] = frags.filter((p) => p.ip6!.src === src);
      expect(first!.ip6).toMatchObject({ nextHeader: 44, finalNextHeader: 58, extHeaders: [{ type: 44, name: 'fragment', length: 8 }] });
      expect(first!.ip6!.fragment).toMatchObject({ offset: 0, mf: true });
      expect(first!.icmp6).toMatchObject({ id: fm.pings[1].id, seq: 1 });
      expect(second!.ip6!.fragment).toMatchObject({ offset: 1448, mf: false, id: first!.ip6!.fragment!.id });
      expect(second!.icmp6).toBeUndefined();
      expect(second!.layers).toEqual(['eth', 'ip6']);
      expect(second!.ip6!.finalNextHeader).toBe(58);
      expect(first!.truncated).toBeUndefined();
      expect(second!.truncated).toBeUndefined();
    }
  });

  it('hand-built: hop-by-hop, routing, destination options, fragment, then UDP/VXLAN', () => {
    const l4 = udp(5555, 4789, concat(vxlanHdr({ vni: 0xabcdef }), innerIcmpFrame(3, 4)));
    const chain = concat(
      ext6(43, [5, 2, 0, 0, 0, 0]), // hop-by-hop: router alert
      ext6(60, [3, 1, 0, 0, 0, 0, ...new Array(16).fill(0)]), // routing type 3, segments left 1 (24 bytes)
      ext6(44, [1, 4, 0, 0, 0, 0]), // destination options, PadN
      frag6(17, 0, true, 0xdeadbeef),
      l4,
    );
    const p = decodePacket(eth(M.ub, M.ua, 0x86dd, ipv6({ src: '2001:db8::1', dst: '2001:db8:0:0:1::2', nextHeader: 0, flowLabel: 0x12345, tc: 0x20 }, chain)), LINKTYPE_ETHERNET);
    expect(p.ip6).toMatchObject({ nextHeader: 0, finalNextHeader: 17, flowLabel: 0x12345, trafficClass: 0x20, src: '2001:db8::1', dst: '2001:db8::1:0:0:2' });
    expect(p.ip6!.extHeaders).toEqual([
      { type: 0, name: 'hop-by-hop', length: 8 },
      { type: 43, name: 'routing', length: 24, routingType: 3, segmentsLeft: 1 },
      { type: 60, name: 'destination', length: 8 },
      { type: 44, name: 'fragment', length: 8 },
    ]);
    expect(p.ip6!.fragment).toEqual({ offset: 0, mf: true, id: 0xdeadbeef });
    expect(p.udp).toMatchObject({ srcPort: 5555, dstPort: 4789 });
    expect(p.vxlan).toMatchObject({ vni: 0xabcdef, iFlag: true });
    expect(p.vxlan!.inner!.icmp).toMatchObject({ id: 3, seq: 4 });
    expect(p.layers).toEqual(['eth', 'ip6', 'udp', 'vxlan']);

    const later = concat(ext6(44, [1, 0]), frag6(17, 1448, false, 7), l4);
    const q = decodePacket(eth(M.ub, M.ua, 0x86dd, ipv6({ src: '::1', dst: '::', nextHeader: 60 }, later)), LINKTYPE_ETHERNET);
    expect(q.ip6).toMatchObject({ src: '::1', dst: '::', finalNextHeader: 17, fragment: { offset: 1448, mf: false, id: 7 } });
    expect(q.udp).toBeUndefined();
    expect(q.vxlan).toBeUndefined();

    // chain cut inside the routing header
    const cut = decodePacket(eth(M.ub, M.ua, 0x86dd, ipv6({ src: '::1', dst: '::2', nextHeader: 0 }, chain)).subarray(0, 14 + 40 + 8 + 10), LINKTYPE_ETHERNET);
    expect(cut).toMatchObject({ truncated: true, stoppedAt: 'ip6', ip6: { truncated: true, finalNextHeader: 43 } });

    // no next header
    const none = decodePacket(eth(M.ub, M.ua, 0x86dd, ipv6({ src: '::1', dst: '::2', nextHeader: 59 }, new Uint8Array(0))), LINKTYPE_ETHERNET);
    expect(none.layers).toEqual(['eth', 'ip6']);
    expect(none.ip6!.finalNextHeader).toBe(59);
    expect(none.error).toBeUndefined();
  });

  it('hand-built: ICMPv6 Packet Too Big carries the MTU and the quoted packet', () => {
    const orig = ipv6({ src: '2001:db8::1', dst: '2001:db8::2', nextHeader: 17 }, udp(1, 4789, new Uint8Array(1400)));
    const ptb = icmp6(2, 0, [0, 0, 0x05, 0x00], orig.subarray(0, 1232));
    const p = decodePacket(eth(M.ub, M.ua, 0x86dd, ipv6({ src: '2001:db8::fe', dst: '2001:db8::1', nextHeader: 58 }, ptb)), LINKTYPE_ETHERNET);
    expect(p.icmp6).toMatchObject({ type: 2, code: 0, mtu: 1280 });
    expect(p.icmp6!.quoted!.ip6).toMatchObject({ src: '2001:db8::1', dst: '2001:db8::2' });
    expect(p.icmp6!.quoted!.udp!.dstPort).toBe(4789);
    expect(p.icmp6!.quoted!.truncated).toBe(true);
    expect(p.truncated).toBeUndefined();
    expect(summarize(p)).toContain('packet too big, mtu 1280');
  });

  it('formats addresses in RFC 5952 compressed form', () => {
    const f6 = (s: string) => formatIp6(Uint8Array.from(s.match(/../g)!.map((h) => parseInt(h, 16))));
    expect(f6('20010db8000000000000000000000001')).toBe('2001:db8::1');
    expect(f6('00000000000000000000000000000000')).toBe('::');
    expect(f6('00000000000000000000000000000001')).toBe('::1');
    expect(f6('20010db8000000010000000000000000')).toBe('2001:db8:0:1::');
    expect(f6('20010db8000000000001000000000001')).toBe('2001:db8::1:0:0:1');
    expect(f6('20010db8000100000001000100010001')).toBe('2001:db8:1:0:1:1:1:1');
    expect(f6('ff0200000000000000000001ff000002')).toBe('ff02::1:ff00:2');
    expect(f6('00000000000000000000ffffc0000201')).toBe('::ffff:192.0.2.1');
    expect(f6('fe800000000000000200aafffebbccdd')).toBe('fe80::200:aaff:febb:ccdd');
  });
});

describe('ARP', () => {
  it('arp.pcap: request and reply between the underlay veths', () => {
    const f = load('arp.pcap');
    const arps = f.packets.filter((p) => p.arp);
    expect(arps.length, why(f)).toBe(2);
    expect(arps[0]!.arp).toMatchObject({
      op: 1, opName: 'request', htype: 1, ptype: 0x0800, hlen: 6, plen: 4,
      senderMac: A.ul0.address, senderIp: A.ul0.ip4, targetIp: B.ul0.ip4,
    });
    expect(arps[0]!.eth!.dst).toBe('ff:ff:ff:ff:ff:ff');
    expect(arps[1]!.arp).toMatchObject({
      op: 2, opName: 'reply', senderMac: B.ul0.address, senderIp: B.ul0.ip4, targetMac: A.ul0.address, targetIp: A.ul0.ip4,
    });
    expect(arps[1]!.layers).toEqual(['eth', 'arp']);
    expect(summarize(arps[0]!)).toContain(`ARP, Request who-has ${B.ul0.ip4} tell ${A.ul0.ip4}`);
  });

  it('hand-built ARP, padded and truncated', () => {
    const pk = concat(arpPkt(2, 'AA:BB:CC:00:00:01', '10.9.9.1', '00:00:00:00:00:00', '10.9.9.2'), new Uint8Array(18));
    const p = decodePacket(eth('ff:ff:ff:ff:ff:ff', 'aa:bb:cc:00:00:01', 0x0806, pk), LINKTYPE_ETHERNET);
    expect(p.arp).toMatchObject({ op: 2, senderMac: 'aa:bb:cc:00:00:01', targetMac: '00:00:00:00:00:00', targetIp: '10.9.9.2' });
    expect(p.truncated).toBeUndefined();
    const t = decodePacket(eth('ff:ff:ff:ff:ff:ff', 'aa:bb:cc:00:00:01', 0x0806, pk.subarray(0, 20)), LINKTYPE_ETHERNET);
    expect(t).toMatchObject({ truncated: true, stoppedAt: 'arp', arp: { op: 2, truncated: true } });
  });
});

describe('802.1Q and QinQ (hand-built)', () => {
  it('single 802.1Q tag', () => {
    const inner = ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17 }, udp(1000, 4789, concat(vxlanHdr({ vni: 7 }), innerIcmpFrame())));
    const p = decodePacket(eth(M.ub, M.ua, 0x8100, concat(vlanTag(123, 0x0800, 5, true), inner)), LINKTYPE_ETHERNET);
    expect(p.eth!.etherType).toBe(0x8100);
    expect(p.vlan).toEqual([{ tpid: 0x8100, pcp: 5, dei: true, vid: 123, etherType: 0x0800 }]);
    expect(p.layers).toEqual(['eth', 'vlan', 'ip4', 'udp', 'vxlan']);
    expect(p.vxlan!.vni).toBe(7);
    expect(summarize(p, { ether: true })).toContain('vlan 123 p 5');
  });

  it('QinQ 0x88a8 + 0x8100, and a tag inside the VXLAN inner frame', () => {
    const innerTagged = eth(M.ob, M.oa, 0x8100, concat(vlanTag(4094, 0x0806), arpPkt(1, M.oa, '192.168.1.1', '00:00:00:00:00:00', '192.168.1.2')));
    const ip = ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17 }, udp(1000, 8472, concat(vxlanHdr({ vni: 99 }), innerTagged)));
    const p = decodePacket(eth(M.ub, M.ua, 0x88a8, concat(vlanTag(10, 0x8100), vlanTag(20, 0x0800), ip)), LINKTYPE_ETHERNET);
    expect(p.vlan!.map((v) => [v.tpid, v.vid, v.etherType])).toEqual([[0x88a8, 10, 0x8100], [0x8100, 20, 0x0800]]);
    expect(p.vxlan!.vni).toBe(99);
    expect(p.vxlan!.inner!.vlan).toEqual([{ tpid: 0x8100, pcp: 0, dei: false, vid: 4094, etherType: 0x0806 }]);
    expect(p.vxlan!.inner!.arp).toMatchObject({ op: 1, targetIp: '192.168.1.2' });
    // cut inside the second tag
    const cut = decodePacket(eth(M.ub, M.ua, 0x88a8, concat(vlanTag(10, 0x8100), bytes(0x00))), LINKTYPE_ETHERNET);
    expect(cut).toMatchObject({ truncated: true, stoppedAt: 'vlan' });
    expect(cut.vlan!.length).toBe(2);
  });

  it('unknown ethertypes and 802.3 frames stop quietly', () => {
    const lldp = decodePacket(eth('01:80:c2:00:00:0e', M.ua, 0x88cc, new Uint8Array(20)), LINKTYPE_ETHERNET);
    expect(lldp).toMatchObject({ layers: ['eth'], unsupported: 'ethertype 0x88cc' });
    expect(lldp.error).toBeUndefined();
    const llc = decodePacket(eth('01:80:c2:00:00:00', M.ua, 38, new Uint8Array(38)), LINKTYPE_ETHERNET);
    expect(llc.unsupported).toMatch(/802\.3/);
  });
});

describe('VXLAN header fields (hand-built)', () => {
  it('reserved bits set are exposed, VNI still decoded', () => {
    const p = decodePacket(vxlanFrame({ vni: 0x123456, flags: 0x0c, reserved1: 0xabcdef, reserved2: 0x5a }), LINKTYPE_ETHERNET);
    expect(p.vxlan).toMatchObject({ flags: 0x0c, iFlag: true, reserved1: 0xabcdef, vni: 0x123456, reserved2: 0x5a });
    expect(p.vxlan!.inner!.icmp).toMatchObject({ type: 8, id: 7 });
    expect(summarize(p)).toContain('reserved 0xabcdef/0x5a');
  });

  it('I flag clear: flagged, inner frame still decoded', () => {
    const p = decodePacket(vxlanFrame({ vni: 42, flags: 0x00 }), LINKTYPE_ETHERNET);
    expect(p.vxlan).toMatchObject({ flags: 0, iFlag: false, vni: 42, reserved1: 0, reserved2: 0 });
    expect(p.vxlan!.inner!.eth).toMatchObject({ src: M.oa, dst: M.ob });
    expect(summarize(p)).toContain('flags [.] (0x00)');
  });

  it('port 8472 by default; other ports only when configured', () => {
    expect(decodePacket(vxlanFrame({ dport: 8472 }), LINKTYPE_ETHERNET).vxlan?.vni).toBe(42);
    expect(decodePacket(vxlanFrame({ dport: 4790 }), LINKTYPE_ETHERNET).vxlan).toBeUndefined();
    expect(decodePacket(vxlanFrame({ dport: 4790 }), LINKTYPE_ETHERNET, { vxlanPorts: [4790] }).vxlan?.vni).toBe(42);
  });

  it('VXLAN in VXLAN nests, bounded by maxDepth', () => {
    let frame = innerIcmpFrame();
    for (let i = 0; i < 6; i++) {
      frame = eth(M.ub, M.ua, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17 }, udp(1, 4789, concat(vxlanHdr({ vni: i }), frame))));
    }
    const p = decodePacket(frame, LINKTYPE_ETHERNET);
    let depth = 0;
    let cur: DecodedPacket | undefined = p;
    while (cur?.vxlan) {
      depth++;
      cur = cur.vxlan.inner;
    }
    expect(depth).toBe(5); // 4 inner frames decoded, the 5th header seen but not opened
    expect(p.vxlan!.vni).toBe(5);
  });
});

describe('ICMP and TCP (hand-built)', () => {
  it('frag-needed exposes the next-hop MTU and the quoted datagram', () => {
    const orig = ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17, df: true }, udp(40000, 4789, new Uint8Array(1450)));
    const err = icmpFragNeeded(1400, orig.subarray(0, 28));
    const p = decodePacket(eth(M.ua, M.ub, 0x0800, ipv4({ src: '10.0.0.254', dst: '10.0.0.1', proto: 1 }, err)), LINKTYPE_ETHERNET);
    expect(p.icmp).toMatchObject({ type: 3, code: 4, nextHopMtu: 1400 });
    expect(p.icmp!.quoted!.ip4).toMatchObject({ src: '10.0.0.1', dst: '10.0.0.2', df: true, totalLength: 1478, truncated: true });
    expect(p.icmp!.quoted!.udp).toMatchObject({ srcPort: 40000, dstPort: 4789 });
    expect(p.truncated).toBeUndefined();
    expect(summarize(p)).toContain('need to frag (mtu 1400)');
  });

  it('TCP ports, seq and flags', () => {
    const p = decodePacket(eth(M.ua, M.ub, 0x0800, ipv4({ src: '1.2.3.4', dst: '5.6.7.8', proto: 6 }, tcp({ src: 443, dst: 51000, seq: 0xfffffff0, ack: 5, flags: 0x19 }, new Uint8Array(5)))), LINKTYPE_ETHERNET);
    expect(p.tcp).toMatchObject({ srcPort: 443, dstPort: 51000, seq: 0xfffffff0, ack: 5, headerLength: 20, payloadCaptured: 5 });
    expect(p.tcp!.flags).toEqual({ fin: true, syn: false, rst: false, psh: true, ack: true, urg: false, ece: false, cwr: false });
    expect(summarize(p)).toContain('1.2.3.4.443 > 5.6.7.8.51000: Flags [FP.], seq 4294967280, length 5');
  });
});
