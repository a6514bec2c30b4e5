// #16: up applies the plan from its own process — sysctls (setns + /proc/sys/net, inns.ts) and every `ip`/`bridge`
// batch line: links (bridge, veth with its peer moved into another namespace, vxlan with all its attributes), link
// settings, addresses, neighbours, routes, FDB entries (rtnetlink, nl-apply.ts) — instead of one ip/bridge/nsenter
// process per namespace. The kernel state must be exactly what the plan's commands build: the same topology is
// brought up both ways (VXLAB_APPLY=processes runs the plan's commands) and every namespace's dumps are compared —
// segments, router, nodes and pods; the root namespace keeps its own values.
// #17: steps reprogram peers the same way (neighbours, FDB entries, routes over rtnetlink; namespaces added and
// deleted as `ip netns` does): every step type applied both ways, on both layouts, leaves the same kernel state.
// The in-process apply tests are split over inproc.test.ts, inproc-up2.test.ts, inproc-steps.test.ts and
// inproc-errors.test.ts (helpers: test/helpers/inproc.ts) so that vitest runs them in parallel workers.
import { afterEach, describe, expect, it } from 'vitest';
import { needsRoot } from '../helpers/root.ts';
import { testRunId } from '../helpers/topo.ts';
import { run, ipJson, bridgeJson } from '../../harness/util/exec.ts';
import { runOp } from '../../harness/runtime/netns/runtime.ts';
import { applyLines } from '../../harness/runtime/netns/nl-apply.ts';
import { up, type Running } from '../../harness/runtime/lifecycle.ts';
import { addFdb, applyEntries, writeSysctls } from '../../harness/runtime/netns/inns.ts';
import { applyAction } from '../../harness/steps/apply.ts';
import { parseIpLine } from '../../harness/runtime/netns/nl.ts';
import { topo, stepTopo } from '../helpers/inproc.ts';

describe.skipIf(needsRoot)('in-process apply (setns + /proc/sys/net + rtnetlink) equals the plan run by processes (root)', () => {
  const live: Running[] = [];
  afterEach(async () => {
    for (const r of live.splice(0).reverse()) await r.down();
  });

  it('errors name the namespace and the entry: a duplicate FDB entry (EEXIST), a missing device, an unknown sysctl; the thread is back home after each', async () => {
    const r = await up(topo(testRunId(), 1000, 'ipv4'), { ephemeral: true });
    live.push(r);
    const [a, b] = r.topology.nodes;
    const dup = { mac: b!.vtep.mac, dev: 'flannel.1', dst: b!.ip };
    expect(() => addFdb(a!.ns, [dup])).toThrow(new RegExp(`netns ${a!.ns}: fdb add ${dup.mac} dev flannel.1 dst ${b!.ip} self permanent: RTNETLINK answers: File exists`));
    expect(() => addFdb(a!.ns, [{ ...dup, dev: 'nosuch0' }])).toThrow(`netns ${a!.ns}: fdb add ${dup.mac} dev nosuch0 dst ${b!.ip} self permanent: Cannot find device "nosuch0"`);
    expect(() => writeSysctls(a!.ns, { 'net.ipv4.conf.nosuch0.forwarding': '1' })).toThrow(`netns ${a!.ns}: sysctl net.ipv4.conf.nosuch0.forwarding=1`);
    // back in the root namespace: the root's links are visible, not the node's
    const rootLinks = (await ipJson<any[]>(undefined, ['link', 'show'])).map((l) => l.ifname);
    expect(rootLinks).not.toContain('flannel.1');
    // a new FDB entry lands in the node only
    addFdb(a!.ns, [{ mac: '02:00:00:00:00:99', dev: 'flannel.1', dst: '192.168.7.99' }]);
    const fdb = await bridgeJson<any[]>(a!.ns, ['fdb', 'show', 'dev', 'flannel.1']);
    expect(fdb.find((f) => f.mac === '02:00:00:00:00:99')).toMatchObject({ dst: '192.168.7.99', state: 'permanent' });
    // a node of a 1,000-node topology: 999 entries in one call (acks overflowed the socket's buffer once: ENOBUFS)
    const many = Array.from({ length: 999 }, (_, k) => ({ mac: `02:00:00:01:${(k >> 8).toString(16).padStart(2, '0')}:${(k & 255).toString(16).padStart(2, '0')}`, dev: 'flannel.1', dst: `192.168.8.${(k % 250) + 1}` }));
    addFdb(b!.ns, many);
    const got = (await bridgeJson<any[]>(b!.ns, ['fdb', 'show', 'dev', 'flannel.1'])).filter((f) => f.mac.startsWith('02:00:00:01:'));
    expect(got.length).toBe(999);

    // ip lines in-process: a failure in the middle of a batch (only a batch's last request asks for an ack) names
    // its own line; the lines before it are applied, nothing after its batch is sent
    const lines = Array.from({ length: 300 }, (_, k) => `neigh add 10.99.${k >> 8}.${k & 255} lladdr 02:00:00:00:00:01 dev flannel.1 nud permanent`);
    lines.splice(200, 0, lines[5]!);
    expect(() => applyLines(a!.ns, 'ip', lines)).toThrow(`netns ${a!.ns}: ip neigh add 10.99.0.5 lladdr 02:00:00:00:00:01 dev flannel.1 nud permanent: RTNETLINK answers: File exists`);
    const n99 = (await ipJson<any[]>(a!.ns, ['neigh', 'show', 'dev', 'flannel.1'])).filter((x) => x.dst.startsWith('10.99.'));
    expect(n99.length).toBe(255); // batch 1 (128) + batch 2 (128 lines, one of them the failing one)
    // the kernel's own words (extended ack) come with the errno
    expect(() => applyLines(a!.ns, 'ip', [`addr add ${a!.ip}/24 dev ${a!.underlayIf}`])).toThrow(/: ip addr add .*: Error: ipv4: Address already assigned\. RTNETLINK answers: File exists/);
    // a device that is not there, a peer namespace that is not there: named, nothing created
    expect(() => applyLines(a!.ns, 'ip', ['link set nosuch0 up'])).toThrow(`netns ${a!.ns}: ip link set nosuch0 up: Cannot find device "nosuch0"`);
    expect(() => applyLines(a!.ns, 'ip', ['link add vq0 type veth peer name vq1 netns vx-nosuch-ns'])).toThrow(`netns ${a!.ns}: ip link add vq0 type veth peer name vq1 netns vx-nosuch-ns: Invalid "netns" value "vx-nosuch-ns"`);
    expect((await ipJson<any[]>(a!.ns, ['link', 'show'])).map((l) => l.ifname)).not.toContain('vq0');
    // a line of a form not modelled in-process: it and the rest of the batch go to ip(8), in order
    await runOp(a!.ns, { kind: 'ip', lines: ['addr add 10.98.0.1/32 dev lo', 'link set lo txqueuelen 5', 'addr add 10.98.0.2/32 dev lo'] });
    const [lo] = await ipJson<any[]>(a!.ns, ['addr', 'show', 'dev', 'lo']);
    expect(lo.txqlen).toBe(5);
    expect(lo.addr_info.map((x: any) => x.local)).toEqual(expect.arrayContaining(['10.98.0.1', '10.98.0.2']));
    // still home: the root namespace has none of it
    expect((await ipJson<any[]>(undefined, ['link', 'show'])).map((l) => l.ifname)).not.toContain('flannel.1');
  });

  it('big batches: every request of every batch failing (999 answers) reports the first line, not a lost ack or ENOBUFS; a failure on the request that carries the ack, or right after it, names that line', async () => {
    const r = await up(topo(testRunId(), 1000, 'ipv4'), { ephemeral: true });
    live.push(r);
    const [a, b] = r.topology.nodes;
    const mac = (k: number) => `02:00:00:02:${(k >> 8).toString(16).padStart(2, '0')}:${(k & 255).toString(16).padStart(2, '0')}`;
    // a node's worth of FDB entries of a 1,000-node topology, applied, then applied again: each of the 999 requests
    // fails (EEXIST); only each batch's last request asks for an ack, the kernel answers every failure anyway
    const fdb = Array.from({ length: 999 }, (_, k) => `fdb add ${mac(k)} dev flannel.1 dst 192.168.9.${(k % 250) + 1} self permanent`);
    expect(applyLines(b!.ns, 'bridge', fdb)).toBe(999);
    expect(() => applyLines(b!.ns, 'bridge', fdb)).toThrow(`netns ${b!.ns}: bridge ${fdb[0]}: RTNETLINK answers: File exists`);
    // the same for neighbours: 999 failing `neigh add` in 8 batches
    const neigh = Array.from({ length: 999 }, (_, k) => `neigh add 10.97.${k >> 8}.${k & 255} lladdr ${mac(k)} dev flannel.1 nud permanent`);
    expect(applyLines(a!.ns, 'ip', neigh)).toBe(999);
    expect(() => applyLines(a!.ns, 'ip', neigh)).toThrow(`netns ${a!.ns}: ip ${neigh[0]}: RTNETLINK answers: File exists`);
    // the failing request is the one that asks for the batch's ack (the 128th): it is named, the 127 before it applied
    const routes = Array.from({ length: 300 }, (_, k) => `route add 10.${96 + (k >> 8)}.${k & 255}.0/24 via 10.97.0.1 dev flannel.1 onlink`);
    const dupAtAck = [...routes.slice(0, 127), routes[3]!, ...routes.slice(127)];
    expect(() => applyLines(a!.ns, 'ip', dupAtAck)).toThrow(`netns ${a!.ns}: ip ${routes[3]}: RTNETLINK answers: File exists`);
    const has = async () => (await ipJson<any[]>(a!.ns, ['route', 'show', 'dev', 'flannel.1'])).filter((x) => /^10\.9[67]\./.test(x.dst)).length;
    expect(await has()).toBe(127);
    // the first request of the next batch failing: the batch before it is applied whole, the failing line named; the
    // rest of its own batch was sent with it (as with ip -batch's requests in flight), nothing after that batch
    const more = Array.from({ length: 400 }, (_, k) => `route add 10.${94 + (k >> 8)}.${k & 255}.0/24 via 10.97.0.1 dev flannel.1 onlink`);
    const dupAfterAck = [...more.slice(0, 128), more[0]!, ...more.slice(128)];
    expect(() => applyLines(a!.ns, 'ip', dupAfterAck)).toThrow(`netns ${a!.ns}: ip ${more[0]}: RTNETLINK answers: File exists`);
    // batch 1: more[0..127]; batch 2: the duplicate and more[128..254]; more[255..] never sent
    expect((await ipJson<any[]>(a!.ns, ['route', 'show', 'dev', 'flannel.1'])).filter((x) => /^10\.9[45]\./.test(x.dst)).length).toBe(255);
  });
});

describe.skipIf(needsRoot)('steps applied in-process equal the same steps applied by processes (root)', () => {
  const live: Running[] = [];
  afterEach(async () => {
    for (const r of live.splice(0).reverse()) await r.down();
  });

  it("a node removed and re-added under its name straight away: the re-add waits for the kernel to drop the old node's underlay port (asynchronous after its namespace went)", async () => {
    const t = stepTopo('flannel-directrouting.yaml', '', testRunId());
    const r = await up(t, { ephemeral: true });
    live.push(r);
    const seg = t.segments.find((x) => x.name === 'rack1')!.ns!;
    // back to back, nothing in between (the kernel takes tens of ms to tear a namespace down: n-node2 outlives it)
    await applyAction(t, r.state, t.steps![0] as never);
    await applyAction(t, r.state, t.steps![1] as never);
    const n2 = t.nodes.find((n) => n.name === 'node2')!;
    expect(n2.ip).toBe('192.168.10.77');
    // operstate follows carrier, which linkwatch sets asynchronously: asked again for up to 5 s
    let port: any;
    for (let i = 0; i < 25; i++) {
      port = (await ipJson<any[]>(seg, ['-d', 'link', 'show', 'dev', n2.segIf]))[0];
      if (port?.operstate === 'UP') break;
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(port).toMatchObject({ master: 'br0', operstate: 'UP' });
    const eth0 = (await ipJson<any[]>(n2.ns, ['addr', 'show', 'dev', 'eth0']))[0];
    expect(eth0.addr_info.map((a: any) => a.local)).toContain('192.168.10.77');
  });

  it('an entry a peer does not have: the step fails naming step, node, netns, the line, the request and the errno; an existing one: EEXIST', async () => {
    const t = stepTopo('flannel-directrouting.yaml', '', testRunId());
    const r = await up(t, { ephemeral: true });
    live.push(r);
    const [n1, , n3] = t.nodes;
    // by hand: node1 loses its route to node3's pods (node3 is in rack2: over VXLAN)
    await run(['ip', '-n', n1!.ns, 'route', 'del', n3!.podSubnet]);
    const last = t.steps![5]!; // remove-node node3, applied on its own
    expect(last).toMatchObject({ action: 'remove-node', node: 'node3' });
    await expect(applyAction(t, r.state, last as never)).rejects.toThrow(
      new RegExp(`^step 6 \\(remove-node node3\\): node1: netns ${n1!.ns}: route del ${n3!.podSubnet.replace(/\./g, '\\.')} dev flannel\\.1: RTNETLINK answers: No such process \\(RTM_DELROUTE: ESRCH\\)$`),
    );
    const dup = parseIpLine(`route add ${t.nodes[1]!.podSubnet} via ${t.nodes[1]!.ip} dev eth0`)!;
    expect(() => applyEntries(n1!.ns, [dup])).toThrow(`netns ${n1!.ns}: route add ${t.nodes[1]!.podSubnet} via ${t.nodes[1]!.ip} dev eth0: RTNETLINK answers: File exists (RTM_NEWROUTE: EEXIST)`);
    // back in the root namespace afterwards
    expect((await ipJson<any[]>(undefined, ['link', 'show'])).map((l) => l.ifname)).not.toContain('flannel.1');
  });
});
