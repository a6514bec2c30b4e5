// Ping RTT through user↔user labs with offloads on and off, alternating, same run:
// node --import tsx harness/vtep/microbench/rtt.ts [reps] [pings]
import { createVtepLab, ping } from '../lab.ts';

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil((p / 100) * xs.length) - 1)]!;
const reps = Number(process.argv[2] ?? 3);
for (let r = 0; r < reps; r++) {
  for (const offloads of [true, false]) {
    const lab = await createVtepLab({ tag: 'rtt', a: { kind: 'user', config: { offloads } }, b: { kind: 'user', config: { offloads } } });
    try {
      await ping(lab.a.ns, lab.b.podIp, { count: 3, intervalS: 0.05 });
      const p = await ping(lab.a.ns, lab.b.podIp, { count: Number(process.argv[3] ?? 200), intervalS: 0.005 });
      console.log(`offloads ${offloads ? 'on ' : 'off'}: p50 ${pct(p.rttsMs, 50).toFixed(3)} ms  p99 ${pct(p.rttsMs, 99).toFixed(3)} ms  (${p.received}/${p.sent})`);
    } finally {
      await lab.destroy();
    }
  }
}
