// Forwarding database of the userspace VTEP: remote VTEP MAC → remote underlay IP (IPv4 as uint32, IPv6 as the id
// its AddrTable interned it to).
// Static entries (from the config, like `bridge fdb append ... permanent`) never age and are never
// overwritten by learning; learned entries carry a last-seen time and are removed by age().
// Keys are 48-bit MACs as numbers and IPs as uint32 so the data path allocates nothing.
import { macKeyFromString, macKeyToString } from './codec.ts';
import { AddrTable } from './addr.ts';

export type LearnResult = 'new' | 'moved' | 'refreshed' | 'static' | 'ignored';

export interface FdbDumpEntry {
  mac: string;
  dst: string;
  type: 'static' | 'learned';
  /** seconds since last seen (learned entries only) */
  ageSec?: number;
}

interface Learned {
  dst: number;
  lastSeen: number;
}

export interface FdbOptions {
  ageingSec?: number;
  /** milliseconds clock; injectable for tests */
  now?: () => number;
  /** hard cap on learned entries (oldest evicted); default 16384 */
  maxLearned?: number;
  /** how IP strings map to numbers (default: IPv4, numbers are the uint32 addresses) */
  addrs?: AddrTable;
}

export class Fdb {
  private readonly statics = new Map<number, number>();
  private readonly learned = new Map<number, Learned>();
  private targets: number[] = [];
  private targetsDirty = true;
  readonly ageingMs: number;
  readonly now: () => number;
  readonly maxLearned: number;
  readonly addrs: AddrTable;
  /** bumps whenever the mapping (not just a timestamp) changes */
  version = 0;

  constructor(opts: FdbOptions = {}) {
    this.ageingMs = (opts.ageingSec ?? 300) * 1000;
    this.now = opts.now ?? Date.now;
    this.maxLearned = opts.maxLearned ?? 16384;
    this.addrs = opts.addrs ?? new AddrTable(4);
  }

  addStatic(mac: string | number, dst: string | number): void {
    const k = typeof mac === 'number' ? mac : macKeyFromString(mac);
    const ip = typeof dst === 'number' ? dst : this.addrs.intern(dst);
    this.statics.set(k, ip);
    this.learned.delete(k);
    this.changed();
  }

  removeStatic(mac: string | number): boolean {
    const k = typeof mac === 'number' ? mac : macKeyFromString(mac);
    const had = this.statics.delete(k);
    if (had) this.changed();
    return had;
  }

  /** Learn inner source MAC `key` behind outer source IP `ip`. Multicast/zero MACs are ignored. */
  learn(key: number, ip: number, now = this.now()): LearnResult {
    // I/G bit of the first octet = bit 40 of the key
    if (key === 0 || Math.floor(key / 0x10000000000) % 2 === 1) return 'ignored';
    if (this.statics.has(key)) return 'static';
    const e = this.learned.get(key);
    if (e) {
      e.lastSeen = now;
      if (e.dst === ip) return 'refreshed';
      e.dst = ip;
      this.changed();
      return 'moved';
    }
    if (this.learned.size >= this.maxLearned) this.evictOldest();
    this.learned.set(key, { dst: ip, lastSeen: now });
    this.changed();
    return 'new';
  }

  /** Apply a learned entry as-is (mirror copies on other threads). */
  setLearned(key: number, ip: number, lastSeen = this.now()): void {
    if (this.statics.has(key)) return;
    const e = this.learned.get(key);
    if (e && e.dst === ip) {
      e.lastSeen = lastSeen;
      return;
    }
    this.learned.set(key, { dst: ip, lastSeen });
    this.changed();
  }

  forget(key: number): boolean {
    const had = this.learned.delete(key);
    if (had) this.changed();
    return had;
  }

  /** Remote IP for a unicast MAC, or undefined. Static wins over learned. */
  lookup(key: number): number | undefined {
    const s = this.statics.get(key);
    if (s !== undefined) return s;
    return this.learned.get(key)?.dst;
  }

  /** Remove learned entries not seen for ageingSec; returns the removed MAC keys. */
  age(now = this.now()): number[] {
    const removed: number[] = [];
    for (const [k, e] of this.learned) {
      if (now - e.lastSeen >= this.ageingMs) {
        this.learned.delete(k);
        removed.push(k);
      }
    }
    if (removed.length) this.changed();
    return removed;
  }

  /** Distinct remote VTEP IPs (static and learned) for head-end replication, stable order. */
  replicationTargets(): number[] {
    if (this.targetsDirty) {
      const s = new Set<number>();
      for (const ip of this.statics.values()) s.add(ip);
      for (const e of this.learned.values()) s.add(e.dst);
      this.targets = [...s];
      this.targetsDirty = false;
    }
    return this.targets;
  }

  get size(): { static: number; learned: number } {
    return { static: this.statics.size, learned: this.learned.size };
  }

  learnedEntries(): Array<{ key: number; dst: number; lastSeen: number }> {
    return [...this.learned].map(([key, e]) => ({ key, dst: e.dst, lastSeen: e.lastSeen }));
  }

  dump(now = this.now()): FdbDumpEntry[] {
    const out: FdbDumpEntry[] = [];
    for (const [k, ip] of this.statics) out.push({ mac: macKeyToString(k), dst: this.addrs.toString(ip), type: 'static' });
    for (const [k, e] of this.learned)
      out.push({ mac: macKeyToString(k), dst: this.addrs.toString(e.dst), type: 'learned', ageSec: Math.max(0, Math.floor((now - e.lastSeen) / 1000)) });
    return out;
  }

  private evictOldest(): void {
    let oldK: number | undefined;
    let oldT = Infinity;
    for (const [k, e] of this.learned) if (e.lastSeen < oldT) (oldT = e.lastSeen), (oldK = k);
    if (oldK !== undefined) this.learned.delete(oldK);
  }

  private changed(): void {
    this.targetsDirty = true;
    this.version++;
  }
}
