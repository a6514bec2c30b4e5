// overlay.cni: `vxlab run` and `up` with CNI-attached pods, Debian's reference CNI plugins (/usr/lib/cni).
// Needs root (failed, not skipped, without it under CI=true). After every case: no vx-<run>- namespace and no state
// file of that run remain. (`vxlab conformance` is in conformance.test.ts; helpers in test/helpers/conformance.ts.)
import { needsRoot } from '../helpers/root.ts';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunState } from '../../harness/runtime/state.ts';
import { onTeardown, up } from '../../harness/runtime/lifecycle.ts';
import { attachmentsPath, readAttachments } from '../../harness/overlay/cni-attach.ts';
import { ipJson } from '../../harness/util/exec.ts';
import type { RunReport } from '../../harness/report/types.ts';
import { vxNamespaces } from '../helpers/host.ts';
import { resolveFile, TOPO } from '../helpers/topo.ts';
import { EXPECTED_SKIPS, failing, type Out, runId, runsGone, table, tmp, vxlab } from '../helpers/conformance.ts';

afterEach(runsGone);

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
