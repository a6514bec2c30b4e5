// Reading the userspace VTEP's own FDB (it has no kernel FDB) in the shape of `bridge -j fdb`.
import type { CheckContext } from '../runner/check.ts';
import type { ResolvedNode } from '../topology/resolved.ts';
import type { FdbInfo } from './kernel.ts';
import { vtepPaths } from '../runtime/vtep-launch.ts';

export async function readVtepFdb(ctx: CheckContext, n: ResolvedNode, timeoutMs?: number): Promise<FdbInfo[]> {
  const { readVtepStats } = await import('../vtep/stats.ts');
  const s = await readVtepStats(vtepPaths(ctx.workDir, n.name).control, timeoutMs);
  return s.fdb.map((e: any) => ({ mac: e.mac, ifname: n.vtep.dev, dst: e.dst, flags: ['self'], state: e.static ? 'permanent' : undefined, ageSec: e.ageSec }));
}
