// Same-run A/B of the offload path: benchVtep rows kernel↔kernel, user↔user (offloads on) and
// user↔user (offloads off), interleaved `reps` times. node --import tsx harness/vtep/microbench/offload-ab.ts [reps] [seconds]
import { benchVtep } from '../bench.ts';

const reps = Number(process.argv[2] ?? 2);
const seconds = Number(process.argv[3] ?? 3);
const f = (x: number) => x.toFixed(3);
for (let r = 0; r < reps; r++) {
  const [kk, on] = await benchVtep({ pairs: [['kernel', 'kernel'], ['user', 'user']], seconds });
  const [off] = await benchVtep({ pairs: [['user', 'user']], seconds, userConfig: { offloads: false } });
  const row = (name: string, x: typeof kk) =>
    `${name.padEnd(18)} ${(x!.tcpBps / 1e9).toFixed(2).padStart(6)} Gbit/s  ${((x!.tcpBps / kk!.tcpBps) * 100).toFixed(1).padStart(5)} %  p50 ${f(x!.rttP50Ms)}  +p50 ${f(x!.rttP50Ms - kk!.rttP50Ms)}`;
  console.log([row('kernel↔kernel', kk), row('user↔user offload', on), row('user↔user plain', off)].join('\n'));
}
