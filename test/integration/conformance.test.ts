// `vxlab conformance` end to end, with Debian's reference CNI plugins (/usr/lib/cni) and the broken plugin fixtures.
// Needs root (failed, not skipped, without it under CI=true). After every case: no vx-<run>- namespace and no state
// file of that run remain. (overlay.cni's runs are in conformance-run.test.ts, broken plugins in
// conformance-broken.test.ts; helpers in test/helpers/conformance.ts.)
import { needsRoot } from '../helpers/root.ts';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { statePath } from '../../harness/runtime/state.ts';
import { BROKEN, conflist, conformance, EXPECTED_SKIPS, failing, hostLocal, runId, runsGone, SYS, table, tmp, vxlab } from '../helpers/conformance.ts';

afterEach(runsGone);

describe.skipIf(needsRoot)('vxlab conformance', () => {
  it('(a) bridge + host-local: green', async () => {
    const o = await conformance(['--conflist', 'topologies/cni/bridge.conflist']);
    expect(failing(o), table(o.report.results)).toEqual([]);
    expect(o.exitCode).toBe(0);
    const cni = o.report.results.filter((r) => r.suite === 'cni');
    expect(cni.map((r) => r.status)).toEqual(Array(8).fill('pass'));
    expect(new Set(o.report.results.map((r) => r.suite))).toEqual(new Set(['cni', 'conformance', 'routes', 'encapsulation', 'mtu', 'connectivity']));
    expect(o.report.results.filter((r) => r.status === 'skip').map((r) => r.id)).toEqual(EXPECTED_SKIPS);
    expect(o.byId.get('conformance/attach')!.message).toMatch(/^6 pods attached: node1\/pod1 10\.244\.1\.\d+\/24 via veth[0-9a-f]{8}, /);
    expect(o.byId.get('conformance/detach')!.message).toBe('6 pod(s) deleted');
    expect((o.byId.get('routes/vxlan-device')!.expected as any).node1.dev).toBe('flannel.1');
  });

  it('(b) ptp + host-local: calico layout, green', async () => {
    const o = await conformance(['--conflist', 'topologies/cni/ptp.conflist', '--bin-dir', SYS]);
    expect(failing(o), table(o.report.results)).toEqual([]);
    expect(o.exitCode).toBe(0);
    expect((o.byId.get('routes/vxlan-device')!.expected as any).node1.dev).toBe('vxlan.calico');
    expect(o.report.results.filter((r) => r.status === 'skip').map((r) => r.id)).toEqual(EXPECTED_SKIPS);
    expect(o.byId.get('routes/pod-attachment')!.status).toBe('pass');
  });

  it('(c) bridge + host-local + tuning + portmap: only cni/check-after-add fails, with portmap\'s CHECK bug (containernetworking/plugins#819)', async () => {
    const o = await conformance(['--conflist', 'topologies/cni/bridge-tuning-portmap.conflist', '--bin-dir', SYS]);
    // Debian's plugins 1.1.1: portmap CHECKs the IPv4 DNAT rules in the ip6tables nat table as well
    expect(failing(o).map((r) => r.id), table(o.report.results)).toEqual(['cni/check-after-add']);
    expect(o.byId.get('cni/check-after-add')!.message).toMatch(
      /^plugin "portmap" \(plugins\[2\]\) CHECK failed with CNI error 999 \(plugin-specific error \(999: generic\/internal failure\)\): could not check ipv6 dnat: rule .*--to-destination 10\.244\.1\.\d+:80.* in chain CNI-DN-[0-9a-f]+ not found in table nat$/,
    );
    expect(o.exitCode).toBe(1);
    expect(o.report.results.filter((r) => r.status === 'skip').map((r) => r.id)).toEqual(EXPECTED_SKIPS);
    expect((o.byId.get('cni/add-result-valid')!.observed as any).ips.map((i: any) => i.address)).toEqual([
      expect.stringMatching(/^10\.244\.1\.\d+\/24$/),
      expect.stringMatching(/^fd00:244::/),
    ]);
  });

  describe('bad input: exit 2 naming file and field; nothing on the host changes', () => {
    const bad = async (args: string[], stderr: string | RegExp) => {
      const id = runId();
      const before = readdirSync('/var/run/netns').length;
      const r = await vxlab(['conformance', '--run-id', id, ...args]);
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
      if (typeof stderr === 'string') expect(r.stderr.trim()).toBe(stderr);
      else expect(r.stderr.trim()).toMatch(stderr);
      expect(readdirSync('/var/run/netns').filter((n) => n.startsWith(`vx-${id}-`))).toEqual([]);
      expect(existsSync(statePath(id))).toBe(false);
      void before;
    };

    it('missing conflist', async () => {
      const f = join(tmp(), 'nope.conflist');
      await bad(['--conflist', f], `vxlab: --conflist: ${f}: file does not exist`);
    });
    it('unknown field', async () => {
      const f = conflist({ cniVersion: '1.0.0', name: 'unk', plugins: [{ type: 'bridge', ipam: hostLocal() }], ipam: {} });
      await bad(['--conflist', f], `vxlab: --conflist: ${f}: ipam: unknown top-level field (allowed: cniVersion, cniVersions, name, disableCheck, disableGC, loadOnlyInlinedPlugins, plugins)`);
    });
    it('plugin not found in --bin-dir', async () => {
      const f = conflist({ cniVersion: '1.0.0', name: 'np', plugins: [{ type: 'bridge', ipam: hostLocal() }, { type: 'portmap' }] });
      await bad(['--conflist', f, '--bin-dir', BROKEN], `vxlab: --conflist: ${f}: plugins[0].type: CNI plugin "bridge" not found in binDirs [${BROKEN}]; tried: ${BROKEN}/bridge (missing)`);
    });
    it('IPAM plugin not found', async () => {
      const f = conflist({ cniVersion: '1.0.0', name: 'nipam', plugins: [{ type: 'bridge', ipam: { type: 'whereabouts' } }] });
      await bad(['--conflist', f], new RegExp(`^vxlab: --conflist: ${f}: plugins\\[0\\]\\.ipam\\.type: CNI plugin "whereabouts" not found in binDirs \\[/usr/lib/cni, /opt/cni/bin\\]`));
    });
    it('invalid JSON, missing --conflist, bad --bin-dir', async () => {
      const dir = tmp();
      writeFileSync(join(dir, 'broken.conflist'), '{"cniVersion": "1.0.0", ');
      await bad(['--conflist', join(dir, 'broken.conflist')], new RegExp(`^vxlab: --conflist: ${join(dir, 'broken.conflist')}: invalid JSON`));
      await bad([], 'vxlab: conformance: expected --conflist FILE');
      await bad(['--conflist', 'topologies/cni/bridge.conflist', '--bin-dir', '/nonexistent-cni'], 'vxlab: --bin-dir /nonexistent-cni: /nonexistent-cni is not a directory');
    });
  });
});
