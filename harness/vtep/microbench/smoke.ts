// Manual smoke run: node --import tsx harness/vtep/microbench/smoke.ts <kindA> <kindB>
import { createVtepLab, ping } from '../lab.ts';
const lab = await createVtepLab({ tag: 'smoke', a: (process.argv[2] ?? 'kernel') as any, b: (process.argv[3] ?? 'user') as any });
try {
  console.log('a→b', (await ping(lab.a.ns, lab.b.podIp)).stdout);
  console.log('b→a', (await ping(lab.b.ns, lab.a.podIp)).stdout);
  for (const s of [lab.a, lab.b]) if (s.vtep) console.log(JSON.stringify((await s.vtep.stats()).counters), '\n', s.vtep.log());
} finally {
  await lab.destroy();
}
