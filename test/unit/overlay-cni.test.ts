// overlay.cni without the kernel: the plan leaves pod attachment to the plugin chain, per-node conflists,
// reading ADD results back into the resolved topology, input validation and layout choice.
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { plan } from '../../harness/plan/plan.ts';
import {
  applyAttachments,
  attachmentProblems,
  type AttachmentFile,
  CniInputError,
  containerIdFor,
  hostIfFromResult,
  ipv4FromResult,
  layoutForConflist,
  nodeConflist,
  prepareCni,
} from '../../harness/overlay/cni-attach.ts';
import { resolveConformance } from '../../harness/cli/conformance.ts';
import { UsageError } from '../../harness/cli/common.ts';
import type { CniResult, Conflist } from '../../harness/cni/runtime.ts';
import { resolveFile, TOPO } from '../helpers/topo.ts';

const CNI_DIR = TOPO('cni');
const tmp = () => mkdtempSync(join(tmpdir(), 'vxlab-overlay-unit-'));

/** a bin dir with fake executables of these names */
function binDir(...names: string[]): string {
  const d = tmp();
  for (const n of names) {
    writeFileSync(join(d, n), '#!/bin/sh\nexit 0\n');
    chmodSync(join(d, n), 0o755);
  }
  return d;
}

function conflistFile(obj: unknown, name = 'x.conflist'): string {
  const f = join(tmp(), name);
  writeFileSync(f, typeof obj === 'string' ? obj : JSON.stringify(obj));
  return f;
}

const lines = (t: ReturnType<typeof resolveFile>) =>
  plan(t).stages.flatMap((s) => s.steps.flatMap((st) => st.ops.flatMap((o) => ('lines' in o ? o.lines : o.kind === 'sysctl' ? Object.keys(o.settings) : []))));

describe('plan with overlay.cni', () => {
  it('flannel + bridge: no cni0, no pod veths, no pods stage; pod namespaces still created; the overlay unchanged', () => {
    const t = resolveFile(TOPO('cni-bridge.yaml'), 'u1');
    const builtin = resolveFile(TOPO('flannel-3node.yaml'), 'u1');
    const p = plan(t);
    expect(p.stages.map((s) => s.name)).toEqual(['underlay', 'nodes']);
    expect(p.namespaces).toHaveLength(1 + 3 + 6);
    expect(p.namespaces.filter((n) => /-node\d-pod\d$/.test(n))).toHaveLength(6);
    const l = lines(t);
    expect(l.filter((x) => /cni0|type veth peer name eth0 mtu \d+ netns .*-pod/.test(x))).toEqual([]);
    expect(l).toContain(`link add flannel.1 address ${t.nodes[0]!.vtep.mac} mtu 1450 type vxlan id 1 local 192.168.1.2 dev eth0 dstport 4789 nolearning df unset`);
    expect(l).toContain('route add 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink');
    // the built-in plan differs only by the pod attachment
    const norm = (xs: string[], name: string) => xs.map((x) => x.replaceAll(name, 'T').replace(/(address|lladdr|fdb add) \S+/g, '$1 MAC'));
    const withCni = norm(l, 'cni-bridge');
    const builtinLines = norm(lines(builtin), 'flannel-3node');
    expect(withCni.filter((x) => !builtinLines.includes(x))).toEqual([]);
    const removed = builtinLines.filter((x) => !withCni.includes(x));
    expect(removed.filter((x) => !/cni0|v-pod\d|route add default via|^addr add \S+ dev eth0$|^link set eth0 up$/.test(x))).toEqual([]);
    expect(removed.length).toBeGreaterThan(20);
  });

  it('calico + ptp: no cali* veths, no /32 routes, no proxy ARP, no 169.254.1.1 route', () => {
    const t = resolveFile(TOPO('cni-ptp-calico.yaml'), 'u2');
    const p = plan(t);
    expect(p.stages.map((s) => s.name)).toEqual(['underlay', 'nodes']);
    const l = lines(t);
    expect(l.filter((x) => /cali-|proxy_arp|proxy_delay|169\.254/.test(x))).toEqual([]);
    expect(l.some((x) => x.startsWith('link add vxlan.calico '))).toBe(true);
    expect(l).toContain('route add 10.65.0.128/26 via 10.65.0.128 dev vxlan.calico onlink proto 80 mtu 1450');
  });

  it('the plan lists the CNI ADDs that follow the stages (same container ids as the attach)', () => {
    const t = resolveFile(TOPO('cni-bridge.yaml'), 'u10');
    const p = plan(t);
    expect(p.cni?.attach).toHaveLength(6);
    expect(p.cni?.attach[0]).toEqual({ nodeNs: 'vx-u10-cni-bridge-node1', podNs: 'vx-u10-cni-bridge-node1-pod1', containerId: containerIdFor(t, t.nodes[0]!.pods[0]!), ifName: 'eth0' });
    expect(plan(resolveFile(TOPO('flannel-3node.yaml'), 'u10')).cni).toBeUndefined();
  });

  it('resolves the conflist path against the topology file', () => {
    const t = resolveFile(TOPO('cni-bridge.yaml'), 'u3');
    expect(t.cni).toEqual({ binDir: ['/usr/lib/cni', '/opt/cni/bin'], conflist: resolve(CNI_DIR, 'bridge.conflist'), config: undefined });
  });
});

describe('per-node conflist', () => {
  const t = resolveFile(TOPO('cni-bridge.yaml'), 'u4');
  const n2 = t.nodes[1]!;
  const bin = binDir('bridge', 'host-local', 'ptp', 'tuning', 'portmap');

  it('bridge: node subnet injected, mtu = pod MTU, per-run dataDir; the loaded list is not modified', async () => {
    const prep = await prepareCni({ binDir: [bin], conflist: join(CNI_DIR, 'bridge.conflist') });
    const l = nodeConflist(prep, n2, '/run/x/ipam');
    expect(l.plugins[0]).toMatchObject({ type: 'bridge', bridge: 'cni0', isGateway: true, mtu: 1450 });
    expect(l.plugins[0]!.ipam).toMatchObject({ type: 'host-local', dataDir: '/run/x/ipam', ranges: [[{ subnet: '10.244.2.0/24' }]] });
    expect(prep.list.plugins[0]!.mtu).toBeUndefined();
    expect((prep.list.plugins[0]!.ipam as any).dataDir).toBeUndefined();
  });

  it('keeps a user-set mtu; adds isGateway only when unset; keeps the IPv6 range set of a dual-stack list', async () => {
    const f = conflistFile({ cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'bridge', mtu: 1300, isGateway: false, ipam: { type: 'host-local', ranges: [[{ subnet: '10.9.0.0/24' }], [{ subnet: 'fd00:9::/64' }]] } }] });
    const l = nodeConflist(await prepareCni({ binDir: [bin], conflist: f }), n2, '/d');
    expect(l.plugins[0]).toMatchObject({ mtu: 1300, isGateway: false });
    expect((l.plugins[0]!.ipam as any).ranges).toEqual([[{ subnet: '10.244.2.0/24' }], [{ subnet: 'fd00:9::/64' }]]);
    const chain = nodeConflist(await prepareCni({ binDir: [bin], conflist: join(CNI_DIR, 'bridge-tuning-portmap.conflist') }), n2, '/d');
    expect((chain.plugins[0]!.ipam as any).ranges).toEqual([[{ subnet: '10.244.2.0/24' }], [{ subnet: 'fd00:244::/64' }]]);
    expect(chain.plugins.map((p) => p.type)).toEqual(['bridge', 'tuning', 'portmap']);
    expect(chain.plugins[1]!.mtu).toBeUndefined();
  });

  it('ptp (legacy subnet key) gets the subnet and the mtu; a plugin without host-local is left alone', async () => {
    const l = nodeConflist(await prepareCni({ binDir: [bin], conflist: join(CNI_DIR, 'ptp.conflist') }), n2, '/d');
    expect(l.plugins[0]).toMatchObject({ type: 'ptp', mtu: 1450, ipam: { type: 'host-local', subnet: '10.244.2.0/24', dataDir: '/d' } });
    const f = conflistFile({ cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'tuning' }] });
    const prep = await prepareCni({ binDir: [bin], conflist: f });
    expect(prep.hasHostLocal).toBe(false);
    expect(nodeConflist(prep, n2, '/d')).toEqual(prep.list);
  });

  it('containerId from run, node and pod', () => {
    expect(containerIdFor(t, n2.pods[1]!)).toBe('u4-node2-pod2');
  });
});

describe('input validation (before the host changes)', () => {
  const bin = binDir('bridge', 'host-local');
  const err = async (p: Promise<unknown>) => {
    const e = await p.then(() => undefined, (x) => x);
    expect(e).toBeInstanceOf(CniInputError);
    expect(e).toBeInstanceOf(UsageError); // → exit code 2
    return (e as Error).message;
  };

  it('missing conflist', async () => {
    expect(await err(prepareCni({ binDir: [bin], conflist: '/nonexistent/x.conflist' }, '--conflist'))).toBe('--conflist: /nonexistent/x.conflist: file does not exist');
  });
  it('invalid JSON names the file', async () => {
    const f = conflistFile('{"cniVersion": "1.0.0",\n  "name": }');
    expect(await err(prepareCni({ binDir: [bin], conflist: f }, '--conflist'))).toMatch(new RegExp(`^--conflist: ${f}: invalid JSON`));
  });
  it('unknown top-level field names file and field', async () => {
    const f = conflistFile({ cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'bridge' }], bogus: true });
    expect(await err(prepareCni({ binDir: [bin], conflist: f }, '--conflist'))).toMatch(new RegExp(`^--conflist: ${f}: bogus: unknown top-level field \\(allowed: `));
  });
  it('plugin or IPAM plugin not in binDir names file, field and the dirs tried', async () => {
    const f = conflistFile({ cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'bridge' }, { type: 'nosuch' }] });
    expect(await err(prepareCni({ binDir: [bin], conflist: f }, '--conflist'))).toBe(
      `--conflist: ${f}: plugins[1].type: CNI plugin "nosuch" not found in binDirs [${bin}]; tried: ${bin}/nosuch (missing)`,
    );
    const g = conflistFile({ cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'bridge', ipam: { type: 'dhcpx' } }] });
    expect(await err(prepareCni({ binDir: [bin], conflist: g }, '--conflist'))).toMatch(new RegExp(`^--conflist: ${g}: plugins\\[0\\]\\.ipam\\.type: CNI plugin "dhcpx" not found`));
  });
  it('inline config is validated too', async () => {
    expect(await err(prepareCni({ binDir: [bin], config: { cniVersion: '1.0.0', name: 'n' } }, 't.yaml: overlay.cni'))).toBe(
      't.yaml: overlay.cni: t.yaml: overlay.cni.config: plugins: missing (required; loading plugin configurations from a directory is not supported by this runtime)',
    );
  });
  it('conformance: usage errors and bad --bin-dir', async () => {
    await expect(resolveConformance([])).rejects.toThrow('conformance: expected --conflist FILE');
    await expect(resolveConformance(['--conflist', join(CNI_DIR, 'bridge.conflist'), '--reporter', 'xml'])).rejects.toThrow(/--reporter xml: unknown reporter/);
    expect(await err(resolveConformance(['--conflist', join(CNI_DIR, 'bridge.conflist'), '--bin-dir', '/nonexistent-bin']))).toBe('--bin-dir /nonexistent-bin: /nonexistent-bin is not a directory');
  });
});

describe('conformance: layout from the conflist', () => {
  const bin = binDir('bridge', 'host-local', 'ptp', 'tuning', 'portmap');
  it('ptp → calico, bridge chain → flannel, --topology keeps its own layout', async () => {
    const ptp = await resolveConformance(['--conflist', join(CNI_DIR, 'ptp.conflist'), '--bin-dir', bin, '--run-id', 'u5']);
    expect(ptp.t.layout).toBe('calico');
    expect(ptp.t.nodes.map((n) => n.vtep.dev)).toEqual(['vxlan.calico', 'vxlan.calico', 'vxlan.calico']);
    expect(ptp.t.nodes.map((n) => n.pods.length)).toEqual([2, 2, 2]);
    expect(ptp.t.cni).toEqual({ binDir: [bin], conflist: join(CNI_DIR, 'ptp.conflist'), config: undefined });
    const chain = await resolveConformance(['--conflist', join(CNI_DIR, 'bridge-tuning-portmap.conflist'), '--bin-dir', bin, '--run-id', 'u6']);
    expect(chain.t.layout).toBe('flannel');
    const forced = await resolveConformance(['--conflist', join(CNI_DIR, 'ptp.conflist'), '--bin-dir', bin, '--topology', TOPO('flannel-3node.yaml'), '--run-id', 'u7']);
    expect(forced.t.layout).toBe('flannel');
    expect(forced.t.cni?.conflist).toBe(join(CNI_DIR, 'ptp.conflist'));
    expect(layoutForConflist({ cniVersion: '1.0.0', name: 'x', plugins: [{ type: 'macvlan' }] })).toBe('flannel');
  });
});

describe('ADD results → resolved topology', () => {
  const bridgeResult: CniResult = {
    cniVersion: '1.0.0',
    interfaces: [{ name: 'cni0', mac: '02:00:00:00:00:01' }, { name: 'veth1234abcd', mac: '02:00:00:00:00:02' }, { name: 'eth0', mac: '02:00:00:00:00:03', sandbox: '/var/run/netns/p' }],
    ips: [{ address: 'fd00::5/64', gateway: 'fd00::1', interface: 2 }, { address: '10.244.2.7/24', gateway: '10.244.2.1', interface: 2 }],
  } as CniResult;

  it('host-side interface: no sandbox, not the bridge; IPv4 address/prefix/gateway', () => {
    expect(hostIfFromResult(bridgeResult, 'cni0')).toBe('veth1234abcd');
    expect(hostIfFromResult({ cniVersion: '1.0.0', interfaces: [{ name: 'veth9', mac: 'x' }, { name: 'eth0', sandbox: '/n' }] } as CniResult)).toBe('veth9');
    expect(hostIfFromResult({ cniVersion: '1.0.0' } as CniResult)).toBeUndefined();
    expect(ipv4FromResult(bridgeResult)).toEqual({ ip: '10.244.2.7', prefixLen: 24, gateway: '10.244.2.1' });
  });

  it('applyAttachments replaces normalize\'s guesses; the bridge follows the host veths\' master', () => {
    const t = resolveFile(TOPO('cni-ptp-calico.yaml'), 'u8');
    const f: AttachmentFile = {
      kind: 'vxlab-cni-attachments-v1',
      binDirs: [],
      timeoutMs: 1,
      nodes: t.nodes.map((n) => ({ node: n.name, nodeNs: n.ns, dir: '/d', conflist: { cniVersion: '1.0.0', name: 'x', plugins: [{ type: 'ptp' }] } as Conflist })),
      pods: t.nodes.flatMap((n, i) =>
        n.pods.map((p, j) => ({
          node: n.name,
          pod: p.name,
          ns: p.ns,
          containerId: 'c',
          ifName: 'eth0',
          state: 'added' as const,
          attached: { ip: `10.65.0.${64 * (i + 1) + 10 + j}`, prefixLen: 26, gateway: `10.65.0.${64 * (i + 1) + 1}`, hostIf: `veth${i}${j}`, mtu: 1450 },
        })),
      ),
    };
    applyAttachments(t, f);
    expect(t.nodes[1]!.pods[1]).toMatchObject({ ip: '10.65.0.139', prefixLen: 26, gateway: '10.65.0.129', hostIf: 'veth11', mtu: 1450 });
    expect(t.nodes[1]!.bridge).toBeUndefined();
    expect(attachmentProblems(t)).toEqual([]);
    for (const a of f.pods) a.attached!.hostMaster = 'cni0';
    applyAttachments(t, f);
    expect(t.nodes[0]!.bridge).toMatchObject({ name: 'cni0', ip: '10.65.0.65' });
  });

  it('attachmentProblems: duplicate addresses and addresses outside the node subnet', () => {
    const t = resolveFile(TOPO('cni-bridge.yaml'), 'u9');
    for (const p of t.nodes.flatMap((n) => n.pods)) p.ip = '10.244.1.50';
    const pr = attachmentProblems(t);
    expect(pr[0]).toBe('10.244.1.50 was given to 6 pods (node1/pod1, node1/pod2, node2/pod1, node2/pod2, node3/pod1, node3/pod2)');
    expect(pr).toContain("node3/pod2 got 10.244.1.50, outside its node's pod subnet 10.244.3.0/24 (the overlay routes 10.244.3.0/24 to node3)");
    expect(pr).toHaveLength(1 + 4);
  });
});
