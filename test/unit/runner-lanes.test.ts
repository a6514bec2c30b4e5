// runSuites' lanes (#14 concurrency): a readsOnly suite runs alongside the others; a suite that sends traffic waits
// for the readers (before each check, or at ctx.trafficGate() for a gatesTraffic suite); the report keeps suite order.
// Pure scheduling logic: the suites here are fakes that record when they run, no kernel involved.
import { describe, expect, it } from 'vitest';
import { runSuites } from '../../harness/runner/runner.ts';
import { pass, type SuiteDef } from '../../harness/runner/check.ts';
import type { ResolvedTopology } from '../../harness/topology/resolved.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('runSuites lanes', () => {
  it('readers run alongside a gatesTraffic suite whose traffic waits for them; other suites wait before each check; order kept', async () => {
    const log: string[] = [];
    const readers: SuiteDef = {
      name: 'r',
      title: 'readers',
      readsOnly: true,
      checks: [1, 2].map((i) => ({ id: `r/${i}`, title: '', run: async () => (log.push(`r${i} start`), await sleep(40), log.push(`r${i} end`), pass()) })),
    };
    const capture: SuiteDef = {
      name: 'c',
      title: 'capture',
      gatesTraffic: true,
      checks: [
        {
          id: 'c/1',
          title: '',
          run: async (ctx) => {
            log.push('c1 capture started');
            await ctx.trafficGate?.();
            log.push('c1 traffic');
            return pass();
          },
        },
      ],
    };
    const traffic: SuiteDef = { name: 't', title: 'traffic', checks: [{ id: 't/1', title: '', run: async () => (log.push('t1'), pass()) }] };
    const t = { name: 'x', nodes: [] } as unknown as ResolvedTopology;
    const { results, interrupted } = await runSuites(t, [readers, capture, traffic], { workDir: '/tmp' });
    expect(interrupted).toBe(false);
    expect(results.map((r) => r.id)).toEqual(['r/1', 'r/2', 'c/1', 't/1']);
    // the capture starts while the readers read; its traffic and the next suite only after the last reader
    expect(log.indexOf('c1 capture started')).toBeLessThan(log.indexOf('r1 end'));
    expect(log.indexOf('c1 traffic')).toBeGreaterThan(log.indexOf('r2 end'));
    expect(log.indexOf('t1')).toBeGreaterThan(log.indexOf('r2 end'));
  });

  it('without reader suites nothing waits', async () => {
    const s: SuiteDef = { name: 't', title: '', checks: [{ id: 't/1', title: '', run: async (ctx) => (await ctx.trafficGate?.(), pass()) }] };
    const { results } = await runSuites({ name: 'x', nodes: [] } as unknown as ResolvedTopology, [s], { workDir: '/tmp' });
    expect(results.map((r) => [r.id, r.status])).toEqual([['t/1', 'pass']]);
  });
});
