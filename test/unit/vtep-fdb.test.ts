import { describe, expect, it } from 'vitest';
import { ipv4ToInt as ip, macKeyFromString as mk } from '../../harness/vtep/codec.ts';
import { Fdb } from '../../harness/vtep/fdb.ts';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('Fdb', () => {
  it('static entries: lookup, replication targets, never aged, not overwritten by learning', () => {
    const c = clock();
    const f = new Fdb({ ageingSec: 10, now: c.now });
    f.addStatic('02:00:00:00:00:02', '192.0.2.2');
    f.addStatic('02:00:00:00:00:03', '192.0.2.3');
    expect(f.lookup(mk('02:00:00:00:00:02'))).toBe(ip('192.0.2.2'));
    expect(f.learn(mk('02:00:00:00:00:02'), ip('192.0.2.99'))).toBe('static');
    expect(f.lookup(mk('02:00:00:00:00:02'))).toBe(ip('192.0.2.2'));
    c.advance(1_000_000);
    expect(f.age()).toEqual([]);
    expect(f.dump()).toEqual([
      { mac: '02:00:00:00:00:02', dst: '192.0.2.2', type: 'static' },
      { mac: '02:00:00:00:00:03', dst: '192.0.2.3', type: 'static' },
    ]);
  });

  it('learns new, refreshes, detects moves', () => {
    const c = clock();
    const f = new Fdb({ ageingSec: 300, now: c.now });
    const m = mk('0a:00:00:00:00:01');
    expect(f.lookup(m)).toBeUndefined();
    expect(f.learn(m, ip('192.0.2.5'))).toBe('new');
    expect(f.learn(m, ip('192.0.2.5'))).toBe('refreshed');
    const v = f.version;
    expect(f.learn(m, ip('192.0.2.6'))).toBe('moved');
    expect(f.version).toBeGreaterThan(v);
    expect(f.lookup(m)).toBe(ip('192.0.2.6'));
  });

  it('ignores broadcast, multicast and all-zero source MACs', () => {
    const f = new Fdb();
    expect(f.learn(mk('ff:ff:ff:ff:ff:ff'), 1)).toBe('ignored');
    expect(f.learn(mk('01:00:5e:00:00:01'), 1)).toBe('ignored');
    expect(f.learn(mk('33:33:00:00:00:01'), 1)).toBe('ignored');
    expect(f.learn(0, 1)).toBe('ignored');
    expect(f.size).toEqual({ static: 0, learned: 0 });
  });

  it('ages learned entries with an injectable clock; refresh postpones ageing; dump shows age in seconds', () => {
    const c = clock();
    const f = new Fdb({ ageingSec: 300, now: c.now });
    const a = mk('0a:00:00:00:00:0a');
    const b = mk('0a:00:00:00:00:0b');
    f.learn(a, ip('192.0.2.10'));
    f.learn(b, ip('192.0.2.11'));
    c.advance(200_000);
    f.learn(a, ip('192.0.2.10')); // refresh a
    c.advance(42_500);
    expect(f.dump().map((e) => [e.mac, e.ageSec])).toEqual([
      ['0a:00:00:00:00:0a', 42],
      ['0a:00:00:00:00:0b', 242],
    ]);
    c.advance(57_500); // b is now 300 s old, a 100 s
    expect(f.age()).toEqual([b]);
    expect(f.lookup(b)).toBeUndefined();
    expect(f.lookup(a)).toBe(ip('192.0.2.10'));
    c.advance(200_000);
    expect(f.age()).toEqual([a]);
    expect(f.size.learned).toBe(0);
  });

  it('replication targets: distinct remote IPs over static and learned entries, updated on change', () => {
    const f = new Fdb();
    f.addStatic('02:00:00:00:00:02', '192.0.2.2');
    f.addStatic('02:00:00:00:00:12', '192.0.2.2'); // same node, second MAC
    f.addStatic('02:00:00:00:00:03', '192.0.2.3');
    expect(f.replicationTargets()).toEqual([ip('192.0.2.2'), ip('192.0.2.3')]);
    f.learn(mk('0a:00:00:00:00:01'), ip('192.0.2.4'));
    f.learn(mk('0a:00:00:00:00:02'), ip('192.0.2.3'));
    expect(f.replicationTargets()).toEqual([ip('192.0.2.2'), ip('192.0.2.3'), ip('192.0.2.4')]);
    f.forget(mk('0a:00:00:00:00:01'));
    expect(f.replicationTargets()).toEqual([ip('192.0.2.2'), ip('192.0.2.3')]);
    expect(new Fdb().replicationTargets()).toEqual([]);
  });

  it('mirror copies (setLearned/forget) follow the authoritative table', () => {
    const f = new Fdb();
    f.setLearned(mk('0a:00:00:00:00:01'), 7, 5);
    expect(f.lookup(mk('0a:00:00:00:00:01'))).toBe(7);
    f.addStatic('0a:00:00:00:00:01', '0.0.0.9'); // static replaces learned
    expect(f.lookup(mk('0a:00:00:00:00:01'))).toBe(9);
    f.setLearned(mk('0a:00:00:00:00:01'), 7, 5); // ignored: static wins
    expect(f.lookup(mk('0a:00:00:00:00:01'))).toBe(9);
  });

  it('caps learned entries by evicting the oldest', () => {
    const c = clock();
    const f = new Fdb({ now: c.now, maxLearned: 2 });
    f.learn(mk('0a:00:00:00:00:01'), 1);
    c.advance(1);
    f.learn(mk('0a:00:00:00:00:02'), 2);
    c.advance(1);
    f.learn(mk('0a:00:00:00:00:03'), 3);
    expect(f.lookup(mk('0a:00:00:00:00:01'))).toBeUndefined();
    expect(f.size.learned).toBe(2);
  });
});
