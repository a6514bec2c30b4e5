// benchVtep() runs end to end and cleans up. Asserts shape and that traffic flowed — no timing thresholds.
import { describe, expect, it } from 'vitest';
import { benchVtep } from '../../harness/vtep/bench.ts';
import { spawn, spawnSync } from 'node:child_process';
import { deleteNamespace, listVtepNamespaces } from '../../harness/vtep/lab.ts';

const isRoot = process.getuid?.() === 0;
const suite = isRoot || process.env.CI === 'true' ? describe : describe.skip;

suite('benchVtep', () => {
  it('returns a row per pair with ratios vs kernel↔kernel and leaves no namespaces behind', async () => {
    if (!isRoot) throw new Error('benchVtep needs root');
    // a killed bench's leftovers (its pid gone) are removed; a running one's (a live pid) are not
    const dead = spawnSync('true').pid!;
    const live = spawn('sleep', ['120'], { stdio: 'ignore' });
    const [deadNs, liveNs] = [`vxt-vtep-bench${dead}-a`, `vxt-vtep-bench${live.pid}-a`];
    for (const ns of [deadNs, liveNs]) spawnSync('ip', ['netns', 'add', ns]);
    const logged: string[] = [];
    let rows;
    try {
      expect(await listVtepNamespaces('vxt-vtep-bench')).toEqual(expect.arrayContaining([deadNs, liveNs]));
      rows = await benchVtep({ seconds: 1, pings: 20, log: (s: string) => logged.push(s) });
      const left = await listVtepNamespaces('vxt-vtep-bench');
      expect(left).not.toContain(deadNs);
      expect(left).toContain(liveNs);
      expect(logged).toContain(`removed ${deadNs}, left by a bench that is no longer running`);
    } finally {
      live.kill();
      for (const ns of [deadNs, liveNs]) await deleteNamespace(ns);
    }
    expect(rows.map((r) => r.pair)).toEqual(['kernel↔kernel', 'user↔user', 'kernel↔user', 'user↔kernel']);
    for (const r of rows) {
      expect(r.tcpBps, r.pair).toBeGreaterThan(0);
      expect(r.pingLoss, r.pair).toBe(0);
      expect(Number.isFinite(r.rttP50Ms)).toBe(true);
      expect(Number.isFinite(r.tcpRatio)).toBe(true);
    }
    expect(rows[0]!.tcpRatio).toBe(1);
    expect(await listVtepNamespaces(`vxt-vtep-bench${process.pid}-`)).toEqual([]); // this process's only: other benches may run alongside
  });
});
