// overlay.cni and `vxlab conformance` end to end, with Debian's reference CNI plugins (/usr/lib/cni)
// and the broken plugin fixtures. Needs root (failed, not skipped, without it under CI=true).
// After every case: no vx-<run>- namespace and no state file of that run remain.
import { needsRoot } from '../helpers/root.ts';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../../harness/util/exec.ts';
import { statePath, type RunState } from '../../harness/runtime/state.ts';
import { onTeardown, up } from '../../harness/runtime/lifecycle.ts';
import { attachmentsPath, readAttachments } from '../../harness/overlay/cni-attach.ts';
import { ipJson } from '../../harness/util/exec.ts';
import type { CheckResult, RunReport } from '../../harness/report/types.ts';
import { vxNamespaces } from '../helpers/host.ts';
import { resolveFile, TOPO } from '../helpers/topo.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/vxlab.js');
const BROKEN = join(ROOT, 'test/fixtures/cni/broken');
const SYS = '/usr/lib/cni';

let seq = 0;
const used: string[] = [];
function runId(): string {
  const id = `c${process.pid.toString(36).slice(-4)}${(seq++).toString(36)}`;
  used.push(id);
  return id;
}

afterEach(async () => {
  // every run this file started is gone: namespaces and state file
  for (const id of used.splice(0)) {
    const left = vxNamespaces(`vx-${id}-`);
    const state = existsSync(statePath(id));
    if (left.length || state) await run(['node', BIN, 'down', '--run-id', id], { reject: false });
    expect(left, `namespaces of run ${id}`).toEqual([]);
    expect(state, `state file of run ${id}`).toBe(false);
  }
});

async function vxlab(args: string[], timeoutMs = 180_000) {
  return run(['node', BIN, ...args], { reject: false, cwd: ROOT, timeoutMs });
}

interface Out {
  exitCode: number;
  stderr: string;
  report: RunReport;
  byId: Map<string, CheckResult>;
}

async function conformance(args: string[]): Promise<Out> {
  const id = runId();
  const r = await vxlab(['conformance', '--reporter', 'json', '--run-id', id, ...args]);
  let report: RunReport;
  try {
    report = JSON.parse(r.stdout) as RunReport;
  } catch {
    throw new Error(`conformance printed no JSON report (exit ${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
  }
  expect(report.runId).toBe(id);
  return { exitCode: r.exitCode, stderr: r.stderr, report, byId: new Map(report.results.map((x) => [x.id, x])) };
}

const table = (rs: CheckResult[]) => rs.map((r) => `${r.status.padEnd(4)} ${r.id}: ${r.message ?? ''}`).join('\n');
const failing = (o: Out) => o.report.results.filter((r) => r.status === 'fail');
/** the only skips a healthy 3-node single-segment run has */
// encapsulation/routing-mode: these topologies have no routing mode (every pair tunnelled, judged by the other checks)
const EXPECTED_SKIPS = ['encapsulation/routing-mode', 'mtu/path-mtu', 'connectivity/isolation'];

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'vxlab-conf-'));
}
function conflist(obj: unknown): string {
  const f = join(tmp(), `${(obj as { name?: string }).name ?? 'x'}.conflist`);
  writeFileSync(f, JSON.stringify(obj, null, 2));
  return f;
}
const hostLocal = (subnet = '10.244.0.0/24') => ({ type: 'host-local', ranges: [[{ subnet }]], routes: [{ dst: '0.0.0.0/0' }] });

describe.skipIf(needsRoot)('overlay.cni: vxlab run with CNI-attached pods', () => {
  for (const file of ['cni-bridge.yaml', 'cni-ptp-calico.yaml']) {
    it(`vxlab run topologies/${file}: all four suites pass`, async () => {
      const id = runId();
      const r = await vxlab(['run', `topologies/${file}`, '--run-id', id, '--reporter', 'json']);
      const rep = JSON.parse(r.stdout) as RunReport;
      expect(failing({ report: rep } as Out), table(rep.results)).toEqual([]);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(new Set(rep.results.map((x) => x.suite))).toEqual(new Set(['routes', 'encapsulation', 'mtu', 'connectivity']));
      expect(rep.results.filter((x) => x.status === 'skip').map((x) => x.id)).toEqual(EXPECTED_SKIPS);
      expect(rep.results.find((x) => x.id === 'routes/pod-attachment')!.status).toBe('pass');
    });
  }

  it('up: pods get their addresses, host veths and MTU from the ADD results; down DELs them before removing namespaces', async () => {
    const id = runId();
    const t = resolveFile(TOPO('cni-bridge.yaml'), id);
    const normalized = t.nodes.map((n) => n.pods.map((p) => p.hostIf));
    let seen: { states: string[]; nodeLinks: string[]; ipam: string[] } | undefined;
    // runs after the CNI hook (registered when lifecycle.ts loaded)
    onTeardown(async (s: RunState) => {
      if (s.runId !== id) return;
      const f = readAttachments(s.workDir)!;
      const n1 = t.nodes[0]!;
      const links = await ipJson<{ ifname: string }[]>(n1.ns, ['link', 'show']);
      const ipamDir = join(s.workDir, 'cni', n1.name, 'ipam', 'vxlab-bridge');
      seen = {
        states: f.pods.map((p) => p.state),
        nodeLinks: links.map((l) => l.ifname),
        ipam: existsSync(ipamDir) ? readdirSync(ipamDir).filter((x) => /^\d/.test(x)) : [],
      };
    });
    const r = await up(t, { ephemeral: true });
    try {
      expect(normalized.flat()).toEqual(['v-pod1', 'v-pod2', 'v-pod1', 'v-pod2', 'v-pod1', 'v-pod2']);
      const f = JSON.parse(readFileSync(attachmentsPath(r.state.workDir), 'utf8'));
      // nodes are attached concurrently, the pods of one node in order
      expect(f.pods.map((p: any) => `${p.containerId}:${p.state}`).sort()).toEqual(t.nodes.flatMap((n) => n.pods.map((p) => `${id}-${n.name}-${p.name}:added`)));
      for (const n of t.nodes) expect(f.pods.filter((p: any) => p.node === n.name).map((p: any) => p.pod)).toEqual(['pod1', 'pod2']);
      for (const n of t.nodes) {
        expect(n.bridge?.name).toBe('cni0');
        const nodeLinks = await ipJson<any[]>(n.ns, ['-d', 'link', 'show']);
        for (const p of n.pods) {
          expect(p.hostIf).toMatch(/^veth[0-9a-f]{8}$/);
          const host = nodeLinks.find((l) => l.ifname === p.hostIf);
          expect(host?.master).toBe('cni0');
          const [eth0] = await ipJson<any[]>(p.ns, ['addr', 'show', 'dev', 'eth0']);
          expect(eth0.mtu).toBe(1450);
          expect(p.mtu).toBe(1450);
          const v4 = eth0.addr_info.find((a: any) => a.family === 'inet');
          expect(`${v4.local}/${v4.prefixlen}`).toBe(`${p.ip}/${p.prefixLen}`);
          expect(p.gateway).toBe(n.podSubnet.replace(/0\/24$/, '1'));
        }
        const cni0 = nodeLinks.find((l) => l.ifname === 'cni0');
        expect(cni0?.linkinfo?.info_kind).toBe('bridge');
      }
    } finally {
      await r.down();
    }
    expect(seen).toBeDefined();
    expect(seen!.states).toEqual(Array(6).fill('deleted'));
    expect(seen!.nodeLinks.filter((l) => l.startsWith('veth'))).toEqual([]);
    expect(seen!.ipam).toEqual([]);
  });

  it('a bad conflist in a topology: exit 2 naming the file and field, nothing created', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'bad.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'x', plugins: [{ type: 'bridge' }], extra: 1 }));
    writeFileSync(join(dir, 't.yaml'), 'name: badcni\noverlay:\n  cni:\n    conflist: bad.conflist\nnodes:\n  - { name: n1, pods: 1 }\n');
    const id = runId();
    const r = await vxlab(['run', join(dir, 't.yaml'), '--run-id', id]);
    expect(r.exitCode).toBe(2);
    // located like every other topology error (validate and run reject it alike, before anything is created)
    expect(r.stderr.trim().split('\n').pop()).toMatch(/t\.yaml:4:5: overlay\.cni\.conflist: .*bad\.conflist: extra: unknown top-level field \(allowed: cniVersion, cniVersions, name, disableCheck, disableGC, loadOnlyInlinedPlugins, plugins\)$/);
    expect(vxNamespaces(`vx-${id}-`)).toEqual([]);
  });
});

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
