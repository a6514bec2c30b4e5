import { describe, expect, it } from 'vitest';
import { parseMac } from '../../harness/vtep/codec.ts';
import { SRC_PORT_MAX, SRC_PORT_MIN, flowHash, poolIndexFromHash, poolPorts, srcPortFromHash } from '../../harness/vtep/hash.ts';

function tcp4(src: string, dst: string, sport: number, dport: number, proto = 6): Buffer {
  const f = Buffer.alloc(14 + 20 + 20);
  parseMac('02:00:00:00:00:02').copy(f, 0);
  parseMac('02:00:00:00:00:01').copy(f, 6);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45;
  f[14 + 9] = proto;
  src.split('.').forEach((x, i) => (f[14 + 12 + i] = Number(x)));
  dst.split('.').forEach((x, i) => (f[14 + 16 + i] = Number(x)));
  f.writeUInt16BE(sport, 34);
  f.writeUInt16BE(dport, 36);
  return f;
}

describe('flow hash → outer UDP source port', () => {
  it('is deterministic and depends on L3/L4 fields', () => {
    const a = tcp4('10.244.1.1', '10.244.2.1', 40000, 5201);
    expect(flowHash(a, 0, a.length)).toBe(flowHash(Buffer.from(a), 0, a.length));
    const variants = [
      tcp4('10.244.1.1', '10.244.2.1', 40001, 5201),
      tcp4('10.244.1.1', '10.244.2.1', 40000, 5202),
      tcp4('10.244.1.2', '10.244.2.1', 40000, 5201),
      tcp4('10.244.1.1', '10.244.2.2', 40000, 5201),
      tcp4('10.244.1.1', '10.244.2.1', 40000, 5201, 17),
    ];
    for (const v of variants) expect(flowHash(v, 0, v.length)).not.toBe(flowHash(a, 0, a.length));
  });
  it('ignores ports of IPv4 fragments and payload bytes', () => {
    const a = tcp4('10.244.1.1', '10.244.2.1', 40000, 5201);
    const b = Buffer.from(a);
    b[14 + 6] = 0x20; // MF
    const c = Buffer.from(b);
    c.writeUInt16BE(1, 34);
    expect(flowHash(b, 0, b.length)).toBe(flowHash(c, 0, c.length));
    const d = Buffer.concat([a, Buffer.from('payload')]);
    const e = Buffer.concat([a, Buffer.from('PAYLOAD')]);
    expect(flowHash(d, 0, d.length)).toBe(flowHash(e, 0, e.length));
  });
  it('maps every hash into 49152–65535, covering the whole range', () => {
    expect(srcPortFromHash(0)).toBe(SRC_PORT_MIN);
    expect(srcPortFromHash(0xffffffff)).toBe(SRC_PORT_MAX);
    const seen = new Set<number>();
    for (let sport = 1; sport <= 20000; sport++) {
      const f = tcp4('10.244.1.1', '10.244.2.1', sport, 5201);
      const p = srcPortFromHash(flowHash(f, 0, f.length));
      expect(p).toBeGreaterThanOrEqual(SRC_PORT_MIN);
      expect(p).toBeLessThanOrEqual(SRC_PORT_MAX);
      seen.add(p);
    }
    // 20000 flows into 16384 ports: a uniform hash leaves ~e^-1.22 ≈ 30% empty, i.e. ≈ 11.5k used
    expect(seen.size).toBeGreaterThan(10_500);
  });
  it('spreads flows evenly over a 64-socket pool (chi-square), and two flows get two sockets', () => {
    const n = 64;
    const counts = new Array(n).fill(0);
    const flows = 64_000;
    for (let i = 0; i < flows; i++) {
      const f = tcp4(`10.244.1.${1 + (i % 200)}`, '10.244.2.1', 30000 + Math.floor(i / 200), 5201);
      counts[poolIndexFromHash(flowHash(f, 0, f.length), n)]++;
    }
    const exp = flows / n;
    const chi2 = counts.reduce((s, c) => s + ((c - exp) * (c - exp)) / exp, 0);
    expect(chi2).toBeLessThan(120); // 63 dof: p≈1e-5 bound
    const f1 = tcp4('10.244.1.1', '10.244.2.1', 40000, 5201);
    const f2 = tcp4('10.244.1.1', '10.244.2.1', 40001, 5201);
    const ports = poolPorts(n);
    expect(ports[poolIndexFromHash(flowHash(f1, 0, f1.length), n)]).not.toBe(ports[poolIndexFromHash(flowHash(f2, 0, f2.length), n)]);
  });
  it('pool ports are distinct and inside the range', () => {
    const p = poolPorts(64);
    expect(new Set(p).size).toBe(64);
    expect(p[0]).toBe(SRC_PORT_MIN);
    expect(Math.max(...p)).toBeLessThanOrEqual(SRC_PORT_MAX);
  });
  it('short frames hash without reading past the end', () => {
    expect(() => flowHash(Buffer.alloc(3), 0, 3)).not.toThrow();
    const f = tcp4('1.2.3.4', '5.6.7.8', 1, 2).subarray(0, 20);
    expect(typeof flowHash(f, 0, f.length)).toBe('number');
  });
});
