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

  it('with every reader check declaring its reads, traffic waits for the reads (all of them), not for the comparisons', async () => {
    const log: string[] = [];
    // reads memoised per run as the routes suite's are: run() awaits the same promise, then compares
    const memo = new Map<string, Promise<void>>();
    const read = (key: string, ms: number) => () => {
      if (!memo.has(key)) memo.set(key, (async () => {
          log.push(`read ${key} start`);
          await sleep(ms);
          log.push(`read ${key} end`);
        })());
      return memo.get(key)!;
    };
    const readers: SuiteDef = {
      name: 'r',
      title: 'readers',
      readsOnly: true,
      checks: [
        { id: 'r/1', title: '', reads: read('state', 30), run: async () => (await read('state', 30)(), log.push('r1 compare start'), await sleep(60), log.push('r1 compare end'), pass()) },
        // a later check's own read (the pods' state): still before any traffic
        { id: 'r/2', title: '', reads: read('pods', 20), run: async () => (await read('pods', 20)(), await sleep(60), log.push('r2 compare end'), pass()) },
      ],
    };
    const capture: SuiteDef = {
      name: 'c',
      title: 'capture',
      gatesTraffic: true,
      checks: [{ id: 'c/1', title: '', run: async (ctx) => (await ctx.trafficGate?.(), log.push('c1 traffic'), pass()) }],
    };
    const traffic: SuiteDef = { name: 't', title: 'traffic', checks: [{ id: 't/1', title: '', run: async () => (log.push('t1 traffic'), pass()) }] };
    const { results } = await runSuites({ name: 'x', nodes: [] } as unknown as ResolvedTopology, [readers, capture, traffic], { workDir: '/tmp' });
    expect(results.map((r) => [r.id, r.status])).toEqual([['r/1', 'pass'], ['r/2', 'pass'], ['c/1', 'pass'], ['t/1', 'pass']]);
    // each read ran once, and no traffic before the last of them ended…
    expect(log.filter((x) => x.startsWith('read') && x.endsWith('start'))).toEqual(['read state start', 'read pods start']);
    for (const x of ['c1 traffic', 't1 traffic']) expect(log.indexOf(x), x).toBeGreaterThan(log.indexOf('read pods end'));
    // …while the comparisons were still running
    expect(log.indexOf('c1 traffic')).toBeLessThan(log.indexOf('r1 compare end'));
  });

  it('a reader check without declared reads holds the gate until the readers are done', async () => {
    const log: string[] = [];
    const readers: SuiteDef = {
      name: 'r',
      title: 'readers',
      readsOnly: true,
      checks: [
        { id: 'r/1', title: '', reads: async () => undefined, run: async () => (await sleep(10), pass()) },
        { id: 'r/2', title: '', run: async () => (await sleep(40), log.push('r2 end'), pass()) },
      ],
    };
    const traffic: SuiteDef = { name: 't', title: 'traffic', checks: [{ id: 't/1', title: '', run: async () => (log.push('t1 traffic'), pass()) }] };
    await runSuites({ name: 'x', nodes: [] } as unknown as ResolvedTopology, [readers, traffic], { workDir: '/tmp' });
    expect(log).toEqual(['r2 end', 't1 traffic']);
  });

  it('a read that fails opens the gate only when the readers are done (the check reports the failure)', async () => {
    const log: string[] = [];
    const readers: SuiteDef = {
      name: 'r',
      title: 'readers',
      readsOnly: true,
      checks: [{ id: 'r/1', title: '', reads: async () => Promise.reject(new Error('netns gone')), run: async () => (await sleep(30), log.push('r1 end'), Promise.reject(new Error('netns gone'))) }],
    };
    const traffic: SuiteDef = { name: 't', title: 'traffic', checks: [{ id: 't/1', title: '', run: async () => (log.push('t1 traffic'), pass()) }] };
    const { results } = await runSuites({ name: 'x', nodes: [] } as unknown as ResolvedTopology, [readers, traffic], { workDir: '/tmp' });
    expect(log).toEqual(['r1 end', 't1 traffic']);
    expect(results[0]).toMatchObject({ id: 'r/1', status: 'fail', message: 'check crashed: netns gone' });
  });

  it('without reader suites nothing waits', async () => {
    const s: SuiteDef = { name: 't', title: '', checks: [{ id: 't/1', title: '', run: async (ctx) => (await ctx.trafficGate?.(), pass()) }] };
    const { results } = await runSuites({ name: 'x', nodes: [] } as unknown as ResolvedTopology, [s], { workDir: '/tmp' });
    expect(results.map((r) => [r.id, r.status])).toEqual([['t/1', 'pass']]);
  });
});
