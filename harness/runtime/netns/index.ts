// runtime: netns — nodes, segments and the router are network namespaces; a segment is a bridge in its own namespace.
import { addrLine, defaultDst, type Stage } from '../../plan/plan.ts';
import type { ResolvedNode, ResolvedTopology } from '../../topology/resolved.ts';
import type { Runtime } from '../types.ts';
import { netnsResolve } from './resolve.ts';
import { createNamespaces } from './runtime.ts';

function nodeNamespaces(t: ResolvedTopology): string[] {
  return [...t.segments.flatMap((s) => (s.ns ? [s.ns] : [])), ...(t.routerNs ? [t.routerNs] : []), ...t.nodes.map((n) => n.ns)];
}

export const netnsRuntime: Runtime = {
  ...netnsResolve,
  name: 'netns',
  attachesNodes: false,
  async prepare() {},
  underlayStage(t) {
    // one bridge per segment; veths to nodes (and to the router) are created from here
    return {
      name: 'underlay',
      steps: t.segments.map((s) => {
        const lines = ['link set lo up', `link add ${s.bridge} mtu ${s.mtu} type bridge`, `link set ${s.bridge} up`];
        for (const n of t.nodes.filter((n) => n.segment === s.name)) {
          lines.push(`link add ${n.segIf} mtu ${s.mtu} type veth peer name ${n.underlayIf} address ${n.underlayMac} mtu ${n.underlayMtu} netns ${n.ns}`);
          lines.push(`link set ${n.segIf} master ${s.bridge} up`);
        }
        if (t.routerNs && s.routerIf && s.segRouterIf) {
          lines.push(`link add ${s.segRouterIf} mtu ${s.routerMtu ?? s.mtu} type veth peer name ${s.routerIf}${s.routerMac ? ` address ${s.routerMac}` : ''} mtu ${s.routerMtu ?? s.mtu} netns ${t.routerNs}`);
          lines.push(`link set ${s.segRouterIf} master ${s.bridge} up`);
        }
        // underlay.ipv6LinkLocal off: no IPv6 on the bridge and its ports, set before any of them exists
        const off = s.ipv6Off ? [{ kind: 'sysctl' as const, settings: { 'net.ipv6.conf.all.disable_ipv6': '1', 'net.ipv6.conf.default.disable_ipv6': '1' } }] : [];
        // a large segment (staticArp): the bridge knows every port's MAC from the start, as a switch that has learned
        // them. With permanent neighbours no ARP ever teaches it, and without IPv6 no link-local chatter either: each
        // first frame to a node would be flooded to every port (at 1,000 nodes the encapsulation capture saw 1,014,000
        // packets for its 8,000), and a learned entry would age out after 300 s of silence
        const members = t.nodes.filter((n) => n.segment === s.name && n.underlayNeighbours);
        const fdb = members.map((n) => `fdb add ${n.underlayMac} dev ${n.segIf} master static`);
        if (members.length && s.routerMac && s.segRouterIf) fdb.push(`fdb add ${s.routerMac} dev ${s.segRouterIf} master static`);
        return { ns: s.ns!, ops: [...off, { kind: 'ip', lines }, ...(fdb.length ? [{ kind: 'bridge' as const, lines: fdb }] : [])] };
      }),
    } satisfies Stage;
  },
  nodeUnderlay(_t, n: ResolvedNode) {
    const a = ['link set lo up', `link set ${n.underlayIf} mtu ${n.underlayMtu} up`, addrLine(n.ip, n.prefixLen, n.underlayIf)];
    if (n.gateway) a.push(`route add ${defaultDst(n.gateway)} via ${n.gateway} dev ${n.underlayIf}`);
    return a;
  },
  routerUnderlay(t) {
    const lines = ['link set lo up'];
    for (const s of t.segments) lines.push(addrLine(s.routerIp!, s.prefixLen, s.routerIf!), `link set ${s.routerIf} up`);
    // a large segment (staticArp): the router's entries for its nodes are permanent, as theirs for it
    for (const s of t.segments) for (const [ip, mac] of s.routerNeighbours ?? []) lines.push(`neigh replace ${ip} lladdr ${mac} dev ${s.routerIf} nud permanent`);
    return lines;
  },
  async createUnderlay() {},
  async createNodes(ctx) {
    await createNamespaces(nodeNamespaces(ctx.t));
  },
  execArgv(state, node, argv) {
    return ['ip', 'netns', 'exec', `${state.prefix}-${state.topology}-${node}`, ...argv];
  },
  async remove() {
    return [];
  },
  async leftovers() {
    return [];
  },
  async removeLeftovers() {},
};
