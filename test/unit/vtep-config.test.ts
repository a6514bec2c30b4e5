import { describe, expect, it } from 'vitest';
import { VtepConfigError, parseVtepConfig } from '../../harness/vtep/config.ts';
import { prng } from '../../harness/vtep/worker-shared.ts';
import { countersFrom, formatVtepStats, COUNTER_NAMES, COUNTER_SLOTS } from '../../harness/vtep/stats.ts';

const base = { dev: 'flannel.1', mac: '02:76:78:00:00:01', mtu: 1450, local: '192.0.2.1', underlayMtu: 1500, vni: 1 };

describe('VtepConfig', () => {
  it('applies defaults', () => {
    const c = parseVtepConfig(base);
    expect(c).toMatchObject({ port: 4789, learning: false, ageingSec: 300, fdb: [], faults: {}, srcPortSockets: 64 });
  });
  it('accepts the full contract, lowercases MACs, statsSocket aliases controlPath, per-entry port', () => {
    const c = parseVtepConfig({
      ...base,
      mac: '02:76:78:00:00:AB',
      fdb: [{ mac: '02:76:78:00:00:02', dst: '192.0.2.2', port: 8472 }],
      statsSocket: '/tmp/x.sock',
      readyFile: '/tmp/ready',
      faults: { txDropPercent: 10, rxDropPercent: 0, wrongVni: 2, wrongPort: 4790, clearIFlag: true, fixedSrcPort: 50000, noLearning: true, corruptUdpChecksum: true, seed: 3 },
      parentPid: 1,
    });
    expect(c.mac).toBe('02:76:78:00:00:ab');
    expect(c.controlPath).toBe('/tmp/x.sock');
    expect(c.fdb[0]!.port).toBe(8472);
  });
  it('names every bad field', () => {
    try {
      parseVtepConfig({ ...base, mac: '01:00:5e:00:00:01', local: '300.1.1.1', vni: 1 << 24, mtu: 1460, faults: { txDropPercent: 101, bogus: 1 }, extra: true });
      throw new Error('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(VtepConfigError);
      const msg = (e as Error).message;
      for (const s of ['mac: expected a unicast MAC', 'local: expected an IPv4 (dotted quad) or IPv6 address', 'vni:', 'faults.txDropPercent', 'faults', 'extra']) expect(msg).toContain(s);
    }
    expect(() => parseVtepConfig({ ...base, mtu: 1451 })).toThrow(/mtu 1451 > underlayMtu 1500 − 50/);
    expect(() => parseVtepConfig({ ...base, dev: 'a-very-long-device-name' })).toThrow(/dev/);
    expect(() =>
      parseVtepConfig({ ...base, fdb: [{ mac: '02:00:00:00:00:02', dst: '192.0.2.2' }, { mac: '02:00:00:00:00:02', dst: '192.0.2.3' }] }),
    ).toThrow(/listed twice/);
  });
});

describe('VtepConfig over an IPv6 underlay', () => {
  const b6 = { ...base, local: 'fd00:0:1::10', mtu: 1430 };
  it('accepts an IPv6 local and IPv6 FDB destinations; the MTU rule is underlay − 70', () => {
    const c = parseVtepConfig({ ...b6, fdb: [{ mac: '02:76:78:00:00:02', dst: 'fd00:0:1::11' }] });
    expect(c.local).toBe('fd00:0:1::10');
    expect(() => parseVtepConfig({ ...b6, mtu: 1431 })).toThrow(/mtu 1431 > underlayMtu 1500 − 70 \(VXLAN over IPv6\)/);
    // the IPv4 figure (1450) is exactly flannel#1781's mistake: refused over IPv6
    expect(() => parseVtepConfig({ ...b6, mtu: 1450 })).toThrow(/− 70/);
  });
  it('refuses mixed families, bad IPv6 text, and the raw-socket fault', () => {
    expect(() => parseVtepConfig({ ...b6, fdb: [{ mac: '02:76:78:00:00:02', dst: '192.0.2.2' }] })).toThrow(/fdb\.0\.dst: 192\.0\.2\.2 is not an IPv6 address like local fd00:0:1::10/);
    expect(() => parseVtepConfig({ ...base, fdb: [{ mac: '02:76:78:00:00:02', dst: 'fd00::2' }] })).toThrow(/fdb\.0\.dst: fd00::2 is not an IPv4 address/);
    for (const bad of ['fd00::1::2', 'fd00:1:2:3:4:5:6:7:8', 'fd00::g', ':1']) expect(() => parseVtepConfig({ ...b6, local: bad }), bad).toThrow(/local: expected an IPv4 \(dotted quad\) or IPv6 address/);
    expect(() => parseVtepConfig({ ...b6, faults: { corruptUdpChecksum: true } })).toThrow(/faults\.corruptUdpChecksum: not supported over an IPv6 underlay/);
  });
});

describe('fault PRNG', () => {
  it('is deterministic per seed and roughly uniform', () => {
    const a = prng(42);
    const b = prng(42);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b()));
    const below = xs.filter((x) => x < 0.25).length;
    expect(below).toBeGreaterThan(2300);
    expect(below).toBeLessThan(2700);
    expect(prng(43)()).not.toBe(prng(42)());
  });
});

describe('stats', () => {
  it('counter layout fits the shared buffer; faultDrop = tx + rx; human format lists drops and fdb', () => {
    expect(COUNTER_NAMES.length).toBeLessThanOrEqual(COUNTER_SLOTS);
    const arr = new Float64Array(COUNTER_SLOTS);
    arr[COUNTER_NAMES.indexOf('txFaultDrop')] = 2;
    arr[COUNTER_NAMES.indexOf('rxFaultDrop')] = 3;
    arr[COUNTER_NAMES.indexOf('wrongVni')] = 7;
    const counters = countersFrom(arr);
    expect(counters.faultDrop).toBe(5);
    const text = formatVtepStats({
      pid: 1, dev: 'flannel.1', mac: '02:00:00:00:00:01', local: '192.0.2.1', port: 4789, vni: 1, mtu: 1450, underlayMtu: 1500,
      learning: true, faults: { wrongVni: 9 }, srcPorts: [49152], startedAt: '', uptimeSec: 3, at: '', counters,
      fdb: [{ mac: '02:00:00:00:00:02', dst: '192.0.2.2', type: 'learned', static: false, ageSec: 4 }],
    });
    expect(text).toContain('wrongVni 7');
    expect(text).toContain('faults: wrongVni=9');
    expect(text).toContain('02:00:00:00:00:02 dst 192.0.2.2 learned age 4s');
  });
});
