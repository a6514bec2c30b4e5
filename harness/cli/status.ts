import { parseArgs } from 'node:util';
import type { Command } from './main.ts';
import { EXIT, requireRoot, UsageError } from './common.ts';
import { liveRun } from './target.ts';
import { nsExists } from '../runtime/netns/runtime.ts';
import { isAlive } from '../runtime/state.ts';

const cmd: Command = {
  summary: 'show the nodes, pods, addresses and VTEPs of a running topology',
  usage: 'vxlab status FILE [--run-id ID] [--json]',
  help: 'Lists every node and pod: namespace, addresses, VTEP MAC and address, and the interfaces vxlab created.\n  --json   machine-readable',
  async main(argv) {
    const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { 'run-id': { type: 'string' }, json: { type: 'boolean' } } });
    const file = positionals[0];
    if (!file) throw new UsageError('status: expected FILE');
    requireRoot();
    const { t, state } = liveRun(file, values['run-id']);
    const out = {
      runId: t.runId,
      topology: t.name,
      file: t.file,
      status: state.status,
      createdAt: state.createdAt,
      layout: t.layout,
      runtime: t.runtime,
      segments: t.segments.map((s) => ({ name: s.name, cidr: s.cidr, mtu: s.mtu, ...(s.ns ? { namespace: s.ns, present: nsExists(s.ns) } : {}), ...(s.network ? { network: s.network.name } : {}), interfaces: [s.bridge] })),
      router: t.routerNs ? { namespace: t.routerNs, present: nsExists(t.routerNs), addresses: t.segments.map((s) => `${s.routerIp}/${s.prefixLen}`) } : undefined,
      nodes: t.nodes.map((n) => ({
        name: n.name,
        namespace: n.ns,
        present: nsExists(n.ns),
        ...(n.container ? { container: { name: n.container, id: state.discovered?.[n.name]?.containerId, image: state.discovered?.[n.name]?.image ?? n.image } } : {}),
        addresses: [`${n.ip}/${n.prefixLen}`, `${n.vtep.ip}/32`, ...(n.bridge ? [`${n.bridge.ip}/${n.podPrefixLen}`] : [])],
        podSubnet: n.podSubnet,
        vtep: { kind: n.vtep.kind, device: n.vtep.dev, mac: n.vtep.mac, address: n.vtep.ip, vni: n.vtep.vni, port: n.vtep.port, mtu: n.vtep.mtu },
        interfaces: [n.underlayIf, n.vtep.dev, ...(n.bridge ? [n.bridge.name] : []), ...n.pods.map((p) => p.hostIf)],
        pods: n.pods.map((p) => ({ name: p.name, namespace: p.ns, present: nsExists(p.ns), addresses: [`${p.ip}/${p.prefixLen}`], mtu: p.mtu, interfaces: [p.ifname] })),
      })),
      processes: state.processes.map((p) => ({ ...p, alive: isAlive(p.pid, p.startTime) })),
    };
    if (values.json) {
      console.log(JSON.stringify(out, null, 2));
      return EXIT.OK;
    }
    console.log(`${out.topology} run ${out.runId}: ${out.status} since ${out.createdAt} (runtime ${out.runtime}, layout ${out.layout})`);
    for (const n of out.nodes) {
      console.log(`  ${n.name.padEnd(10)} ${n.present ? 'up  ' : 'GONE'} ${n.namespace}  ${n.addresses[0]}  vtep ${n.vtep.device} ${n.vtep.kind} ${n.vtep.mac} ${n.vtep.address} vni ${n.vtep.vni} port ${n.vtep.port} mtu ${n.vtep.mtu}`);
      if (n.container) console.log(`    container ${n.container.name} ${n.container.id?.slice(0, 12) ?? '?'} image ${n.container.image}`);
      for (const p of n.pods) console.log(`    ${p.name.padEnd(8)} ${p.present ? 'up  ' : 'GONE'} ${p.namespace}  ${p.addresses[0]} mtu ${p.mtu}`);
    }
    return EXIT.OK;
  },
};
export default cmd;
