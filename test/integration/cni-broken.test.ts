// Each broken plugin in test/fixtures/cni/broken is caught by the expected cni/* check, with a
// precise message. Needs root: skipped without it, failed without it under CI=true.
import { afterAll, describe, expect, it } from 'vitest';
import { type CniCheckId, runCniChecks } from '../../harness/cni/checks.ts';
import { CniRuntime, type Conflist } from '../../harness/cni/runtime.ts';
import type { CheckResult } from '../../harness/report/types.ts';
import { run } from '../../harness/util/exec.ts';
import { BROKEN_DIR, NsPool, rootOrSkip, SYSTEM_CNI_DIR, workDir } from './cni-env.ts';
import { join } from 'node:path';

const enabled = rootOrSkip();
const pools: NsPool[] = [];
afterAll(async () => {
  for (const p of pools) await p.cleanup();
  for (const p of pools) expect(await p.remaining()).toEqual([]);
});

const hostLocal = (subnet: string) => ({ type: 'host-local', ranges: [[{ subnet }]], routes: [{ dst: '0.0.0.0/0' }] });

async function runBroken(conflist: Conflist, timeoutMs = 10_000): Promise<Map<string, CheckResult>> {
  const pool = new NsPool();
  pools.push(pool);
  const wd = await workDir();
  try {
    const node = await pool.add('node');
    const rs = await runCniChecks({
      conflist,
      binDirs: [BROKEN_DIR, SYSTEM_CNI_DIR],
      nodeNs: node,
      makePodNs: () => pool.add('pod'),
      deletePodNs: (ns) => pool.del(ns),
      workDir: wd.dir,
      timeoutMs,
    });
    return new Map(rs.map((r) => [r.id, r]));
  } finally {
    await pool.cleanup();
    await wd.cleanup();
    expect(await pool.remaining()).toEqual([]);
  }
}

function statuses(m: Map<string, CheckResult>): Record<string, string> {
  return Object.fromEntries([...m].map(([id, r]) => [id, r.status]));
}

function dump(m: Map<string, CheckResult>): string {
  return [...m.values()].map((r) => `${r.status} ${r.id}: ${r.message}`).join('\n');
}

function expectOnlyFailing(m: Map<string, CheckResult>, failing: CniCheckId[]): void {
  for (const [id, r] of m) {
    if (failing.includes(id as CniCheckId)) expect(r.status, `${id}\n${dump(m)}`).toBe('fail');
    else expect(r.status, `${id}\n${dump(m)}`).not.toBe('fail');
  }
}

describe.skipIf(!enabled)('broken plugins are caught', () => {
  it('every fixture answers VERSION', async () => {
    const pool = new NsPool();
    pools.push(pool);
    const wd = await workDir();
    try {
      const node = await pool.add('node');
      const rt = new CniRuntime({ binDirs: [BROKEN_DIR], cacheDir: join(wd.dir, 'cache'), nodeNs: node });
      for (const t of ['invalid-json', 'leaky', 'dup-ip', 'ignores-prevresult', 'hangs']) {
        const v = await rt.version(t, '1.0.0');
        expect(v.supportedVersions, t).toContain('1.0.0');
      }
    } finally {
      await pool.cleanup();
      await wd.cleanup();
    }
  });

  it('invalid-json: cni/add-result-valid fails with the JSON parse error and the garbage shown', async () => {
    const m = await runBroken({ cniVersion: '1.0.0', name: 'vxt-b-json', plugins: [{ type: 'invalid-json' }] });
    expect(m.get('cni/version')!.status).toBe('pass');
    const r = m.get('cni/add-result-valid')!;
    expect(r.status).toBe('fail');
    expect(r.message).toMatch(
      /^plugin "invalid-json" \(plugins\[0\]\) ADD printed malformed JSON on stdout \(.+\); expected a CNI 1\.0\.0 result; stdout was "ok, added \{interfaces: eth0"$/,
    );
    expect((r.observed as any).kind).toBe('invalid-output');
    for (const id of ['cni/add-matches-netns', 'cni/check-after-add', 'cni/del-idempotent'] as const) {
      expect(m.get(id)!.status).toBe('skip');
      expect(m.get(id)!.skipReason).toBe('ADD failed (see cni/add-result-valid)');
    }
    // it also "succeeds" an ADD that lacks the network name
    expect(m.get('cni/add-missing-field-error')!.message).toBe('plugin "invalid-json" ADD without the required "name" field succeeded (exit 0); expected a CNI error');
  });

  it('leaky: cni/del-cleans-up names the host-side interfaces left behind', async () => {
    const m = await runBroken({
      cniVersion: '1.0.0',
      name: 'vxt-b-leaky',
      plugins: [{ type: 'leaky', bridge: 'vxtleak0', isGateway: true, ipam: hostLocal('10.247.1.0/24') }],
    });
    expectOnlyFailing(m, ['cni/del-cleans-up']);
    const r = m.get('cni/del-cleans-up')!;
    expect(r.message).toMatch(/^host-side interface\(s\) left in node netns vxt-cni-node-\S+ after DEL: (lk\d+), \1p \(ADD of vxt-\S+ created: \1, \1p, veth[0-9a-f]+\)$/);
    expect(r.diffs).toHaveLength(1);
    expect(statuses(m)['cni/add-matches-netns']).toBe('pass');
  });

  it('dup-ip: cni/concurrent-add-distinct-ips names the duplicated address and every pod holding it', async () => {
    const m = await runBroken({
      cniVersion: '1.0.0',
      name: 'vxt-b-dup',
      plugins: [{ type: 'bridge', bridge: 'vxtdup0', ipam: { type: 'dup-ip', dupAddress: '10.248.1.50/24', dupGateway: '10.248.1.1' } }],
    });
    expectOnlyFailing(m, ['cni/concurrent-add-distinct-ips']);
    expect(m.get('cni/concurrent-add-distinct-ips')!.message).toMatch(
      /^duplicate IPs across 4 concurrent ADDs: 10\.248\.1\.50 was given to 4 pods \(vxt-\S+-c\d+, vxt-\S+-c\d+, vxt-\S+-c\d+, vxt-\S+-c\d+\)$/,
    );
  });

  it('ignores-prevresult: the chained ADD is rejected, naming what it dropped', async () => {
    const m = await runBroken({
      cniVersion: '1.0.0',
      name: 'vxt-b-ign',
      plugins: [{ type: 'bridge', bridge: 'vxtign0', isGateway: true, ipam: hostLocal('10.249.1.0/24') }, { type: 'ignores-prevresult' }],
    });
    const r = m.get('cni/add-result-valid')!;
    expect(r.status).toBe('fail');
    expect(r.message).toMatch(
      /^plugin "ignores-prevresult" \(plugins\[1\]\) ADD returned a result that drops prevResult content \(a chained plugin must pass prevResult through\): interfaces\[0\] "vxtign0" missing; interfaces\[1\] "veth[0-9a-f]+" missing; interfaces\[2\] "eth0" \(sandbox \/var\/run\/netns\/vxt-cni-pod-\S+\) missing; ips\[0\] 10\.249\.1\.\d+\/24 missing$/,
    );
    expect((r.observed as any).kind).toBe('chaining');
    expect(m.get('cni/concurrent-add-distinct-ips')!.status).toBe('fail');
    // the first plugin validates its config properly, so this one still passes
    expect(m.get('cni/add-missing-field-error')!.status).toBe('pass');
  });

  it('hangs: killed after the timeout and reported as hung; no plugin process survives', async () => {
    const t0 = Date.now();
    const m = await runBroken({ cniVersion: '1.0.0', name: 'vxt-b-hang', plugins: [{ type: 'hangs' }] }, 1_500);
    expect(Date.now() - t0).toBeLessThan(60_000);
    const r = m.get('cni/add-result-valid')!;
    expect(r.status).toBe('fail');
    expect(r.message).toBe('plugin "hangs" (plugins[0]) ADD did not finish within 1500 ms and was killed (hung plugin)');
    expect((r.observed as any).kind).toBe('timeout');
    expect(r.durationMs).toBeGreaterThanOrEqual(1_400);
    expect(m.get('cni/concurrent-add-distinct-ips')!.message).toMatch(/^4 of 4 concurrent ADDs failed; first: vxt-\S+: plugin "hangs" \(plugins\[0\]\) ADD did not finish within 1500 ms/);
    // the fixture's `sleep 100000` children were killed with their process group
    const ps = await run(['pgrep', '-f', 'sleep 100000'], { reject: false });
    expect(ps.stdout.trim()).toBe('');
  });
});
