// temporary profiler (not committed): stage timings of up/down at N nodes
import { up } from '../harness/runtime/lifecycle.ts';
import { plan as makePlan, renderPlan } from '../harness/plan/plan.ts';
import { normalize } from '../harness/topology/normalize.ts';
import { TopologySchema } from '../harness/topology/schema.ts';
const n = Number(process.argv[2] ?? 300);
const topo = TopologySchema.parse({
  name: `sc${n}`,
  underlay: { mtu: 1500, segments: [{ name: 'rack1', cidr: '192.168.0.0/16' }] },
  overlay: { layout: 'flannel', vtep: 'kernel', vni: 1, port: 4789, podCidr: '10.64.0.0/10', nodeCidrSize: 24 },
  nodes: Array.from({ length: n }, (_, i) => ({ name: `n${i + 1}`, pods: 1 })),
});
const runId = `p${process.pid}`;
let a = performance.now();
const t = normalize(topo, { runId });
console.log('normalize', Math.round(performance.now() - a));
a = performance.now();
const p = makePlan(t);
console.log('plan', Math.round(performance.now() - a));
let lines = 0; for (const s of p.stages) for (const st of s.steps) for (const o of st.ops) if ('lines' in o) lines += o.lines.length;
console.log('lines', lines, 'rss MB', Math.round(process.memoryUsage().rss / 1e6));
const t2 = normalize(topo, { runId });
let last = performance.now(); let lastName = 'pre-stages';
const t0 = performance.now();
const r = await up(t2, { ephemeral: true, onStage: (s) => { const now = performance.now(); console.log('  ', lastName, Math.round(now - last)); last = now; lastName = s; } });
console.log('  ', lastName, Math.round(performance.now() - last));
console.log('up total', Math.round(performance.now() - t0), 'rss MB', Math.round(process.memoryUsage().rss / 1e6));
a = performance.now();
await r.down();
console.log('down total', Math.round(performance.now() - a));
