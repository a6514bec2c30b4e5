// `vxlab conformance` end to end with the broken plugin fixtures (and a failing DEL), split from conformance.test.ts.
// Needs root (failed, not skipped, without it under CI=true). After every case: no vx-<run>- namespace and no state
// file of that run remain. (overlay.cni's runs are in conformance-run.test.ts; helpers in test/helpers/conformance.ts.)
import { needsRoot } from '../helpers/root.ts';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../../harness/util/exec.ts';
import { BROKEN, conflist, conformance, failing, hostLocal, type Out, runsGone, SYS, table, tmp } from '../helpers/conformance.ts';

afterEach(runsGone);

describe.skipIf(needsRoot)('vxlab conformance', () => {
  describe('broken plugins are caught end to end', () => {
    const bins = ['--bin-dir', BROKEN, '--bin-dir', SYS];
    const suitesSkipped = (o: Out) => {
      for (const r of o.report.results.filter((x) => !['cni', 'conformance'].includes(x.suite))) {
        expect(r.status, r.id).toBe('skip');
        expect(r.skipReason).toBe('the pods could not be attached (see conformance/attach)');
      }
    };

    it('invalid-json: cni/add-result-valid shows the parse error and the garbage; attach fails the same way', async () => {
      const o = await conformance(['--conflist', conflist({ cniVersion: '1.0.0', name: 'vxb-json', plugins: [{ type: 'invalid-json' }] }), ...bins]);
      expect(o.exitCode).toBe(1);
      expect(o.byId.get('cni/version')!.status).toBe('pass');
      const add = o.byId.get('cni/add-result-valid')!;
      expect(add.status).toBe('fail');
      expect(add.message).toMatch(/^plugin "invalid-json" \(plugins\[0\]\) ADD printed malformed JSON on stdout \(.+\); expected a CNI 1\.0\.0 result; stdout was "ok, added \{interfaces: eth0"$/);
      expect(o.byId.get('cni/add-missing-field-error')!.message).toBe('plugin "invalid-json" ADD without the required "name" field succeeded (exit 0); expected a CNI error');
      expect(o.byId.get('conformance/attach')!.message).toMatch(
        /^CNI ADD of pod node1\/pod1 \(container c\w+-node1-pod1, netns vx-c\w+-conformance-node1-pod1\) failed: plugin "invalid-json" \(plugins\[0\]\) ADD printed malformed JSON on stdout/,
      );
      suitesSkipped(o);
      expect(o.byId.get('conformance/detach')!.status).toBe('pass');
    });

    it('hangs: killed after --plugin-timeout and reported as hung; no plugin process survives', async () => {
      const t0 = Date.now();
      const o = await conformance(['--conflist', conflist({ cniVersion: '1.0.0', name: 'vxb-hang', plugins: [{ type: 'hangs' }] }), ...bins, '--plugin-timeout', '1500']);
      expect(Date.now() - t0).toBeLessThan(60_000);
      expect(o.exitCode).toBe(1);
      expect(o.byId.get('cni/add-result-valid')!.message).toBe('plugin "hangs" (plugins[0]) ADD did not finish within 1500 ms and was killed (hung plugin)');
      expect(o.byId.get('cni/concurrent-add-distinct-ips')!.message).toMatch(/^4 of 4 concurrent ADDs failed; first: vxt-\S+: plugin "hangs" \(plugins\[0\]\) ADD did not finish within 1500 ms/);
      expect(o.byId.get('conformance/attach')!.message).toMatch(/^CNI ADD of pod node1\/pod1 .* failed: plugin "hangs" \(plugins\[0\]\) ADD did not finish within 1500 ms and was killed \(hung plugin\)$/);
      suitesSkipped(o);
      const ps = await run(['pgrep', '-f', 'sleep 100000'], { reject: false });
      expect(ps.stdout.trim()).toBe('');
    });

    it('leaky: cni/del-cleans-up names the interfaces DEL left behind', async () => {
      const o = await conformance(['--conflist', conflist({ cniVersion: '1.0.0', name: 'vxb-leaky', plugins: [{ type: 'leaky', bridge: 'cni0', isGateway: true, ipam: hostLocal() }] }), ...bins]);
      const r = o.byId.get('cni/del-cleans-up')!;
      expect(r.status).toBe('fail');
      expect(r.message).toMatch(/^host-side interface\(s\) left in node netns vx-c\w+-conformance-node1 after DEL: (lk\d+), \1p \(ADD of vxt-\S+ created: \1, \1p, veth[0-9a-f]+\)$/);
      expect(o.exitCode).toBe(1);
    });

    it('dup-ip: the duplicate address is named by cni/concurrent-add-distinct-ips and conformance/attach', async () => {
      const o = await conformance(['--conflist', conflist({ cniVersion: '1.0.0', name: 'vxb-dup', plugins: [{ type: 'bridge', ipam: { type: 'dup-ip', dupAddress: '10.244.1.50/24', dupGateway: '10.244.1.1' } }] }), ...bins]);
      expect(o.byId.get('cni/concurrent-add-distinct-ips')!.message).toMatch(/^duplicate IPs across 4 concurrent ADDs: 10\.244\.1\.50 was given to 4 pods \(vxt-\S+-c\d+, vxt-\S+-c\d+, vxt-\S+-c\d+, vxt-\S+-c\d+\)$/);
      const att = o.byId.get('conformance/attach')!;
      expect(att.status).toBe('fail');
      expect(att.message).toMatch(/^6 pods attached, but: 10\.244\.1\.50 was given to 6 pods \(node1\/pod1, node1\/pod2, node2\/pod1, node2\/pod2, node3\/pod1, node3\/pod2\); node2\/pod1 got 10\.244\.1\.50, outside its node's pod subnet 10\.244\.2\.0\/24/);
      expect(o.exitCode).toBe(1);
    });

    it('ignores-prevresult: the chained ADD is rejected naming what it dropped', async () => {
      const o = await conformance(['--conflist', conflist({ cniVersion: '1.0.0', name: 'vxb-ign', plugins: [{ type: 'bridge', isGateway: true, ipam: hostLocal() }, { type: 'ignores-prevresult' }] }), ...bins]);
      expect(o.byId.get('cni/add-result-valid')!.message).toMatch(
        /^plugin "ignores-prevresult" \(plugins\[1\]\) ADD returned a result that drops prevResult content \(a chained plugin must pass prevResult through\): interfaces\[0\] "cni0" missing; interfaces\[1\] "veth[0-9a-f]+" missing; interfaces\[2\] "eth0" \(sandbox \/var\/run\/netns\/vx-c\w+-conformance-cni\d+\) missing; ips\[0\] 10\.244\.1\.\d+\/24 missing$/,
      );
      expect(o.byId.get('conformance/attach')!.status).toBe('fail');
      suitesSkipped(o);
    });
  });

  it('a failing DEL is reported by conformance/detach and does not keep the namespaces', async () => {
    // a plugin that delegates ADD/CHECK to bridge but fails every DEL of a vxlab pod (not of the cni/* checks' pods)
    const bin = tmp();
    writeFileSync(
      join(bin, 'del-fails'),
      `#!/bin/sh
conf=$(cat)
if [ "$CNI_COMMAND" = DEL ]; then
  case "$CNI_CONTAINERID" in vxt-*) ;; *) echo '{"cniVersion":"1.0.0","code":999,"msg":"del-fails: refusing DEL"}'; exit 1 ;; esac
fi
printf '%s' "$conf" | ${SYS}/bridge
`,
    );
    chmodSync(join(bin, 'del-fails'), 0o755);
    const o = await conformance(['--conflist', conflist({ cniVersion: '1.0.0', name: 'vxb-delf', plugins: [{ type: 'del-fails', bridge: 'cni0', isGateway: true, mtu: 1450, ipam: hostLocal() }] }), '--bin-dir', bin, '--bin-dir', SYS]);
    expect(failing(o).map((r) => r.id), table(o.report.results)).toEqual(['conformance/detach']);
    const d = o.byId.get('conformance/detach')!;
    expect(d.diffs).toHaveLength(6);
    for (const x of d.diffs!) expect(x).toMatch(/^DEL of pod (node\d\/pod\d) \(container c\w+-node\d-pod\d\) failed: plugin "del-fails" \(plugins\[0\]\) DEL failed with CNI error 999 \(.*\): del-fails: refusing DEL$/);
    // reverse ADD order: on every node pod2 is DELed before pod1
    const order = d.diffs!.map((x) => /^DEL of pod (\S+)/.exec(x)![1]!);
    for (const n of ['node1', 'node2', 'node3']) expect(order.indexOf(`${n}/pod2`)).toBeLessThan(order.indexOf(`${n}/pod1`));
    // teardown tried again, said so on stderr, and removed the namespaces anyway (checked in afterEach)
    expect(o.stderr.match(/vxlab: warning: run c\w+: CNI DEL of pod node\d\/pod\d .* failed: .*refusing DEL \(removing the namespaces anyway\)/g)).toHaveLength(6);
    expect(o.exitCode).toBe(1);
  });
});
